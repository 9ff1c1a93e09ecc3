"""Reading order of a newspaper page, rebuilt from where its text sits.

Input: the characters of one page with their boxes and font sizes (a PDF's text layer,
:mod:`rag.corpus.loaders_pdf`) or OCR'd text lines with their boxes
(:mod:`rag.corpus.ocr`), plus the page's ruling lines when the PDF has them.
Output: :class:`PageLayout`, the masthead's paper name, date and page label, and the
page's articles in reading order, each with its headline as ``title`` and its body
paragraphs.

The steps:

1. **Lines.** Characters on one baseline, of one font size, with no wide gap between
   them form a line; a line never crosses a column gutter (the gap is wider than a
   character). A stack of single large characters at one x is a vertical headline.
2. **Kinds.** The body size is the font size most text is set in. Larger lines are
   headlines, smaller ones captions; the largest line near the top is the paper's name,
   and it, the lines beside it (date, page label) and the lines of the top and bottom
   page margins are page furniture, kept out of the articles.
3. **Cuts.** The page is cut recursively (an XY-cut): first across, at horizontal gaps
   wider than a paragraph's line spacing or at horizontal rules spanning the region,
   into bands; then down, at column gutters or vertical rules, into blocks and columns.
   A headline counts as touching the text under it, so a row of headlines over
   side-by-side stories is never cut off from its stories; a block that cannot be cut
   any more sheds its headline on top and is cut again (an article's columns).
4. **Articles.** Reading the pieces in cut order (top to bottom, left to right), every
   headline opens an article; body lines go to the open article, a line indented at
   its column's left edge opens a paragraph. Captions are kept apart from the bodies,
   each under the headline of the article it sits in.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field

from rag.text.chars import is_cjk

HEADLINE_RATIO = 1.3  # a line this much larger than the body size is a headline
CAPTION_RATIO = 0.9  # ... this much smaller is a caption
MASTHEAD_RATIO = 2.5  # the paper's name is set at least this large
MARGIN_SHARE = 0.045  # the top and bottom page margins (this share of the page height) hold only furniture
ISSUE_DATE = re.compile(r"(\d{4})\s*年\s*(\d{1,2})\s*月\s*(\d{1,2})\s*日")
PAGE_LABEL = re.compile(r"第\s*(\d{1,3})\s*版")
FURNITURE_LINE = re.compile(r"^(?:责任编辑|版式|美术编辑|校对|本版编辑)|第\s*\d{1,3}\s*版\s*$")


@dataclass
class Glyph:
    """One character with its box in page coordinates (y grows downwards) and its font size."""

    text: str
    x0: float
    y0: float
    x1: float
    y1: float
    size: float


@dataclass
class Line:
    text: str
    x0: float
    y0: float
    x1: float
    y1: float
    size: float
    kind: str = "body"  # body, head, vhead, caption, furniture

    @property
    def height(self) -> float:
        return self.y1 - self.y0


@dataclass
class Rule:
    """A ruling line (a thin path); ``horizontal`` from its shape."""

    x0: float
    y0: float
    x1: float
    y1: float

    @property
    def horizontal(self) -> bool:
        return (self.x1 - self.x0) >= (self.y1 - self.y0)


@dataclass
class PageArticle:
    title: str | None
    paragraphs: list[str] = field(default_factory=list)
    lines: list[Line] = field(default_factory=list)  # its headline and body lines, in reading order

    @property
    def body(self) -> str:
        return "\n".join(self.paragraphs)

    @property
    def bbox(self) -> tuple[float, float, float, float] | None:
        if not self.lines:
            return None
        return (min(l.x0 for l in self.lines), min(l.y0 for l in self.lines),
                max(l.x1 for l in self.lines), max(l.y1 for l in self.lines))


@dataclass
class PageLayout:
    newspaper: str | None = None
    date: str | None = None  # ISO
    label: int | None = None  # the page number the masthead prints ("第3版")
    articles: list[PageArticle] = field(default_factory=list)
    captions: list[PageArticle] = field(default_factory=list)  # photo captions, each titled by the article it sits in
    furniture: list[str] = field(default_factory=list)


# --- 1. lines ----------------------------------------------------------------------------


def lines_from_glyphs(glyphs: list[Glyph], rules: list[Rule] | None = None) -> list[Line]:
    """Group characters into lines (one baseline, one size, no gap wider than most of a
    character, no vertical rule in between)."""
    walls = [r for r in rules or [] if not r.horizontal]
    glyphs = [g for g in glyphs if g.text.strip() and g.x1 > g.x0 and g.y1 > g.y0]
    glyphs.sort(key=lambda g: ((g.y0 + g.y1) / 2, g.x0))
    rows: list[list[Glyph]] = []
    for g in glyphs:
        yc = (g.y0 + g.y1) / 2
        for row in reversed(rows[-8:]):
            r = row[0]
            if abs((r.y0 + r.y1) / 2 - yc) < 0.3 * min(r.size, g.size) and _same_size(r.size, g.size):
                row.append(g)
                break
        else:
            rows.append([g])
    lines = []
    for row in rows:
        row.sort(key=lambda g: g.x0)
        current = [row[0]]
        for g in row[1:]:
            gap = g.x0 - current[-1].x1
            yc = (g.y0 + g.y1) / 2
            left, right = (current[-1].x0 + current[-1].x1) / 2, (g.x0 + g.x1) / 2
            walled = any(left < (w.x0 + w.x1) / 2 < right and w.y0 <= yc <= w.y1 for w in walls)
            if walled or gap > 0.6 * max(g.size, current[-1].size):
                lines.append(_line(current))
                current = [g]
            else:
                current.append(g)
        lines.append(_line(current))
    return lines


def _same_size(a: float, b: float) -> bool:
    return abs(a - b) <= 0.12 * max(a, b)


def _line(glyphs: list[Glyph]) -> Line:
    text = ""
    for prev, g in zip([None] + glyphs[:-1], glyphs):
        if prev is not None and g.x0 - prev.x1 > 0.25 * g.size and not (is_cjk(g.text[0]) or is_cjk(prev.text[-1])):
            text += " "  # a word space between Latin words or numbers
        text += g.text
    return Line(text, min(g.x0 for g in glyphs), min(g.y0 for g in glyphs), max(g.x1 for g in glyphs),
                max(g.y1 for g in glyphs), Counter(round(g.size, 1) for g in glyphs).most_common(1)[0][0])


def em_size(text: str, width: float, height: float) -> float:
    """The font size of an OCR'd line from its width: a CJK character is one em wide, others about half.

    Box heights vary with the characters' shapes and the detector's padding; the width
    per character is steadier. Short lines fall back on the height.
    """
    text = "".join(text.split())
    ems = sum(1.0 if is_cjk(ch) or not ch.isascii() else 0.55 for ch in text)
    if ems < 3:
        return height
    return min(width / ems, 1.3 * height)


def body_size(lines: list[Line]) -> float:
    """The font size most characters are set in."""
    counts = Counter()
    for line in lines:
        counts[round(line.size * 2) / 2] += len(line.text)
    return counts.most_common(1)[0][0] if counts else 10.0


def vertical_runs(lines: list[Line], body: float) -> list[Line]:
    """Merge stacks of single large characters (a headline set one character per line) into ``vhead`` lines."""
    singles = sorted(
        (l for l in lines if len(l.text) == 1 and l.size >= HEADLINE_RATIO * body),
        key=lambda l: ((l.x0 + l.x1) / 2, l.y0),
    )
    used: set[int] = set()
    runs: list[list[Line]] = []
    for line in sorted(singles, key=lambda l: l.y0):
        if id(line) in used:
            continue
        run = [line]
        used.add(id(line))
        while True:
            last = run[-1]
            nxt = [l for l in singles if id(l) not in used and abs((l.x0 + l.x1) / 2 - (last.x0 + last.x1) / 2) < 0.35 * last.size
                   and -0.4 * last.size <= l.y0 - last.y1 < 0.8 * last.size and l.y0 > last.y0]
            if not nxt:
                break
            run.append(min(nxt, key=lambda l: l.y0))
            used.add(id(run[-1]))
        runs.append(run)
    merged = {id(l) for run in runs if len(run) >= 2 for l in run}
    out = [l for l in lines if id(l) not in merged]
    for run in runs:
        if len(run) >= 2:
            out.append(Line("".join(l.text for l in run), min(l.x0 for l in run), run[0].y0, max(l.x1 for l in run),
                            run[-1].y1, run[0].size, kind="vhead"))
    return out


# --- 2. kinds --------------------------------------------------------------------------


def classify(lines: list[Line], page_height: float, body: float) -> None:
    """Set each line's kind (the masthead and the page margins are furniture)."""
    for line in lines:
        if line.kind == "vhead":
            continue
        if line.size >= HEADLINE_RATIO * body and not line.text.rstrip("”’」』）)").endswith("。"):
            line.kind = "head"  # (a line ending a sentence is text, however large OCR measured it)
        elif line.size <= CAPTION_RATIO * body:
            line.kind = "caption"
        else:
            line.kind = "body"
    top = [l for l in lines if l.kind == "head" and l.y0 < 0.2 * page_height and l.size >= MASTHEAD_RATIO * body]
    if top:
        name = max(top, key=lambda l: l.size)
        for line in lines:
            if line.y0 < name.y1 + 0.2 * name.size:
                line.kind = "furniture"
    margin = MARGIN_SHARE * page_height
    for line in lines:
        if line.y1 < margin or line.y0 > page_height - margin:
            line.kind = "furniture"
        elif line.kind != "vhead" and len(line.text) <= 30 and FURNITURE_LINE.search(line.text):
            line.kind = "furniture"


def masthead(lines: list[Line]) -> tuple[str | None, str | None, int | None]:
    """The paper's name, the issue date (ISO) and the page label from the furniture lines."""
    furniture = [l for l in lines if l.kind == "furniture"]
    name = None
    if furniture:
        big = max(furniture, key=lambda l: l.size)
        candidate = re.sub(r"\s+", "", big.text)
        if 2 <= len(candidate) <= 12 and big.size >= MASTHEAD_RATIO * body_size(lines):
            name = candidate
    text = " ".join(l.text for l in sorted(furniture, key=lambda l: (l.y0, l.x0)))
    date = None
    m = ISSUE_DATE.search(text)
    if m:
        date = f"{int(m.group(1)):04d}-{int(m.group(2)):02d}-{int(m.group(3)):02d}"
    label = PAGE_LABEL.search(text)
    return name, date, int(label.group(1)) if label else None


# --- 3. cuts ---------------------------------------------------------------------------


def _gaps(intervals: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """The uncovered stretches between the covered ones."""
    out = []
    intervals = sorted(intervals)
    end = intervals[0][1]
    for a, b in intervals[1:]:
        if a > end:
            out.append((end, a))
        end = max(end, b)
    return out


class _Cutter:
    def __init__(self, rules: list[Rule], body: float, line_gap: float):
        self.rules = rules
        self.body = body
        self.h_gap = line_gap + 0.5 * body  # wider than a paragraph's line spacing
        self.v_gap = 0.8 * body

    def cut(self, items: list[Line]) -> list[list[Line]]:
        if len(items) <= 1:
            return [items] if items else []
        x0, x1 = min(l.x0 for l in items), max(l.x1 for l in items)
        y0, y1 = min(l.y0 for l in items), max(l.y1 for l in items)
        ext = self._extended(items)
        # across: bands
        cuts = [g for g in _gaps([(ext[id(l)][0], ext[id(l)][1]) for l in items])
                if g[1] - g[0] >= self.h_gap or self._rule_in(g, horizontal=True, span=(x0, x1))]
        cuts += self._rules_across(items, horizontal=True, span=(x0, x1), inside=(y0, y1), known=cuts)
        if cuts:
            return self._split(items, cuts, lambda l: (l.y0 + l.y1) / 2)
        # down: blocks and columns
        cuts = [g for g in _gaps([(l.x0, l.x1) for l in items])
                if g[1] - g[0] >= self.v_gap or self._rule_in(g, horizontal=False, span=(y0, y1))]
        cuts += self._rules_across(items, horizontal=False, span=(y0, y1), inside=(x0, x1), known=cuts)
        if cuts:
            groups = self._owned(self._parts(items, cuts, lambda l: (l.x0 + l.x1) / 2))
            if len(groups) > 1:
                return [piece for group in groups for piece in self.cut(group)]
        # a block: its headline on top, then its columns
        heads = [l for l in items if l.kind == "head"]
        rest = [l for l in items if l.kind not in ("head", "vhead")]
        if (heads or len(rest) < len(items) - len(heads)) and rest:
            top_of_rest = min(l.y0 for l in rest)
            lead = [l for l in items if l.kind == "vhead" or (l.kind == "head" and l.y1 <= top_of_rest + 0.3 * self.body)]
            if lead:
                others = [l for l in items if all(l is not h for h in lead)]
                return [sorted(lead, key=lambda l: (l.y0, l.x0))] + self.cut(others)
        return [sorted(items, key=lambda l: (l.y0, l.x0))]

    def _extended(self, items: list[Line]) -> dict[int, tuple[float, float]]:
        """Vertical extents, a headline's stretched down to the text under it."""
        out = {}
        for l in items:
            y1 = l.y1
            if l.kind == "head":
                below = [m.y0 for m in items if m.y0 >= l.y1 - 0.1 and m.x0 < l.x1 and m.x1 > l.x0 and m.kind != "head"]
                if below:
                    y1 = max(y1, min(below))
            out[id(l)] = (l.y0, y1)
        return out

    def _rules_across(self, items, *, horizontal: bool, span, inside, known) -> list[tuple[float, float]]:
        """Rules spanning the region that no line crosses by more than a character
        (OCR boxes may poke over a rule by a character), as zero-width cuts."""
        lo, hi = span
        out = []
        for r in self.rules:
            if r.horizontal != horizontal:
                continue
            pos = (r.y0 + r.y1) / 2 if horizontal else (r.x0 + r.x1) / 2
            a, b = (r.x0, r.x1) if horizontal else (r.y0, r.y1)
            if not inside[0] < pos < inside[1] or min(b, hi) - max(a, lo) < 0.8 * (hi - lo):
                continue
            if any(g[0] - 1 <= pos <= g[1] + 1 for g in known + out):
                continue
            margin = self.body
            if horizontal:
                crossed = any(l.y0 < pos - margin and l.y1 > pos + margin for l in items)
            else:
                crossed = any(l.x0 < pos - margin and l.x1 > pos + margin for l in items)
            if not crossed:
                out.append((pos, pos))
        return sorted(out)

    def _rule_in(self, gap: tuple[float, float], *, horizontal: bool, span: tuple[float, float]) -> bool:
        lo, hi = span
        for r in self.rules:
            if r.horizontal != horizontal:
                continue
            pos = (r.y0 + r.y1) / 2 if horizontal else (r.x0 + r.x1) / 2
            a, b = (r.x0, r.x1) if horizontal else (r.y0, r.y1)
            if gap[0] - 1 <= pos <= gap[1] + 1 and min(b, hi) - max(a, lo) >= 0.8 * (hi - lo):
                return True
        return False

    @staticmethod
    def _parts(items, cuts, centre) -> list[list[Line]]:
        bounds = [(c[0] + c[1]) / 2 for c in cuts]
        parts: list[list[Line]] = [[] for _ in range(len(bounds) + 1)]
        for l in items:
            k = sum(1 for b in bounds if centre(l) > b)
            parts[k].append(l)
        return [p for p in parts if p]

    def _split(self, items, cuts, centre) -> list[list[Line]]:
        return [piece for part in self._parts(items, cuts, centre) for piece in self.cut(part)]

    def _owned(self, parts: list[list[Line]]) -> list[list[Line]]:
        """Side-by-side parts, a part without a headline joined to the neighbour whose headline spans over it.

        A centred headline over four columns leaves the outer gutters uncut: the first and
        last columns are not stories of their own but the rest of the headline's story.
        """
        heads = [[l for l in p if l.kind in ("head", "vhead")] for p in parts]
        if not any(heads) or all(heads):
            return parts
        owner = list(range(len(parts)))
        for i, part in enumerate(parts):
            if heads[i]:
                continue
            top = min(l.y0 for l in part)
            choices = [j for j in range(len(parts))
                       if heads[j] and min(_head_bottom(h) for h in heads[j]) <= top + 0.3 * self.body]
            if choices:
                owner[i] = min(choices, key=lambda j: (abs(j - i), j > i))
        groups: dict[int, list[Line]] = {}
        for i, part in enumerate(parts):
            groups.setdefault(owner[i], []).extend(part)
        return [groups[k] for k in sorted(groups)]


def _head_bottom(line: Line) -> float:
    """Where a headline ends for the text beside it: a vertical one at its first character."""
    return line.y0 + line.size if line.kind == "vhead" else line.y1


def _line_gap(lines: list[Line]) -> float:
    """The usual space between two lines of one column of body text."""
    body = sorted((l for l in lines if l.kind == "body"), key=lambda l: (round(l.x0), l.y0))
    gaps = []
    by_top = sorted(body, key=lambda l: l.y0)
    for i, l in enumerate(by_top):
        for m in by_top[i + 1 : i + 12]:
            if m.x0 < l.x1 and m.x1 > l.x0 and m.y0 >= l.y1 - 0.5 * l.height:
                gaps.append(max(0.0, m.y0 - l.y1))
                break
    if not gaps:
        return 0.3 * body_size(lines)
    gaps.sort()
    return gaps[len(gaps) // 2]


# --- 4. articles -----------------------------------------------------------------------


def _join(a: str, b: str) -> str:
    if a and b and a[-1].isascii() and a[-1].isalpha() and b[0].isascii() and b[0].isalpha():
        return a + " " + b
    return a + b


def read_page(lines: list[Line], page_width: float, page_height: float, rules: list[Rule] | None = None) -> PageLayout:
    """The page's masthead data and its articles in reading order (see the module docstring)."""
    layout = PageLayout()
    lines = [l for l in lines if l.text.strip()]
    if not lines:
        return layout
    body = body_size(lines)
    lines = vertical_runs(lines, body)
    classify(lines, page_height, body)
    layout.newspaper, layout.date, layout.label = masthead(lines)
    layout.furniture = [l.text for l in lines if l.kind == "furniture"]
    content = [l for l in lines if l.kind != "furniture"]
    if not content:
        return layout
    cutter = _Cutter(rules or [], body, _line_gap(content))
    current: PageArticle | None = None
    previous_kind = None
    for piece in cutter.cut(content):
        left = min(l.x0 for l in piece)
        for line in sorted(piece, key=lambda l: (l.y0, l.x0)) if len(piece) > 1 else piece:
            if line.kind in ("head", "vhead"):
                if current is not None and previous_kind in ("head", "vhead") and not current.paragraphs:
                    current.title = _join(current.title or "", line.text)
                else:
                    current = PageArticle(title=line.text)
                    layout.articles.append(current)
                current.lines.append(line)
            elif line.kind == "caption":
                if previous_kind == "caption" and layout.captions:
                    caption = layout.captions[-1]
                    caption.paragraphs[-1] = _join(caption.paragraphs[-1], line.text)
                    caption.lines.append(line)
                else:
                    title = current.title if current is not None else None
                    layout.captions.append(PageArticle(title=title, paragraphs=[line.text], lines=[line]))
            else:
                if current is None:
                    current = PageArticle(title=None)
                    layout.articles.append(current)
                indented = line.x0 - left > 1.2 * line.size
                if indented or not current.paragraphs or previous_kind != "body":
                    if current.paragraphs and not indented and previous_kind == "caption":
                        current.paragraphs[-1] = _join(current.paragraphs[-1], line.text)
                    else:
                        current.paragraphs.append(line.text)
                else:
                    current.paragraphs[-1] = _join(current.paragraphs[-1], line.text)
                current.lines.append(line)
            previous_kind = line.kind
        if piece and previous_kind == "body":
            previous_kind = "body"  # a paragraph goes on in the next column
    return layout


def plain_text(lines: list[Line]) -> str:
    """The baseline a plain extraction gives: whole rows across the page, top to bottom."""
    rows: list[list[Line]] = []
    for line in sorted(lines, key=lambda l: (l.y0 + l.y1) / 2):
        yc = (line.y0 + line.y1) / 2
        if rows and abs((rows[-1][0].y0 + rows[-1][0].y1) / 2 - yc) < 0.4 * line.size:
            rows[-1].append(line)
        else:
            rows.append([line])
    return "\n".join(" ".join(l.text for l in sorted(row, key=lambda l: l.x0)) for row in rows)
