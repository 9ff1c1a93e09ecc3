"""PDF pages: reading order, headlines, captions and masthead on generated newspaper pages; bad PDFs and images."""

from __future__ import annotations

import struct
import zlib
from dataclasses import replace
from pathlib import Path

import pytest

pytest.importorskip("pypdfium2")
pytest.importorskip("reportlab")

from rag.config import Settings
from rag.corpus import load_path, paged, segment_document
from rag.corpus.layout import Line, read_page
from rag.corpus.loaders_pdf import read_pdf_layouts
from rag.errors import InputError
from tests.bench_scripts import load as _bench

ROOT = Path(__file__).resolve().parents[2]
ISSUE = ROOT / "data" / "corpus" / "004_a03633453cf80aeb.txt"


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    make = _bench("make_test_pdfs")
    out = tmp_path_factory.mktemp("pdfs")
    pdf, pages = make.make_issue(ISSUE, out, columns=4)
    return pdf, pages


def test_articles_come_out_whole_and_in_reading_order(generated):
    pdf, pages = generated
    score = _bench("bench_pdf_extract")
    layouts = read_pdf_layouts(pdf)
    assert [n for n, _, how in layouts] == [p.number for p in pages] and {how for _, _, how in layouts} == {"text"}
    for (number, layout, _), page in zip(layouts, pages):
        printed = [{"title": a.title, "paragraphs": a.paragraphs} for a in page.articles]
        got = [(a.title, a.body) for a in layout.articles]
        result = score.score_page(printed, got, "")
        assert min(result["articles"]) >= 0.97, (number, result)
        assert result["boundaries"] == 1.0 and result["order"] >= 0.97
        assert (layout.newspaper, layout.date, layout.label) == ("株洲日报", "2024-06-01", number)


def test_a_plain_row_by_row_extraction_interleaves_the_columns(generated):
    pdf, pages = generated
    score = _bench("bench_pdf_extract")
    from rag.corpus.layout import lines_from_glyphs, plain_text
    from rag.corpus.loaders_pdf import page_glyphs
    import pypdfium2 as pdfium

    doc = pdfium.PdfDocument(str(pdf))
    glyphs, _, _ = page_glyphs(doc[0])
    doc.close()
    printed = [{"title": a.title, "paragraphs": a.paragraphs} for a in pages[0].articles]
    assert score.score_page(printed, [], plain_text(lines_from_glyphs(glyphs)))["plain_order"] < 0.5


def test_vertical_headline_caption_and_masthead_stay_out_of_the_bodies(generated):
    pdf, pages = generated
    vertical = next(a for p in pages for a in p.articles if a.vertical)
    photo = next(a for p in pages for a in p.articles if a.caption)
    docs = load_path(pdf)
    titles = [d.title for d in docs]
    assert vertical.title in titles  # read top to bottom as one headline
    caption = photo.caption.replace(" ", "")
    captions = [d for d in docs if caption in d.text.replace(" ", "")]
    for doc in docs:
        assert "株洲日报 第" not in doc.text and "责任编辑" not in doc.text and "星期六" not in doc.text
        assert doc.newspaper == "株洲日报" and doc.date == "2024-06-01" and doc.page in (1, 2)
    # the caption is a passage of its own, under its story's headline, and in no story's body
    assert len(captions) == 1 and captions[0].text.replace(" ", "") == caption and captions[0].title == photo.title
    photo_doc = next(d for d in docs if d.title == photo.title and d is not captions[0])
    assert "图为" not in photo_doc.text
    articles = segment_document(photo_doc)
    assert len(articles) == 1 and articles[0].page == photo_doc.page and articles[0].bbox


def test_side_by_side_headlines_belong_to_their_own_columns():
    # two stories side by side, headlines on one row: never read as one headline over both bodies
    lines = [
        Line("左边的标题", 10, 210, 110, 230, 20),
        Line("右边的标题", 210, 210, 310, 230, 20),
    ]
    for i in range(6):
        lines.append(Line("左栏正文第" + "一二三四五六"[i] + "行。", 10, 240 + 15 * i, 150, 251 + 15 * i, 10))
        lines.append(Line("右栏正文第" + "一二三四五六"[i] + "行。", 210, 240 + 15 * i, 350, 251 + 15 * i, 10))
    layout = read_page(lines, 400, 2000)
    assert [a.title for a in layout.articles] == ["左边的标题", "右边的标题"]
    assert all(a.body.startswith(a.title[0] + "栏正文第一行。") for a in layout.articles)


# --- bad input: one reason each ---------------------------------------------------------


def _limits(**changes):
    return paged.reading(replace(Settings(), **changes))


def test_encrypted_pdf_is_refused(tmp_path):
    from reportlab.pdfgen import canvas

    path = tmp_path / "secret.pdf"
    c = canvas.Canvas(str(path), encrypt="password")
    c.drawString(100, 100, "secret")
    c.save()
    with pytest.raises(InputError, match="encrypted"):
        load_path(path)


def test_truncated_and_corrupt_pdfs_are_refused(generated, tmp_path):
    pdf, _ = generated
    cut = tmp_path / "cut.pdf"
    cut.write_bytes(pdf.read_bytes()[: pdf.stat().st_size // 2])
    with pytest.raises(InputError, match="truncated"):
        load_path(cut)
    junk = tmp_path / "junk.pdf"
    junk.write_bytes(b"%PDF-1.4\n" + bytes(range(256)) * 20 + b"\n%%EOF\n")
    with pytest.raises(InputError, match="damaged"):
        load_path(junk)


def test_page_limit(generated):
    pdf, pages = generated
    assert len(pages) >= 2
    with _limits(max_pdf_pages=1), pytest.raises(InputError, match="pages is over the limit of 1"):
        load_path(pdf)


def _bomb(path: Path, expanded: int) -> Path:
    stream = zlib.compress(b"\0" * expanded, 9)
    body = (b"%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n"
            b"2 0 obj << /Type /Pages /Kids [3 0 R] /Count 1 >> endobj\n"
            b"3 0 obj << /Type /Page /Parent 2 0 R /MediaBox [0 0 100 100] /Contents 4 0 R >> endobj\n"
            + f"4 0 obj << /Length {len(stream)} /Filter /FlateDecode >>\nstream\n".encode() + stream
            + b"\nendstream endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n")
    path.write_bytes(body)
    return path


def test_pdf_bomb_is_refused_without_expanding_it(tmp_path):
    bomb = _bomb(tmp_path / "bomb.pdf", 8 * 2**20)  # 8 MB of zeros in a few KB
    assert bomb.stat().st_size < 100_000
    with _limits(max_pdf_stream_bytes=2**20), pytest.raises(InputError, match="PDF bomb"):
        load_path(bomb)


def test_pdf_without_text_and_ocr_off(tmp_path):
    from PIL import Image
    from reportlab.pdfgen import canvas

    image = tmp_path / "blank.png"
    Image.new("L", (200, 300), 255).save(image)
    path = tmp_path / "scan.pdf"
    c = canvas.Canvas(str(path))
    c.drawImage(str(image), 0, 0, 595, 842)
    c.save()
    with _limits(ocr="off"), pytest.raises(InputError, match="no text layer.*OCR is off"):
        load_path(path)


def _png_header_only(path: Path, width: int, height: int) -> Path:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0")) + chunk(b"IEND", b""))
    return path


def test_huge_image_is_refused_before_decoding(tmp_path):
    huge = _png_header_only(tmp_path / "huge.png", 20_000, 20_000)
    with pytest.raises(InputError, match="20000 × 20000 pixels is over the limit"):
        load_path(huge)
