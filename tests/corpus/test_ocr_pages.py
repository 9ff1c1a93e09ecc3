"""OCR of a rendered page (rapidocr): the same layout reading as a text layer, and a cache by page hash."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

pytest.importorskip("rapidocr_onnxruntime")
pytest.importorskip("pypdfium2")
pytest.importorskip("reportlab")

from rag.config import Settings
from rag.corpus import load_path, paged

from tests.corpus.test_pdf_layout import ISSUE, _bench


@pytest.fixture(scope="module")
def scan(tmp_path_factory):
    """The top of page 1 of a generated issue (masthead and the first story), rendered at 144 dpi."""
    from PIL import Image

    make = _bench("make_test_pdfs")
    out = tmp_path_factory.mktemp("scan")
    pdf, pages = make.make_issue(ISSUE, out, columns=4)
    [first, *_] = make.render_pages(pdf, out)
    import pypdfium2 as pdfium

    from rag.corpus.loaders_pdf import page_rules

    doc = pdfium.PdfDocument(str(pdf))
    across = sorted(r.y0 for r in page_rules(doc[0]) if r.horizontal and r.x1 - r.x0 > 500)
    doc.close()
    image = Image.open(first)
    top = out / "top.png"
    image.crop((0, 0, image.width, int(across[1] * 2) + 4)).save(top)  # down to the rule under the first story
    return top, pages[0].articles[0]


def test_scanned_page_reads_like_the_text_layer_and_is_cached(scan, tmp_path):
    top, printed = scan
    score = _bench("bench_pdf_extract")
    seen = []
    settings = replace(Settings(), cache_dir=tmp_path / "cache")
    with paged.reading(settings, lambda *a: seen.append(a)):
        docs = load_path(top)
        again = load_path(top)
    assert seen == [("top.png", 1, 1, "ocr"), ("top.png", 1, 1, "ocr (cached)")]  # never OCR a page twice
    assert [d.text for d in again] == [d.text for d in docs]
    assert len(list((tmp_path / "cache" / "ocr").glob("*.json"))) == 1
    [doc] = [d for d in docs if d.title == printed.title]
    assert score.accuracy(score.norm(printed.body), score.norm(doc.text)) >= 0.9
    assert doc.newspaper == "株洲日报" and doc.date == "2024-06-01" and doc.page == 1
    cached = json.loads(next((tmp_path / "cache" / "ocr").glob("*.json")).read_text(encoding="utf-8"))
    assert cached["lines"] and {"text", "x0", "y0", "x1", "y1", "size", "kind"} <= set(cached["lines"][0])
    assert any(r["x1"] - r["x0"] > 1000 for r in cached["rules"])  # the rules under the masthead and the story
