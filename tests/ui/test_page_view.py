"""A cited passage drawn on its page: the highlighted lines print that passage, on a text-layer
PDF and on a scan of the same page (OCR), judged by the PDF's own text under the boxes
(read by PDFium, not by the layout reader that found them)."""

from __future__ import annotations

import io
from dataclasses import replace
from pathlib import Path

import pytest

pytest.importorskip("pypdfium2")
pytest.importorskip("reportlab")

from rag.corpus import paged
from rag.errors import InputError
from rag.text.features import bigrams, containment
from rag.ui.page_view import DISPLAY_SCALE, page_view

from tests.corpus.test_pdf_layout import ISSUE, _bench

measure = _bench("bench_page_highlight")  # passages(): ingest's chunks of a file; printed_under(): the PDF's text in boxes
passages, printed_under = measure.passages, measure.printed_under


def tinted(png: bytes, box, scale: float) -> bool:
    """Whether the paper inside ``box`` (times ``scale``) is tinted the highlight's yellow."""
    from PIL import Image

    image = Image.open(io.BytesIO(png)).convert("RGB")
    x0, y0, x1, y1 = (round(v * scale) for v in box)
    crop = image.crop((x0, y0, x1, y1))
    pixels = [crop.getpixel((x, y)) for x in range(crop.width) for y in range(crop.height)]
    paper = [(r, g, b) for r, g, b in pixels if r > 230]  # not the ink
    yellow = [p for p in paper if p[0] - p[2] > 60]
    return len(paper) > 0 and len(yellow) >= 0.9 * len(paper)


@pytest.fixture(scope="module")
def issue_pdf(tmp_path_factory):
    make = _bench("make_test_pdfs")
    pdf, _ = make.make_issue(ISSUE, tmp_path_factory.mktemp("pdf"), columns=4)
    return pdf


def test_the_highlighted_lines_of_a_text_page_print_the_passage(issue_pdf, base_settings):
    limits = paged.PageLimits.from_settings(base_settings)
    chunks = passages(issue_pdf, base_settings)
    assert len(chunks) >= 10 and all(c.page and c.bbox for c in chunks)
    for chunk in chunks:
        view = page_view(issue_pdf, chunk.page, chunk.text, tuple(chunk.bbox), limits)
        under = printed_under(issue_pdf, chunk.page, view.boxes)
        # all of the passage is marked, and what is marked is the passage (give or take the
        # neighbours' words on its first and last line)
        assert containment(bigrams(chunk.text), bigrams(under)) >= 0.95, chunk.text[:40]
        assert containment(bigrams(under), bigrams(chunk.text)) >= 0.85, chunk.text[:40]
        assert tinted(view.png, view.boxes[len(view.boxes) // 2], DISPLAY_SCALE)


@pytest.mark.integration
def test_a_scanned_page_is_highlighted_from_its_ocr_lines(issue_pdf, base_settings, tmp_path):
    pytest.importorskip("rapidocr_onnxruntime")
    from PIL import Image

    make = _bench("make_test_pdfs")
    [page_png] = make.render_pages(issue_pdf, tmp_path)[:1]  # page 1 at 144 dpi: 2 pixels per point
    image = Image.open(page_png)
    scan = tmp_path / "scan.png"
    image.crop((0, 0, image.width, image.height // 2)).save(scan)  # the top half: less to OCR
    settings = replace(base_settings, cache_dir=tmp_path / "cache")
    chunks = [c for c in passages(scan, settings) if len(c.text) >= 60]
    assert chunks
    limits = paged.PageLimits.from_settings(settings)
    for chunk in chunks:
        view = page_view(scan, 1, chunk.text, tuple(chunk.bbox), limits)  # OCR lines from the cache
        under = printed_under(issue_pdf, 1, view.boxes, per_point=2.0)
        assert containment(bigrams(chunk.text), bigrams(under)) >= 0.85, chunk.text[:40]
        assert containment(bigrams(under), bigrams(chunk.text)) >= 0.75, chunk.text[:40]
        assert tinted(view.png, view.boxes[len(view.boxes) // 2], view.width / image.width)  # wide scans are scaled down


def test_a_page_that_is_not_there_is_a_one_line_error(issue_pdf, base_settings):
    limits = paged.PageLimits.from_settings(base_settings)
    with pytest.raises(InputError, match="has no page 99"):
        page_view(issue_pdf, 99, "正文", None, limits)
