"""Newspaper-like PDF pages made from the bundled issues' articles, with their source text.

Each issue in data/corpus becomes one PDF of one or more pages laid out like a newspaper:
a masthead (the paper's name, the issue date, the page number) over a rule, 3 to 5
columns, articles in horizontal bands separated by rules, a multi-column headline over
each article, one article per issue with a vertical headline (one character per line),
a photo (a grey box) with a small-type caption, and a footer. CJK text uses the CID font
STSong-Light (reportlab's built-in Adobe font; not embedded).

Next to each ``NAME.pdf`` a ``NAME.truth.json`` keeps what was printed: for every page
the masthead, and the articles in reading order (title, body paragraphs, caption), which
``bench/bench_pdf_extract.py`` scores extraction against. ``--scans`` also renders every
page to PNG (pypdfium2) and writes an image-only PDF of the pages, as a scanner would.

    python3 bench/make_test_pdfs.py --out /tmp/pdfs            # text-layer PDFs + truth
    python3 bench/make_test_pdfs.py --out /tmp/pdfs --scans    # + PNG pages and scanned PDFs
    python3 bench/make_test_pdfs.py --out /tmp/pdfs-norules --no-rules   # articles parted by white space only

The papers' names and dates of issues 000-003 are made up (the bundled text does not
print them); 004 is 株洲日报 of 2024-06-01.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import random
import re
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

FONT = "STSong-Light"
PAGE_W, PAGE_H = 842.0, 1191.0  # A3 portrait, points
MARGIN = 40.0
GUTTER = 14.0
BODY_SIZE = 10.5
LEADING = 15.0
HEAD_SIZE = 20.0
VHEAD_SIZE = 20.0
CAPTION_SIZE = 8.5
MAX_BODY_CHARS = 650
BLOCK_MAX_H = 420.0
BODY_TOP = PAGE_H - 130.0
BODY_BOTTOM = 70.0

# corpus file prefix -> (newspaper, date); 000-003 are made up
ISSUES = {
    "000": ("太钢日报", dt.date(2022, 6, 10)),
    "001": ("太钢日报", dt.date(2022, 6, 17)),
    "002": ("中国铝业报", dt.date(2025, 6, 5)),
    "003": ("太重报", dt.date(2022, 4, 29)),
    "004": ("株洲日报", dt.date(2024, 6, 1)),
}
WEEKDAYS = "一二三四五六日"


def date_line(day: dt.date) -> str:
    return f"{day.year}年{day.month}月{day.day}日 星期{WEEKDAYS[day.weekday()]}"


@dataclass
class PrintedArticle:
    title: str
    paragraphs: list[str]
    vertical: bool = False
    caption: str | None = None

    @property
    def body(self) -> str:
        return "\n".join(self.paragraphs)


@dataclass
class PrintedPage:
    number: int
    newspaper: str
    date: str  # ISO
    columns: int
    articles: list[PrintedArticle] = field(default_factory=list)


_LEAD = re.compile(r"^(本报讯|本报记者)?[（(][^）)]{0,20}[）)]")


def _headline_for(text: str) -> str:
    """A made-up headline for an article that has none: its first clause, without the lead."""
    first = _LEAD.sub("", text.strip().split("\n")[0])
    clause = re.split(r"[，。；：！？,]", first, maxsplit=1)[0]
    clause = re.sub(r"\s+", "", clause)
    return clause[:16] or "本报消息"


def _cut(paragraphs: list[str], limit: int) -> list[str]:
    """The paragraphs up to about ``limit`` characters, ending at a sentence end."""
    out, total = [], 0
    for p in paragraphs:
        if total + len(p) <= limit:
            out.append(p)
            total += len(p)
            continue
        room = p[: max(0, limit - total)]
        end = max(room.rfind("。"), room.rfind("！"), room.rfind("？"))
        if end > 20:
            out.append(room[: end + 1])
        break
    return out or [paragraphs[0][:limit]]


def issue_articles(path: Path) -> list[PrintedArticle]:
    """The stories of a bundled issue (cleaned and segmented by the project's own pipeline)."""
    from rag.corpus import articles_from_path
    from rag.corpus.segment import PAGE_FURNITURE_TITLE

    out = []
    for a in articles_from_path(path):
        if a.title == PAGE_FURNITURE_TITLE or len(a.text) < 120:
            continue
        paragraphs = [re.sub(r"\s+", "", p) for p in a.text.split("\n") if p.strip()]
        paragraphs = [p for p in paragraphs if p]
        title = re.sub(r"\s+", "", a.title or "") or _headline_for(a.text)
        out.append(PrintedArticle(title=title[:24], paragraphs=_cut(paragraphs, MAX_BODY_CHARS)))
    return out


# --- layout --------------------------------------------------------------------------


def _register_font() -> None:
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont

    if FONT not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(UnicodeCIDFont(FONT))


def _width(s: str, size: float) -> float:
    from reportlab.pdfbase import pdfmetrics

    return pdfmetrics.stringWidth(s, FONT, size)


def wrap(text: str, width: float, size: float, indent: int = 0) -> list[str]:
    """Break ``text`` into lines no wider than ``width`` (first line indented by ``indent`` em)."""
    lines, line, used = [], "", indent * size
    for ch in text:
        w = _width(ch, size)
        if line and used + w > width:
            lines.append(line)
            line, used = "", 0.0
        line += ch
        used += w
    if line:
        lines.append(line)
    return lines


@dataclass
class _Block:
    article: PrintedArticle
    span: int
    x: float = 0.0
    width: float = 0.0
    height: float = 0.0
    columns: list[list[tuple[str, bool]]] = field(default_factory=list)  # lines (text, paragraph start)
    head_lines: list[str] = field(default_factory=list)
    photo_col: int | None = None
    caption_lines: list[str] = field(default_factory=list)

    def fit(self, col_w: float) -> None:
        a = self.article
        self.width = self.span * col_w + (self.span - 1) * GUTTER
        strip = VHEAD_SIZE + 10 if a.vertical else 0.0
        body_w = (self.width - strip - (self.span - 1) * GUTTER) / self.span
        col_w = body_w
        lines: list[tuple[str, bool]] = []
        for p in a.paragraphs:
            for i, text in enumerate(wrap(p, body_w, BODY_SIZE, indent=2)):
                lines.append((text, i == 0))
        photo_h = 0.0
        if a.caption:
            self.photo_col = self.span - 1
            self.caption_lines = wrap(a.caption, col_w, CAPTION_SIZE)
            photo_h = 90 + 6 + len(self.caption_lines) * (CAPTION_SIZE + 3) + 8
        # balance the lines over the columns (the photo takes room in its column)
        total = len(lines) + photo_h / LEADING
        per = max(1, math.ceil(total / self.span))
        self.columns, i = [], 0
        for c in range(self.span):
            room = per - (int(math.ceil(photo_h / LEADING)) if c == self.photo_col else 0)
            self.columns.append(lines[i : i + max(room, 0)] if c < self.span - 1 else lines[i:])
            i += max(room, 0)
        body_h = max(len(col) * LEADING + (photo_h if c == self.photo_col else 0) for c, col in enumerate(self.columns))
        if a.vertical:
            self.head_lines = list(a.title)
            head_h = 0.0
            body_h = max(body_h, len(a.title) * (VHEAD_SIZE + 2))
            # the vertical headline takes a strip on the left of the first column
            self._strip = strip
        else:
            self.head_lines = wrap(a.title, self.width, HEAD_SIZE)
            head_h = len(self.head_lines) * (HEAD_SIZE + 6) + 8
            self._strip = 0.0
        self._head_h = head_h
        self.height = head_h + body_h


def _blocks_for(articles: list[PrintedArticle], n: int, col_w: float) -> list[_Block]:
    blocks = []
    for a in articles:
        for span in range(1, n + 1):
            b = _Block(a, span)
            b.fit(col_w)
            if b.height <= BLOCK_MAX_H or span == n:
                break
        blocks.append(b)
    return blocks


def _bands(blocks: list[_Block], n: int, col_w: float) -> list[list[_Block]]:
    bands, band, used = [], [], 0
    for b in blocks:
        if used + b.span > n:
            bands.append(band)
            band, used = [], 0
        band.append(b)
        used += b.span
    if band:
        bands.append(band)
    for band in bands:  # the last block of a band takes the columns left over
        extra = n - sum(b.span for b in band)
        if extra:
            last = band[-1]
            last.span += extra
            last.fit(col_w)
    return bands


def make_pdf(out: Path, articles: list[PrintedArticle], newspaper: str, day: dt.date, *,
             columns: int = 4, first_page: int = 1, max_pages: int | None = None, rules: bool = True) -> list[PrintedPage]:
    """Lay ``articles`` out on newspaper pages in ``out``; returns what each page prints, in reading order."""
    from reportlab.lib.colors import Color
    from reportlab.pdfgen import canvas

    _register_font()
    n = columns
    col_w = (PAGE_W - 2 * MARGIN - (n - 1) * GUTTER) / n
    bands = _bands(_blocks_for(articles, n, col_w), n, col_w)
    c = canvas.Canvas(str(out), pagesize=(PAGE_W, PAGE_H))
    c.setTitle(f"{newspaper} {day.isoformat()}")
    pages: list[PrintedPage] = []
    y = None
    page = None

    def new_page():
        nonlocal y, page
        if page is not None:
            c.showPage()
        page = PrintedPage(first_page + len(pages), newspaper, day.isoformat(), n)
        pages.append(page)
        _masthead(c, newspaper, day, page.number)
        y = BODY_TOP

    new_page()
    for band in bands:
        h = max(b.height for b in band)
        if y - h < BODY_BOTTOM and page.articles:
            if max_pages and len(pages) >= max_pages:
                break
            new_page()
        x = MARGIN
        for k, b in enumerate(band):
            b.x = x
            _draw_block(c, b, x, y, col_w, h, Color)
            page.articles.append(b.article)
            x += b.width + GUTTER
            if rules and k < len(band) - 1:  # a vertical rule between side-by-side articles
                c.setLineWidth(0.6)
                c.line(x - GUTTER / 2, y, x - GUTTER / 2, y - h)
        y -= h + 10
        if rules:
            c.setLineWidth(0.8)
            c.line(MARGIN, y + 4, PAGE_W - MARGIN, y + 4)
        y -= 10
    c.showPage()
    c.save()
    return pages


def _masthead(c, newspaper: str, day: dt.date, number: int) -> None:
    top = PAGE_H - MARGIN
    c.setFont(FONT, 44)
    c.drawString(MARGIN, top - 44, newspaper)
    c.setFont(FONT, 11)
    c.drawRightString(PAGE_W - MARGIN, top - 18, date_line(day))
    c.drawRightString(PAGE_W - MARGIN, top - 36, f"第{number}版 · 综合新闻")
    c.setLineWidth(2.0)
    c.line(MARGIN, top - 62, PAGE_W - MARGIN, top - 62)
    c.setLineWidth(0.6)
    c.line(MARGIN, 52, PAGE_W - MARGIN, 52)
    c.setFont(FONT, 9)
    c.drawString(MARGIN, 38, "责任编辑：王 芳    版式设计：李 强")
    c.drawRightString(PAGE_W - MARGIN, 38, f"{newspaper} 第{number}版")


def _draw_block(c, b: _Block, x: float, top: float, col_w: float, band_h: float, Color) -> None:
    a = b.article
    y = top
    if a.vertical:
        c.setFont(FONT, VHEAD_SIZE)
        for i, ch in enumerate(b.head_lines):
            c.drawString(x + 2, y - (i + 1) * (VHEAD_SIZE + 2), ch)
        strip = VHEAD_SIZE + 10
    else:
        c.setFont(FONT, HEAD_SIZE)
        for line in b.head_lines:
            y -= HEAD_SIZE + 6
            c.drawCentredString(x + b.width / 2, y + 4, line)
        y -= 8
        strip = 0.0
    inner_w = (b.width - strip - (b.span - 1) * GUTTER) / b.span
    for ci, lines in enumerate(b.columns):
        cx = x + strip + ci * (inner_w + GUTTER)
        cy = y
        if ci == b.photo_col:
            c.setFillColor(Color(0.75, 0.75, 0.75))
            c.rect(cx, cy - 90, inner_w, 90, stroke=0, fill=1)
            c.setFillColor(Color(0, 0, 0))
            cy -= 96
            c.setFont(FONT, CAPTION_SIZE)
            for line in b.caption_lines:
                cy -= CAPTION_SIZE + 3
                c.drawString(cx, cy, line)
            cy -= 8
        c.setFont(FONT, BODY_SIZE)
        for text, starts in lines:
            cy -= LEADING
            c.drawString(cx + (2 * BODY_SIZE if starts else 0), cy + 3, text)


def make_issue(corpus_file: Path, out_dir: Path, *, columns: int, seed: int = 0,
               max_pages: int | None = None, rules: bool = True) -> tuple[Path, list[PrintedPage]]:
    """One issue as a PDF in ``out_dir`` plus its truth JSON; returns the PDF's path and its pages."""
    rng = random.Random(seed)
    newspaper, day = ISSUES.get(corpus_file.name[:3], ("新闻报", dt.date(2024, 1, 1)))
    articles = issue_articles(corpus_file)
    if len(articles) > 1:
        articles[1].vertical = True  # one vertical headline per issue
    photo = articles[0] if len(articles) < 3 else articles[2]
    photo.caption = f"图为{photo.title}现场。本报记者 {rng.choice(['张可树', '刘 震', '王 强'])} 摄"
    out_dir.mkdir(parents=True, exist_ok=True)
    pdf = out_dir / (corpus_file.stem + ".pdf")
    pages = make_pdf(pdf, articles, newspaper, day, columns=columns, max_pages=max_pages, rules=rules)
    truth = {"file": pdf.name, "pages": [asdict(p) for p in pages]}
    pdf.with_suffix(".truth.json").write_text(json.dumps(truth, ensure_ascii=False, indent=1), encoding="utf-8")
    return pdf, pages


def render_pages(pdf: Path, out_dir: Path, scale: float = 2.0) -> list[Path]:
    """Each page of ``pdf`` as a PNG (``scale`` 2 is 144 dpi), as a scanner would give it."""
    import pypdfium2 as pdfium

    doc = pdfium.PdfDocument(str(pdf))
    paths = []
    try:
        for i in range(len(doc)):
            image = doc[i].render(scale=scale, grayscale=True).to_pil()
            path = out_dir / f"{pdf.stem}_p{i + 1}.png"
            image.save(path)
            paths.append(path)
    finally:
        doc.close()
    return paths


def image_pdf(images: list[Path], out: Path, scale: float = 2.0) -> Path:
    """An image-only PDF (no text layer) of page images rendered at ``scale``."""
    from reportlab.pdfgen import canvas

    c = canvas.Canvas(str(out), pagesize=(PAGE_W, PAGE_H))
    for image in images:
        c.drawImage(str(image), 0, 0, PAGE_W, PAGE_H)
        c.showPage()
    c.save()
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--corpus", type=Path, default=ROOT / "data" / "corpus")
    parser.add_argument("--scans", action="store_true", help="also render PNG pages and image-only PDFs")
    parser.add_argument("--no-rules", action="store_true", help="no ruling lines between articles and bands (gaps only)")
    args = parser.parse_args(argv)
    for k, corpus_file in enumerate(sorted(args.corpus.glob("*.txt"))):
        pdf, pages = make_issue(corpus_file, args.out, columns=3 + k % 3, seed=k, rules=not args.no_rules)
        print(f"{pdf}: {len(pages)} pages, {sum(len(p.articles) for p in pages)} articles")
        if args.scans:
            scans = args.out / "scans"
            scans.mkdir(exist_ok=True)
            images = render_pages(pdf, scans)
            image_pdf(images, scans / f"{pdf.stem}_scan.pdf")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
