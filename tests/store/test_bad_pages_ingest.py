"""Bad PDFs, images and web pages in an ingest: each one line in the summary, the rest of the ingest intact."""

from __future__ import annotations

import importlib.util
import sys
from dataclasses import replace
from pathlib import Path

import pytest

pytest.importorskip("pypdfium2")
pytest.importorskip("reportlab")

from rag.config import Settings
from rag.store import ingest

HERE = Path(__file__).resolve().parent


def _module(path: Path, name: str):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


class FakeEmbeddings:
    model_id = "fake"
    dimension = 4

    def encode_passages(self, texts, batch_size=32):
        import numpy as np

        return np.ones((len(texts), 4), np.float32) / 2


def test_each_bad_file_is_one_line_and_the_good_pdf_is_indexed(tmp_path):
    pages = _module(HERE.parent / "corpus" / "test_pdf_layout.py", "pdf_layout_tests")
    make = pages._bench("make_test_pdfs")
    folder = tmp_path / "in"
    make.make_issue(Path(pages.ISSUE), folder, columns=3)  # 004_….pdf: two pages, text layer
    (folder / "004_a03633453cf80aeb.truth.json").unlink()
    good = folder / "004_a03633453cf80aeb.pdf"

    from reportlab.pdfgen import canvas

    c = canvas.Canvas(str(folder / "secret.pdf"), encrypt="pw")
    c.drawString(100, 100, "x")
    c.save()
    (folder / "cut.pdf").write_bytes(good.read_bytes()[:3000])
    pages._bomb(folder / "bomb.pdf", 4 * 2**20)
    pages._png_header_only(folder / "huge.png", 20_000, 20_000)
    (folder / "menu.html").write_text("<html><body><nav><a href='/'>首页</a></nav></body></html>", encoding="utf-8")
    from PIL import Image

    blank = tmp_path / "blank.png"
    Image.new("L", (100, 100), 255).save(blank)
    c = canvas.Canvas(str(folder / "scan.pdf"))
    c.drawImage(str(blank), 0, 0, 595, 842)
    c.save()

    settings = replace(Settings(), index_dir=tmp_path / "index", upload_dir=tmp_path / "up", cache_dir=tmp_path / "cache",
                       max_pdf_stream_bytes=2**20, ocr="off")
    seen = []
    report = ingest([folder], settings, embeddings=FakeEmbeddings(), progress=lambda *a: seen.append(a))
    assert report.new == [good.name] and report.articles >= 4
    failed = report.failed
    assert set(failed) == {"secret.pdf", "cut.pdf", "bomb.pdf", "huge.png", "menu.html", "scan.pdf"}
    assert "encrypted" in failed["secret.pdf"] and "truncated" in failed["cut.pdf"]
    assert "PDF bomb" in failed["bomb.pdf"] and "20000 × 20000 pixels" in failed["huge.png"]
    assert "no article" in failed["menu.html"] and "OCR is off" in failed["scan.pdf"]
    assert all("\n" not in reason for reason in failed.values())
    assert ("page", 1, 2) in seen and ("page", 2, 2) in seen  # progress per page
    summary = report.summary()
    assert "failed: secret.pdf: secret.pdf: the PDF is encrypted" in summary


def test_page_limit_in_an_ingest(tmp_path):
    pages = _module(HERE.parent / "corpus" / "test_pdf_layout.py", "pdf_layout_tests")
    make = pages._bench("make_test_pdfs")
    make.make_issue(Path(pages.ISSUE), tmp_path / "in", columns=4)
    settings = replace(Settings(), index_dir=tmp_path / "index", upload_dir=tmp_path / "up", max_pdf_pages=1)
    report = ingest([tmp_path / "in" / "004_a03633453cf80aeb.pdf"], settings, embeddings=FakeEmbeddings())
    assert "2 pages is over the limit of 1" in report.failed["004_a03633453cf80aeb.pdf"]
