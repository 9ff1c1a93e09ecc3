"""Repairs for text extracted from newspaper PDFs.

A PDF-extracted issue is a stream of layout lines, not of sentences: columns break
lines mid-sentence (often with blank lines in between), headlines are printed one
character per line or with spaces between the characters, running heads come out
doubled (``环境保护环境保护``), and continuation notes (``（下转第二版）``) sit inside
the text. The functions below repair one problem each; :func:`split_paragraphs`
composes them and keeps, for every paragraph, the span of source text it came from,
which :mod:`rag.corpus.segment` needs for article offsets. :func:`clean_text` is the
same repair for a plain string.

The invariant every repair keeps (retrieval evaluation matches verbatim quotes of the
raw files against chunk text after removing all whitespace): cleaning only removes
whitespace, whole layout lines (doubled running heads, figure markers, page labels,
headlines lifted out of a sentence they interrupted) and continuation notes. It never
inserts, changes or reorders any other character.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

# --- character classes -----------------------------------------------------------

from rag.text.chars import CJK, is_cjk, is_cjk_punct
from rag.text.sentences import CLOSERS, SENTENCE_END

# --- line patterns (shared with segment.py) --------------------------------------

# A line that ends a paragraph: final punctuation, then any closing quotes or brackets
# ("；" does not count: it ends clauses inside paragraphs and list items).
PARAGRAPH_END = re.compile(f"[。！？…!?][{CLOSERS}]*$")
# A line ending in a closing bracket: a credit "（太钢工会）", a label "【…】" or a note.
ENDS_WITH_BRACKET = re.compile(r"[）)】]$")
# "（下转第二版）" "(上接第一版)" "（下装第三版）" (sic) "（接上期）" "（未完待续）"
CONTINUATION_NOTE = re.compile(
    r"[（(]\s*(?:[上下]\s*[接转装]\s*第?\s*[一二三四五六七八九十\d]+\s*版|接\s*上\s*期|未完待续|待\s*续)\s*[）)]"
)
CONTINUED_FROM = re.compile(r"^\s*[（(]\s*(?:上\s*接|接\s*上\s*期)")  # the article goes on from elsewhere
CONTINUED_ELSEWHERE = re.compile(r"[（(]\s*(?:下\s*[转装]|未完待续|待\s*续)")  # ... and goes on elsewhere
# The opening of a news item: "本报讯", "株洲日报(全媒体记者/顾昆红)", "新华社北京5月1日电".
LEAD = re.compile(
    f"^(?:本报讯|本报记者|新华社\\S{{0,12}}电|[{CJK}]{{2,8}}(?:日报|晚报|早报|商报|时报)\\s*[（(]\\s*(?:全媒体)?记者)"
)
# A byline line: "□ 赵 桐", "株洲日报全媒体记者/高晓燕", "通讯员/肖果初".
BYLINE = re.compile(f"^(?:□\\s*[{CJK}]|(?:[{CJK}]{{0,8}}全媒体)?记者\\s*/|通讯员\\s*/)")
# A photo caption: "图为…", "▲图为…", "图①为…".
CAPTION_START = re.compile(r"^[▲◀▶►△▽▼◆]?\s*图[①-⑳\d一二三四五六七八九十]*\s*为")
# A photo credit closing a caption: "张可树 摄", "株洲日报全媒体记者/刘震 摄".
PHOTO_CREDIT = re.compile(r"\S\s+摄$")
# An author credit closing an article: "（太钢工会）", "（李 哲）", "（转自《人民日报》）".
CREDIT = re.compile(f"[（(][{CJK}《》·、\\s]{{2,20}}[）)]$")
# A signature closing a statement: "长城铝业党委书记 苏其军", "…副主任 杨 耕".
SIGNATURE = re.compile(
    f"(?:书记|经理|董事长|董事|主任|部长|院长|厂长|主席|总监|主编)\\s+[{CJK}](?:\\s?[{CJK}]){{1,3}}$"
)
# A list item or a boxed label: "◆基础防护篇", "1.科学佩戴口罩", "【中铝股份】".
BULLET = re.compile(r"^(?:[◆●■★☆◇○▲▶►【]|\d{1,2}[.．、](?!\d))")
# A source line closing a reprint: "来源：新华网".
SOURCE_LINE = re.compile(r"^(?:来源|稿件来源|转自)[：:]")
# A "label：value" line of a notice box: "专门值班电话：0731-82673688".
FIELD_LINE = re.compile(f"^[{CJK}]{{2,8}}：")
# A line that opens a news paragraph with its date: "4月19日，集团公司召开…".
DATELINE_START = re.compile(r"^\d{1,2}\s*月\s*\d{1,2}\s*日\s*[，,]")
# Masthead lines: "2024年6月1日 星期六", "甲辰年四月廿五 第2366期 今日4版", "…主管、主办 …出版物号CN 43-0005".
MASTHEAD_LINE = re.compile(
    r"第\s*\d+\s*期|今日\s*\d+\s*版|出版物号|主管、?主办"
    r"|^\d{4}\s*年\s*\d{1,2}\s*月\s*\d{1,2}\s*日\s*(?:星期|周)[一二三四五六日天]$"
)
# A headline set in quotes at its end, with no running-text punctuation: "铺就转型升级“高速路”".
QUOTED_HEADLINE = re.compile(r"^[^，。！？；、：,]*[”」』]$")
# Punctuation only running text has (a headline may hold a comma, not these).
_RUNNING_TEXT_PUNCT = re.compile("[。！？；、]")

# --- layout artifacts ----------------------------------------------------------------

# A unit of one or more characters repeated back to back: "环境保护环境保护", "产产".
_REPEATED_UNIT = re.compile(r"(.+?)\1+")
# Figure markers left by photo layouts: "①①", "③".
_FIGURE_MARKERS = re.compile(r"^[①-⑳\s]+$")
# A page label on its own line: "第04版".
_PAGE_LABEL = re.compile(r"^第\s*[\d０-９一二三四五六七八九十]+\s*版$")


def is_doubled_line(line: str) -> bool:
    """A running head or slogan printed twice over itself (a layout artifact).

    ``环境保护环境保护 人人有责人人有责`` and ``服 务党党 群群 太重新闻太重新闻``: most of
    the line is made of units repeated back to back. Ordinary text repeats a
    character now and then (``人人``, ``……``) but never covers 60% of a line that way.
    """
    compact = "".join(line.split())
    if len(compact) < 2:
        return False
    covered = sum(len(m.group(0)) for m in _REPEATED_UNIT.finditer(compact))
    return covered / len(compact) >= 0.6


def is_layout_artifact(line: str) -> bool:
    """Whether a whole line is layout debris to drop: doubled heads, figure markers, page labels."""
    stripped = line.strip()
    return bool(stripped) and (
        is_doubled_line(stripped) or bool(_FIGURE_MARKERS.match(stripped)) or bool(_PAGE_LABEL.match(stripped))
    )


def strip_continuation_notes(line: str) -> str:
    """Remove ``（下转第二版）``-style notes; they point to other pages, not to content."""
    return CONTINUATION_NOTE.sub("", line)


# --- spaces --------------------------------------------------------------------------



def _is_ascii_digit(ch: str) -> bool:
    return "0" <= ch <= "9"


def _cjk_run(text: str, *, from_end: bool) -> int:
    """How many CJK characters ``text`` starts (or ends) with."""
    chars = reversed(text) if from_end else iter(text)
    count = 0
    for ch in chars:
        if not is_cjk(ch):
            break
        count += 1
    return count


def _space_is_layout(left: str, right: str, right_is_last: bool) -> bool:
    """Whether the space between two tokens of a line is a layout artifact.

    Layout spaces sit next to full-width punctuation (``生产车间 ，``), between a
    Chinese character and a number (``1 月 5日``, ``达到 30.77%``), or between single
    characters of a spaced-out headline or name (``盛 更 红``, ``薛 华``). A space
    between two words (``发现问题形成震慑 推动改革促进发展``), between Latin tokens
    (``CN 43-0005``) and before a trailing photo-credit ``摄`` is kept.
    """
    a, b = left[-1], right[0]
    if is_cjk_punct(a) or is_cjk_punct(b):
        return True
    if (is_cjk(a) and _is_ascii_digit(b)) or (_is_ascii_digit(a) and is_cjk(b)):
        return True
    if is_cjk(a) and is_cjk(b):
        if right == "摄" and right_is_last:
            return False
        return _cjk_run(left, from_end=True) == 1 and _cjk_run(right, from_end=False) == 1
    return False


def collapse_spaces(line: str) -> str:
    """Remove layout spaces from one line and reduce the others to a single space.

    ``本报讯（记者 薛 华）`` → ``本报讯（记者 薛华）``; ``盛 更 红 到 太 钢`` → ``盛更红到太钢``;
    ``1 月 5日`` → ``1月5日``; ``图为发布现场。 张可树 摄`` → ``图为发布现场。张可树 摄``.
    """
    tokens = line.split()
    if not tokens:
        return ""
    out = [tokens[0]]
    for i in range(1, len(tokens)):
        if not _space_is_layout(tokens[i - 1], tokens[i], right_is_last=i == len(tokens) - 1):
            out.append(" ")
        out.append(tokens[i])
    return "".join(out)


def clean_line(line: str) -> str:
    """The in-line repairs: continuation notes out, layout spaces out."""
    return collapse_spaces(strip_continuation_notes(line))


# --- lines with their source offsets ---------------------------------------------------


@dataclass(frozen=True)
class Line:
    """One layout line: cleaned text plus the span ``[start, end)`` of the source it came from."""

    text: str
    start: int
    end: int
    frame_start: bool = False  # the extractor began a new text frame here (see _frame_starts)
    vertical: bool = False  # rebuilt from a headline printed one character per line
    raw: str = ""
    width: float = 0.0  # printed width, set once the line is cleaned (see _width)


def source_lines(text: str) -> list[Line]:
    """Every line of ``text`` (blank ones included) with its offsets; text is the raw line."""
    lines = []
    pos = 0
    for raw in text.split("\n"):
        lines.append(Line(text=raw, start=pos, end=pos + len(raw), raw=raw))
        pos += len(raw) + 1
    return lines


def _frame_starts(lines: list[Line]) -> list[Line]:
    """Mark lines the PDF extractor indented by exactly one space.

    In the bundled issues a single leading space marks the first line of a new text
    frame (a page, a box, a new story). The mark is trusted only when it is rare: a
    file that indents every paragraph that way says nothing about frames.
    """
    marked = [bool(re.match(r"^ \S", line.raw)) for line in lines]
    content = sum(1 for line in lines if line.raw.strip())
    if content == 0 or sum(marked) > 0.2 * content:
        return lines
    return [replace(line, frame_start=m) for line, m in zip(lines, marked)]


def merge_vertical_headlines(lines: list[Line], min_chars: int = 3) -> list[Line]:
    """Rebuild headlines printed one character per line into a single line.

    Three or more consecutive lines holding one character each (``当`` / ``好`` / ``自``
    … ``人``) become one line ``当好自己健康的第一责任人`` spanning them.
    """
    out: list[Line] = []
    run: list[Line] = []

    def flush() -> None:
        if len(run) >= min_chars:
            out.append(
                Line(
                    text="".join(line.raw.strip() for line in run),
                    start=run[0].start,
                    end=run[-1].end,
                    frame_start=run[0].frame_start,
                    vertical=True,
                    raw="\n".join(line.raw for line in run),
                )
            )
        else:
            out.extend(run)
        run.clear()

    for line in lines:
        if len(line.raw.strip()) == 1:
            run.append(line)
        else:
            flush()
            out.append(line)
    flush()
    return out


# --- joining lines into paragraphs -----------------------------------------------------

_NARROW = "“”‘’"  # curly quotes are set half-width in print


def visual_width(text: str) -> float:
    """Printed width in CJK character cells: Latin letters, digits, spaces and curly quotes take half a cell."""
    return sum(0.5 if ch.isascii() or ch in _NARROW else 1.0 for ch in text.strip())


def _width(line: Line) -> float:
    """A line's printed width: the raw line without layout spaces (notes took room on the page)."""
    return line.width or visual_width(line.text if line.vertical else collapse_spaces(line.raw))


def _ends_sentence(line: Line) -> bool:
    """Whether ``line`` ends with final punctuation, a closing bracket or a credit."""
    text = line.text
    return any(p.search(text) for p in (PARAGRAPH_END, ENDS_WITH_BRACKET, PHOTO_CREDIT, SIGNATURE))


def ends_paragraph(line: Line) -> bool:
    """Whether nothing can follow ``line`` in the same paragraph."""
    return (
        line.vertical
        or _ends_sentence(line)
        or bool(CONTINUED_ELSEWHERE.search(line.raw))
        or bool(MASTHEAD_LINE.search(line.text))
    )


def starts_block(line: Line) -> bool:
    """Whether ``line`` opens something new: a frame, a lead, a byline, a caption, a list item."""
    text = line.text
    return (
        line.vertical
        or line.frame_start
        or bool(CONTINUED_FROM.match(line.raw))
        or bool(MASTHEAD_LINE.search(text))
        or any(p.match(text) for p in (LEAD, BYLINE, CAPTION_START, BULLET, DATELINE_START, SOURCE_LINE))
    )


def continues(line: Line, following: Line, after: Line | None, *, wide: bool = False) -> bool:
    """Whether ``following`` carries on the sentence that ``line`` breaks off.

    A line that ends a sentence, or is followed by something that opens a new block,
    ends its paragraph. A line that ends in a comma or holds running-text punctuation
    goes on. Otherwise widths decide: a line broken mid-sentence fills its column (as
    wide as the lines after it), a headline or a paragraph's last line is shorter;
    and a much shorter next line is this paragraph's last line only if it ends a
    sentence. In a ``wide`` document (one paragraph per line) widths say nothing.
    Blank lines play no part: the extractor puts them between columns and pages,
    and in some files between every line.
    """
    if ends_paragraph(line) or starts_block(following):
        return False
    if FIELD_LINE.match(line.text) and FIELD_LINE.match(following.text):
        return False
    text = line.text
    if text.endswith(("，", "、")) or _RUNNING_TEXT_PUNCT.search(text) or text.count("，") >= 2:
        return True
    if wide:
        return False
    # The column's width: the next line, and the one after it if the paragraph goes on.
    column = _width(following)
    if after is not None and not _ends_sentence(following) and not starts_block(after):
        column = max(column, _width(after))
    if _width(line) < 0.7 * column:
        return False
    if _width(following) < 0.7 * _width(line):  # a short next line must be the last one
        return _ends_sentence(following) or following.text.endswith(("，", "、"))
    return True


def is_wide_layout(lines: list[Line]) -> bool:
    """Whether the text has one paragraph per line (median line wider than 40 cells)."""
    widths = sorted(_width(line) for line in lines if not line.vertical and _width(line) >= 4)
    return bool(widths) and widths[len(widths) // 2] > 40


def _interrupts_sentence(
    line: Line, heading: Line, following: Line | None, after: Line | None, *, wide: bool = False
) -> bool:
    """Whether ``heading`` is a headline the layout dropped into the middle of a sentence.

    ``…绿色园区18`` / ``株企抢占“双碳”风口`` / ``家、绿色供应链…``: a short line without any
    punctuation sits between a line that is clearly mid-sentence and the line that
    finishes that sentence.
    """
    if following is None or heading.vertical or starts_block(heading):
        return False
    if re.search(f"[{SENTENCE_END}，、：,:]", heading.text) or visual_width(heading.text) > 25:
        return False
    mid_sentence = line.text.endswith(("，", "、")) or bool(_RUNNING_TEXT_PUNCT.search(line.text))
    narrow = _width(heading) < 0.5 * min(_width(line), _width(following))
    return mid_sentence and narrow and continues(line, following, after, wide=wide)


def _join(left: str, right: str) -> str:
    """Join two pieces of a broken line: no space, except between two Latin/digit words."""
    if left and right and left[-1].isascii() and left[-1].isalnum() and right[0].isascii() and right[0].isalnum():
        return left + " " + right
    return left + right


@dataclass(frozen=True)
class Paragraph:
    """A cleaned paragraph and the span ``[start, end)`` of source text it came from.

    ``kind`` is ``"text"`` for content, ``"artifact"`` for a dropped layout line,
    ``"note"`` for a line that was only a continuation note, and ``"lifted"`` for a
    headline taken out of a sentence it interrupted (kept as a title candidate).
    """

    text: str
    start: int
    end: int
    kind: str = "text"
    frame_start: bool = False
    vertical: bool = False
    raw: str = ""


def split_paragraphs(text: str) -> list[Paragraph]:
    """Clean ``text`` into paragraphs, keeping each paragraph's source span.

    Steps, each a function above: mark text frames, rebuild vertical headlines, drop
    layout artifacts, clean each line (notes, spaces), then join lines broken
    mid-sentence, lifting out headlines that interrupt a sentence.
    """
    lines = merge_vertical_headlines(_frame_starts(source_lines(text)))

    # Clean each line; artifacts and note-only lines become paragraphs of their own.
    items: list[Line | Paragraph] = []
    for line in lines:
        if not line.raw.strip():
            continue
        if not line.vertical and is_layout_artifact(line.raw):
            items.append(Paragraph("", line.start, line.end, "artifact", line.frame_start, raw=line.raw))
            continue
        cleaned = line.text if line.vertical else clean_line(line.raw)
        if not cleaned:
            items.append(Paragraph("", line.start, line.end, "note", line.frame_start, raw=line.raw))
            continue
        items.append(replace(line, text=cleaned, width=_width(line)))

    wide = is_wide_layout([item for item in items if isinstance(item, Line)])
    paragraphs: list[Paragraph] = []
    current: list[Line] = []  # lines of the paragraph being built

    def line_at(i: int) -> Line | None:
        return items[i] if i < len(items) and isinstance(items[i], Line) else None

    def flush() -> None:
        if current:
            joined = current[0].text
            for line in current[1:]:
                joined = _join(joined, line.text)
            paragraphs.append(
                Paragraph(
                    joined,
                    current[0].start,
                    current[-1].end,
                    frame_start=current[0].frame_start,
                    vertical=current[0].vertical,
                    raw=text[current[0].start : current[-1].end],
                )
            )
            current.clear()

    i = 0
    while i < len(items):
        item = items[i]
        if isinstance(item, Paragraph):  # an artifact or a note: it ends the paragraph
            flush()
            paragraphs.append(item)
            i += 1
            continue
        if current:
            last = current[-1]
            if _interrupts_sentence(last, item, line_at(i + 1), line_at(i + 2), wide=wide):
                paragraphs.append(Paragraph(item.text, item.start, item.end, "lifted", raw=item.raw))
                i += 1  # the sentence goes on with the line after the headline
                continue
            headline = len(current) == 1 and QUOTED_HEADLINE.match(last.text)
            if headline or not continues(last, item, line_at(i + 1), wide=wide):
                flush()
        current.append(item)
        i += 1
    flush()
    # A lifted headline is emitted while the paragraph around it is still open;
    # ordering by start offset puts it after that paragraph (the sort is stable).
    return sorted(paragraphs, key=lambda p: p.start)


def clean_text(text: str) -> str:
    """Clean PDF-extracted text: one repaired paragraph per line, artifacts dropped."""
    return "\n".join(p.text for p in split_paragraphs(text) if p.kind == "text")
