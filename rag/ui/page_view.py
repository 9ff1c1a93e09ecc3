"""A cited passage shown where it is printed: its page drawn with the passage's lines highlighted.

Readers of newspapers would rather see the page than be told about it. A passage from a
PDF or a page image carries its page number and its article's box (``Chunk.page``,
``Chunk.bbox``); where its lines are on that page is found again here rather than stored:

1. the page is read the way ingest read it (:func:`rag.corpus.loaders_pdf.read_pdf_page`:
   the text layer's characters grouped into lines, or the OCR lines, which come from the
   OCR cache), so the coordinates are the ones the article's box is in;
2. the page's layout is rebuilt as ingest rebuilt it, and in the article whose box is the
   passage's, the passage is the run of consecutive lines (in reading order) most of
   whose character pairs occur in the passage (cleaning changed line breaks and spacing,
   not the characters; OCR misreads a few, hence "most");
3. the page is rendered (a scan: the image OCR read) and those lines are tinted, the
   article's box outlined.

A newspaper line is 10–20 characters, so whole lines are what is highlighted: the first
and last line of a passage may show a few characters of its neighbours.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

from rag.corpus import paged
from rag.corpus.layout import Line, PageLayout
from rag.errors import InputError
from rag.text.features import bigrams, containment, normalize

Box = tuple[float, float, float, float]  # x0, y0, x1, y1 from the top left

DISPLAY_SCALE = 1.5  # a text-layer page is drawn at 108 dpi
MAX_WIDTH = 1600  # pixels; wider pages (large scans) are scaled down
MIN_SHARE = 0.6  # of a line's character pairs that must occur in the passage
HIGHLIGHT = (255, 214, 0, 110)  # translucent yellow over the passage's lines
OUTLINE = (214, 48, 49, 255)  # the article's box


@dataclass(frozen=True)
class PageView:
    png: bytes
    boxes: list[Box]  # the highlighted lines, in the page's coordinates (points, or the scan's pixels)
    width: int  # of the image, pixels
    height: int


def passage_lines(layout: PageLayout, passage: str, article_box: Box | None = None) -> list[Line]:
    """The lines of a page that print ``passage``: one run of its article's lines (module docstring, step 2)."""
    articles = [a for a in layout.articles + layout.captions if a.lines]  # a caption is a passage of its own
    if not articles:
        return []
    if article_box is not None:
        article = max(articles, key=lambda a: _overlap(a.bbox, article_box))
        if _overlap(article.bbox, article_box) == 0:
            return []
        return _best_run(_body(article), passage)
    runs = [_best_run(_body(a), passage) for a in articles]
    return max(runs, key=lambda run: sum(_line_score(l, passage) for l in run))


def _body(article) -> list[Line]:
    """An article's lines without its headline (the chunk's title, not its text)."""
    return [line for line in article.lines if line.kind not in ("head", "vhead")]


def _line_score(line: Line, passage: str) -> float:
    """Above 0 for a line of the passage, below 0 for one that is not."""
    pairs = bigrams(line.text)
    if len(pairs) >= 3:
        return containment(pairs, bigrams(passage)) - MIN_SHARE
    text = normalize(line.text)
    return 0.2 if len(text) >= 2 and text in normalize(passage) else -0.2  # a paragraph's short last line


def _best_run(lines: list[Line], passage: str) -> list[Line]:
    """The consecutive lines (in reading order) whose scores add up to the most (Kadane's algorithm).

    One run, because a passage is a stretch of its article: a line elsewhere that shares
    a phrase with it stays unmarked.
    """
    best, best_span = 0.0, (0, 0)
    total, start = 0.0, 0
    for i, line in enumerate(lines):
        if total <= 0:
            total, start = 0.0, i
        total += _line_score(line, passage)
        if total > best:
            best, best_span = total, (start, i + 1)
    return lines[best_span[0] : best_span[1]]


def _overlap(a: Box | None, b: Box) -> float:
    """Intersection over union of two boxes (1 for the box the passage was stored with)."""
    if a is None:
        return 0.0
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    if w <= 0 or h <= 0:
        return 0.0
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - w * h
    return w * h / union if union > 0 else 0.0


def page_view(path: Path, page: int, passage: str, article_box: Box | None, limits: paged.PageLimits) -> PageView:
    """Page ``page`` (from 1) of the PDF or image at ``path``, drawn with ``passage`` highlighted.

    Raises :class:`InputError` (one line) when the file cannot be read or has no such page.
    """
    if path.suffix.lower() == ".pdf":
        image, layout, scale = _pdf_page(path, page, limits)
    else:
        image, layout, scale = _image_page(path, page, limits)
    boxes = [(l.x0, l.y0, l.x1, l.y1) for l in passage_lines(layout, passage, article_box)]
    if image.width > MAX_WIDTH:
        shrink = MAX_WIDTH / image.width
        image = image.resize((MAX_WIDTH, round(image.height * shrink)))
        scale *= shrink
    drawn = _draw(image, boxes, article_box, scale)
    out = io.BytesIO()
    drawn.save(out, format="PNG")
    return PageView(out.getvalue(), boxes, drawn.width, drawn.height)


def _draw(image, boxes: list[Box], article_box: Box | None, scale: float):
    """``image`` with ``boxes`` tinted and ``article_box`` outlined (coordinates times ``scale``)."""
    from PIL import Image, ImageDraw

    base = image.convert("RGBA")
    overlay = Image.new("RGBA", base.size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(overlay)
    pad = 1.5 * scale
    for x0, y0, x1, y1 in boxes:
        draw.rectangle((x0 * scale - pad, y0 * scale - pad, x1 * scale + pad, y1 * scale + pad), fill=HIGHLIGHT)
    if article_box is not None:
        x0, y0, x1, y1 = article_box
        width = max(2, round(2 * scale))
        draw.rectangle((x0 * scale - 3 * pad, y0 * scale - 3 * pad, x1 * scale + 3 * pad, y1 * scale + 3 * pad),
                       outline=OUTLINE, width=width)
    return Image.alpha_composite(base, overlay).convert("RGB")


def _pdf_page(path: Path, page: int, limits: paged.PageLimits):
    """(the rendered page, its layout as ingest read it, pixels per unit of the layout's coordinates)."""
    from rag.corpus.loaders_pdf import open_pdf, read_pdf_page

    doc = open_pdf(path, limits)
    try:
        if not 1 <= page <= len(doc):
            raise InputError(f"{path.name} has no page {page} (it has {len(doc)})")
        pdf_page = doc[page - 1]
        try:
            read = read_pdf_page(pdf_page, path.name, limits)
            layout = read.layout() if read else PageLayout()
            if read is None or read.scan is None:  # a text layer: coordinates in points
                return pdf_page.render(scale=DISPLAY_SCALE).to_pil(), layout, DISPLAY_SCALE
            return read.scan, layout, 1.0  # a scanned page: the image OCR read, in its pixels
        finally:
            pdf_page.close()
    finally:
        doc.close()


def _image_page(path: Path, page: int, limits: paged.PageLimits):
    from rag.corpus.loaders_pdf import open_image, read_image_page

    image = open_image(path, limits)
    frames = getattr(image, "n_frames", 1)
    if not 1 <= page <= frames:
        raise InputError(f"{path.name} has no page {page} (it has {frames})")
    image.seek(page - 1)
    layout = read_image_page(image, limits).layout() if limits.ocr else PageLayout()
    return image.convert("RGB"), layout, 1.0
