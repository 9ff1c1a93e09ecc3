"""PDF files and page images (PNG, JPEG, TIFF): newspaper pages read into articles.

A page with a text layer is read from its characters' positions (pypdfium2); a page
without one, and every page image, is read by OCR (:mod:`rag.corpus.ocr`). Either way
:mod:`rag.corpus.layout` rebuilds the reading order and splits the page into articles.
Each article becomes one :class:`SourceDocument` carrying its page number, its headline
as title and the masthead's paper name and date; it is cleaned and chunked like any
other document and never split again.

Refused, each with a one-line reason (an :class:`InputError`): an encrypted, damaged
or truncated PDF, one with more pages than ``max_pdf_pages``, one whose compressed
streams expand past ``max_pdf_stream_bytes`` (a "PDF bomb"), an image (or a page to
OCR) over ``max_image_pixels``, and a PDF without text when OCR is off.
"""

from __future__ import annotations

import re
import zlib
from dataclasses import dataclass
from pathlib import Path

from rag.corpus import paged
from rag.corpus.layout import Glyph, Line, PageLayout, Rule, lines_from_glyphs, read_page
from rag.corpus.loaders import read_bytes, register_loader
from rag.errors import InputError
from rag.records import SourceDocument
from rag.text.chars import COMPARED_RUN

OCR_SCALE = 2.0  # pages without text are rendered at 144 dpi for OCR
MIN_TEXT_CHARS = 20  # a page with fewer characters in its text layer counts as scanned
MIN_CAPTION_CHARS = 4  # letters and digits; fewer is a speck or a stray mark OCR read in small type


def documents_from_layout(name: str, page: int, layout: PageLayout, encoding: str) -> list[SourceDocument]:
    """One document per article of the page (page number ``page``, 1-based), then one per
    photo caption (titled by its article's headline): kept out of the bodies, still searchable."""
    docs = []
    captions = [c for c in layout.captions if len("".join(COMPARED_RUN.findall(c.body))) >= MIN_CAPTION_CHARS]
    for article in layout.articles + captions:
        if not article.body.strip() and not article.title:
            continue
        docs.append(
            SourceDocument(
                source=name,
                text=article.body or (article.title or ""),
                title=article.title,
                date=layout.date,
                newspaper=layout.newspaper,
                encoding=encoding,
                page=page,
                bbox=article.bbox,
            )
        )
    return docs


# --- PDF ---------------------------------------------------------------------------------

_STREAM = re.compile(rb"stream\r?\n")
_FLATE = re.compile(rb"/FlateDecode|/Fl\b")


def check_streams(data: bytes, limit: int, name: str) -> None:
    """Refuse a PDF whose Flate streams expand past ``limit`` bytes in all (decompressed in bounded pieces)."""
    total = 0
    for m in _STREAM.finditer(data):
        header = data[max(0, m.start() - 400) : m.start()]
        if not _FLATE.search(header):
            continue
        inflater = zlib.decompressobj()
        pending = data[m.end() :]
        try:
            while pending and not inflater.eof:
                out = inflater.decompress(pending, 1 << 20)
                total += len(out)
                if total > limit:
                    raise InputError(
                        f"{name}: its compressed streams expand to over {limit // 2**20} MB "
                        "(a 'PDF bomb'?); limit max_pdf_stream_bytes (RAG_MAX_PDF_STREAM_BYTES)"
                    )
                pending = inflater.unconsumed_tail
                if not out and not pending:
                    break
        except zlib.error:
            continue  # a damaged stream: the PDF library says whether the file can be read


def _open_pdf(data: bytes, name: str, limits: paged.PageLimits):
    import pypdfium2 as pdfium
    import pypdfium2.raw as raw

    if not data.lstrip()[:1024].startswith(b"%PDF") and b"%PDF-" not in data[:1024]:
        raise InputError(f"{name}: not a PDF (no %PDF header)")
    if b"%%EOF" not in data[-2048:]:
        raise InputError(f"{name}: the PDF is truncated (no end-of-file marker); it may have been cut off in a download")
    check_streams(data, limits.max_stream_bytes, name)
    try:
        doc = pdfium.PdfDocument(data)
    except pdfium.PdfiumError as exc:
        code = getattr(exc, "err_code", None)
        if code == raw.FPDF_ERR_PASSWORD:
            raise InputError(f"{name}: the PDF is encrypted (password protected); save an unprotected copy") from None
        if code == raw.FPDF_ERR_SECURITY:
            raise InputError(f"{name}: the PDF uses an unsupported security handler") from None
        raise InputError(f"{name}: the PDF is damaged and cannot be read ({exc})") from None
    pages = len(doc)
    if pages > limits.max_pages:
        doc.close()
        raise InputError(f"{name}: {pages} pages is over the limit of {limits.max_pages} (max_pdf_pages, RAG_MAX_PDF_PAGES)")
    if pages == 0:
        doc.close()
        raise InputError(f"{name}: the PDF has no pages")
    return doc


def page_glyphs(page) -> tuple[list[Glyph], float, float]:
    """The characters of a pypdfium2 page with loose boxes (top-down coordinates) and font sizes."""
    import pypdfium2.raw as raw

    width, height = page.get_size()
    textpage = page.get_textpage()
    glyphs = []
    try:
        for i in range(textpage.count_chars()):
            code = raw.FPDFText_GetUnicode(textpage, i)
            if code in (0, 0xFFFE, 0xFFFF):
                continue
            ch = chr(code)
            if not ch.strip():
                continue
            left, bottom, right, top = textpage.get_charbox(i, loose=True)
            size = raw.FPDFText_GetFontSize(textpage, i)
            glyphs.append(Glyph(ch, left, height - top, right, height - bottom, float(size)))
    finally:
        textpage.close()
    return glyphs, width, height


def page_rules(page) -> list[Rule]:
    """Thin paths (ruling lines) of a page, in top-down coordinates."""
    import pypdfium2.raw as raw

    _, height = page.get_size()
    rules = []
    for obj in page.get_objects(filter=[raw.FPDF_PAGEOBJ_PATH], max_depth=2):
        left, bottom, right, top = obj.get_bounds()
        w, h = right - left, top - bottom
        if (h <= 3 and w >= 20) or (w <= 3 and h >= 20):
            rules.append(Rule(left, height - top, right, height - bottom))
    return rules


@dataclass
class PageLines:
    """A page's text lines as ingest reads them, in the page's own coordinates.

    For a text layer the coordinates are PDF points and ``scan`` is None; for a page read
    by OCR they are pixels of ``scan``, the image OCR read.
    """

    lines: list[Line]
    rules: list[Rule]
    width: float
    height: float
    how: str  # "text", "ocr" or "ocr (cached)"
    scan: object | None = None  # a PIL image

    def layout(self) -> PageLayout:
        return read_page(self.lines, self.width, self.height, self.rules)


def open_pdf(path: Path, limits: paged.PageLimits):
    """A pypdfium2 document, refused with a one-line :class:`InputError` when it cannot or should not be read."""
    return _open_pdf(read_bytes(path), path.name, limits)


def read_pdf_page(page, name: str, limits: paged.PageLimits, *, last_page: bool = True) -> PageLines | None:
    """One page's lines: from its text layer, or by OCR when it has none.

    A page without text when OCR is off is skipped (None), unless it is the only page
    (``last_page`` with nothing read before it), which is refused.
    """
    glyphs, width, height = page_glyphs(page)
    if len(glyphs) >= MIN_TEXT_CHARS:
        rules = page_rules(page)
        return PageLines(lines_from_glyphs(glyphs, rules), rules, width, height, "text")
    if not limits.ocr:
        if glyphs or not last_page:
            return None
        raise InputError(f"{name}: the PDF has no text layer (a scan?) and OCR is off (RAG_OCR=off)")
    return _ocr_page(page, width, height, name, limits)


def read_pdf_layouts(path: Path) -> list[tuple[int, PageLayout, str]]:
    """Every page's layout: ``(page number, layout, "text" or "ocr")``."""
    limits = paged.current()
    name = path.name
    doc = open_pdf(path, limits)
    out = []
    try:
        total = len(doc)
        for index in range(total):
            page = doc[index]
            try:
                lines = read_pdf_page(page, name, limits, last_page=total == 1)
            finally:
                page.close()
            if lines is None:
                continue
            out.append((index + 1, lines.layout(), lines.how))
            paged.report(name, index + 1, total, lines.how)
    finally:
        doc.close()
    if not out and not limits.ocr:
        raise InputError(f"{name}: the PDF has no text layer (a scan?) and OCR is off (RAG_OCR=off)")
    return out


def _ocr_page(page, width: float, height: float, name: str, limits: paged.PageLimits) -> PageLines:
    scale = OCR_SCALE
    pixels = width * scale * height * scale
    if pixels > limits.max_pixels:
        scale = (limits.max_pixels / (width * height)) ** 0.5
        if scale < 0.5:
            raise InputError(f"{name}: a page of {width:.0f} × {height:.0f} pt is too large to OCR (max_image_pixels)")
    image = page.render(scale=scale, grayscale=True).to_pil()
    return read_image_page(image, limits)


def read_image_page(image, limits: paged.PageLimits) -> PageLines:
    """A page image's lines by OCR (cached by the page's pixels)."""
    from rag.corpus import ocr

    image = image.convert("L")
    lines, rules, cached = ocr.ocr_image(image, limits.ocr_cache)
    return PageLines(lines, rules, image.width, image.height, "ocr (cached)" if cached else "ocr", image)


@register_loader(".pdf")
def load_pdf(path: Path) -> list[SourceDocument]:
    """A PDF: one document per article per page (see the module docstring)."""
    docs = []
    for number, layout, how in read_pdf_layouts(path):
        docs.extend(documents_from_layout(path.name, number, layout, "pdf" if how == "text" else "ocr"))
    return docs


# --- page images ---------------------------------------------------------------------------


def open_image(path: Path, limits: paged.PageLimits):
    """A page image, refused before decoding if it has more pixels than ``max_image_pixels``."""
    from PIL import Image, UnidentifiedImageError

    name = path.name
    Image.MAX_IMAGE_PIXELS = None  # our own limit below, with a clearer message
    try:
        image = Image.open(path)
    except UnidentifiedImageError:
        raise InputError(f"{name}: not an image this program can read (damaged, or another format)") from None
    except OSError as exc:
        raise InputError(f"{name}: cannot read the image: {exc}") from None
    w, h = image.size
    if w * h > limits.max_pixels:
        image.close()
        raise InputError(
            f"{name}: {w} × {h} pixels is over the limit of {limits.max_pixels:,} pixels (max_image_pixels, RAG_MAX_IMAGE_PIXELS)"
        )
    try:
        image.load()
    except (OSError, SyntaxError) as exc:
        raise InputError(f"{name}: the image is damaged or truncated ({exc})") from None
    return image


@register_loader(".png", ".jpg", ".jpeg", ".tif", ".tiff")
def load_image(path: Path) -> list[SourceDocument]:
    """A scanned page (one image; a multi-page TIFF gives one page per frame), read by OCR."""
    limits = paged.current()
    name = path.name
    image = open_image(path, limits)
    if not limits.ocr:
        raise InputError(f"{name}: an image is read by OCR, and OCR is off (RAG_OCR=off)")
    frames = getattr(image, "n_frames", 1)
    if frames > limits.max_pages:
        raise InputError(f"{name}: {frames} pages is over the limit of {limits.max_pages} (max_pdf_pages)")
    docs = []
    for frame in range(frames):
        image.seek(frame)
        lines = read_image_page(image, limits)
        docs.extend(documents_from_layout(name, frame + 1, lines.layout(), "ocr"))
        paged.report(name, frame + 1, frames, lines.how)
    return docs
