"""Split a newspaper issue into articles.

An issue arrives as cleaned paragraphs (see :mod:`rag.corpus.clean`), each with the
span of source text it came from. Segmentation runs in four steps:

1. **Kinds.** Each paragraph gets a layout kind from the marks it carries: a *lead*
   (``本报讯``, ``株洲日报(全媒体记者/…)``, ``（上接第一版）``), a *byline* (``□ 赵 桐``,
   ``株洲日报全媒体记者/高晓燕``), a *caption* (``图为…``, ``… 张可树 摄``; a long one is a
   *photo* story), a *credit* (``（太钢工会）``, ``来源：新华网``, a signature
   ``长城铝业党委书记 苏其军``, a sign-off date), a *heading* (a short line without
   running-text punctuation), *masthead*, or plain *body*.
2. **Drafts.** Leads and photo stories open an article. Body text opens one after
   the previous article was closed (by a credit, a ``（下转第二版）`` note, a running
   head, or a new text frame) or after a byline; otherwise it goes on with the
   current article, and the headings and captions before it are its subheadings
   and photos.
3. **Loose runs.** Headings, captions and bylines between two drafts are split
   between the draft before and the draft after by shared vocabulary: in some
   papers (the 太钢 issues) headlines and captions follow their story, in others
   (株洲日报) headlines precede it. Bylines and anything after a page edge go forward.
4. **Titles.** Each headline titles the article it describes best
   (:func:`_assign_titles`); articles under 15 characters are merged into a neighbour.

Nothing that carries text is lost: every paragraph ends up in one article. Masthead
lines and doubled running heads, kept out of the stories, form one "page furniture"
article per issue (they name the paper, the date and the issue number). Documents
that bring their own title (a JSONL record, a Markdown file with a heading) are one
article each, and so is every line of a file holding one article per line
(:mod:`rag.corpus.article_lines`).
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from functools import cached_property

from rag.corpus.article_lines import is_article_per_line, split_article_lines
from rag.corpus.clean import (
    BYLINE,
    CAPTION_START,
    CONTINUED_ELSEWHERE,
    CONTINUED_FROM,
    CREDIT,
    LEAD,
    MASTHEAD_LINE,
    PHOTO_CREDIT,
    SIGNATURE,
    SOURCE_LINE,
    Paragraph,
    clean_line,
    clean_text,
    split_paragraphs,
    visual_width,
)
from rag.records import Article, SourceDocument
from rag.text.chars import CJK
from rag.text.features import bigrams

PAGE_FURNITURE_TITLE = "报头与版面信息"  # title of the article holding masthead lines and running heads
MIN_ARTICLE_CHARS = 15  # articles with fewer characters are merged into a neighbour
PHOTO_STORY_CHARS = 40  # a caption this long (without its credit) is an article of its own
HEADING_MAX_WIDTH = 40  # headlines are at most this many character cells wide
TITLE_OVERLAP = 0.3  # a headline titles its own article if it shares this much with the text...
REMOTE_TITLE_OVERLAP = 0.6  # ...and an article elsewhere in the issue if it shares this much
REMOTE_TITLE_DISTANCE = 5  # ...at most this many articles away (a misplaced headline stays near its story)
MASTHEAD_REGION = 8  # the masthead is among the first paragraphs of an issue

# A newspaper's name alone on a masthead line: "株洲日报".
NEWSPAPER_LINE = re.compile(f"^[{CJK}]{{2,8}}(?:日报|晚报|早报|商报|时报|报)$")
# A newspaper named in a lead: "株洲日报(全媒体记者/顾昆红)".
NEWSPAPER_IN_LEAD = re.compile(f"([{CJK}]{{2,8}}(?:日报|晚报|早报|商报|时报))\\s*[（(]\\s*(?:全媒体)?记者")
# An issue date, printed with its weekday: "2024年6月1日 星期六".
ISSUE_DATE = re.compile(r"(\d{4})\s*年\s*(\d{1,2})\s*月\s*(\d{1,2})\s*日\s*(?:星期|周)[一二三四五六日天]")
# A date alone on a line signs off a letter: "2022年4月18日".
DATE_ONLY = re.compile(r"^\d{4}\s*年\s*\d{1,2}\s*月\s*\d{1,2}\s*日$")
# Dates in metadata: "2024-06-01", "2024/6/1", "2024.6.1", "2024年6月1日".
ANY_DATE = re.compile(r"^\s*(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?\s*$")
# A caption's credit, cut to leave what the photo shows: "图为发布现场。张可树 摄" -> "图为发布现场。".
PHOTO_CREDIT_TAIL = re.compile(r"[^。！？]*摄$")
# "！" or "？" with more text after it (closing quotes aside): "太重集团，平安！加油！" is not a headline.
INNER_EXCLAMATION = re.compile(r"[！？!?](?=[^”’」』）)\s])")

LOOSE_KINDS = ("heading", "caption", "byline")  # kinds that may belong to the article before or after
BODY_KINDS = ("lead", "body", "photo", "credit")  # kinds that make an article's text


# --- metadata ----------------------------------------------------------------------------


def normalize_date(value: str | None) -> str | None:
    """ISO ``YYYY-MM-DD`` for common date spellings; anything else is returned stripped."""
    if not value or not value.strip():
        return None
    m = ANY_DATE.match(value)
    if not m:
        return value.strip()
    year, month, day = (int(g) for g in m.groups())
    return f"{year:04d}-{month:02d}-{day:02d}"


def issue_date(text: str) -> str | None:
    """The issue date printed in the masthead (a date with its weekday), as ISO."""
    m = ISSUE_DATE.search(text)
    if not m:
        return None
    year, month, day = (int(g) for g in m.groups())
    return f"{year:04d}-{month:02d}-{day:02d}"


def _top(paragraphs: list[Paragraph]) -> list[Paragraph]:
    return [p for p in paragraphs if p.kind == "text"][:MASTHEAD_REGION]


def newspaper_name(paragraphs: list[Paragraph]) -> str | None:
    """The newspaper's name: from the masthead, else the name its leads use most."""
    for p in _top(paragraphs):
        if NEWSPAPER_LINE.match(p.text):
            return p.text
    names = Counter(m.group(1) for p in paragraphs if (m := NEWSPAPER_IN_LEAD.match(p.text)))
    return names.most_common(1)[0][0] if names else None


# --- shared vocabulary -------------------------------------------------------------------

def overlap(headline: str, text: str) -> float:
    """The share of a headline's character pairs that also occur in ``text``."""
    head = bigrams(headline)
    return len(head & bigrams(text)) / len(head) if head else 0.0


# --- 1. paragraph kinds --------------------------------------------------------------------


@dataclass
class _Block:
    """A paragraph with its layout kind."""

    para: Paragraph
    kind: str  # masthead artifact note lifted lead byline caption photo credit heading body

    @property
    def text(self) -> str:
        return self.para.text

    @property
    def closes(self) -> bool:
        """Whether the article ends with this paragraph (a credit, or a "continued on" note)."""
        return self.kind == "credit" or (
            self.kind in ("body", "lead")
            and (bool(CREDIT.search(self.text)) or bool(CONTINUED_ELSEWHERE.search(self.para.raw)))
        )

    @property
    def topic(self) -> str:
        """What the paragraph is about, for vocabulary overlap (a caption without its credit)."""
        if self.kind in ("caption", "photo"):
            return PHOTO_CREDIT_TAIL.sub("", self.text)
        return "" if self.kind == "byline" else self.text


def _article_text(blocks: list[_Block]) -> str:
    """An article's own text, for vocabulary overlap: without headings, bylines, photo credits."""
    return "".join(b.topic for b in blocks if b.kind not in ("heading", "lifted"))


def _is_heading(text: str) -> bool:
    """A short line without running-text punctuation: ``太钢集团首轮政治巡察圆满结束``."""
    if visual_width(text) > HEADING_MAX_WIDTH or re.search("[。；;]", text):
        return False
    if text.endswith(("，", "、", ",")) or re.search("[：:].", text):
        return False
    return not INNER_EXCLAMATION.search(text)


def classify(p: Paragraph, in_masthead_region: bool = False) -> str:
    """The layout kind of one paragraph (see the module docstring)."""
    if p.kind != "text":
        return p.kind  # artifact, note or lifted, as cleaning found them
    text = p.text
    short = visual_width(text) <= 40
    if MASTHEAD_LINE.search(text) or (in_masthead_region and NEWSPAPER_LINE.match(text)):
        return "masthead"
    if LEAD.match(text) or CONTINUED_FROM.match(p.raw):
        return "lead"
    if CAPTION_START.match(text) or PHOTO_CREDIT.search(text):
        return "photo" if len(PHOTO_CREDIT_TAIL.sub("", text)) >= PHOTO_STORY_CHARS else "caption"
    if BYLINE.match(text) and short and "。" not in text:
        return "byline"
    if CREDIT.fullmatch(text) or SOURCE_LINE.match(text) or DATE_ONLY.match(text) or (short and SIGNATURE.search(text)):
        return "credit"
    if p.vertical or _is_heading(text):
        return "heading"
    return "body"


def _blocks(paragraphs: list[Paragraph]) -> list[_Block]:
    top = {id(p) for p in _top(paragraphs)}
    return [_Block(p, classify(p, id(p) in top)) for p in paragraphs]


# --- 2. drafts ---------------------------------------------------------------------------


@dataclass
class _Draft:
    """An article being assembled: its blocks in source order."""

    blocks: list[_Block] = field(default_factory=list)
    closed: bool = False  # nothing more can join (a credit, a note, a page edge came)
    closed_by_credit: bool = False

    @cached_property
    def pairs(self) -> set[str]:
        """The character pairs of the draft's text, taken once it is complete."""
        return bigrams(_article_text(self.blocks))


_EDGE = _Block(Paragraph("", 0, 0, "artifact"), "edge")  # a page or frame edge inside a run


def _drafts_and_runs(blocks: list[_Block]) -> list[_Draft | list[_Block]]:
    """Cut the blocks into article drafts with runs of loose blocks between them.

    Returns ``[run, draft, run, draft, …, run]`` (runs may be empty); runs hold
    :data:`_EDGE` markers where a page or frame edge fell.
    """
    pieces: list[_Draft | list[_Block]] = []
    draft: _Draft | None = None
    run: list[_Block] = []

    def open_draft(first: _Block) -> _Draft:
        nonlocal run
        if draft is not None:
            draft.closed = True
        pieces.extend([run, _Draft([first])])
        run = []
        return pieces[-1]

    for b in blocks:
        if b.kind == "masthead":
            continue
        if b.kind == "note":  # a continuation note ends the article; its headline may follow
            if draft is not None:
                draft.closed = True
            continue
        if b.kind == "artifact" or b.para.frame_start:  # a running head or a new frame: a page edge
            if draft is not None:
                draft.closed = True
            run.append(_EDGE)
            if b.kind == "artifact":
                continue

        if b.kind == "lifted" and draft is not None and not run:
            draft.blocks.append(b)  # right after the paragraph it was lifted from
        elif b.kind in LOOSE_KINDS or b.kind == "lifted":
            run.append(b)
        elif b.kind in ("lead", "photo") or draft is None or draft.closed or any(x.kind == "byline" for x in run):
            draft = open_draft(b)
        else:  # body text going on with the open article: the loose blocks were its subheadings
            draft.blocks.extend(x for x in run if x is not _EDGE)
            draft.blocks.append(b)
            run = []

        if draft is not None and draft.blocks[-1] is b and (b.closes or b.kind == "photo"):
            draft.closed = True
            draft.closed_by_credit = b.closes
    pieces.append(run)
    return pieces


# --- 3. loose runs -------------------------------------------------------------------------


def _affinity(block: _Block, draft: _Draft, *, backward: bool, headline_leans_back: bool) -> float:
    """How much a loose block belongs to ``draft``, the article before it (``backward``) or after it.

    Shared vocabulary decides; on a tie a caption goes back to the story it follows,
    and a headline goes forward to the story below it, or back if ``headline_leans_back``.
    """
    head = bigrams(block.topic)
    score = len(head & draft.pairs) / len(head) if head else 0.0
    if block.kind == "caption" and backward:
        score += 0.1
    if block.kind == "heading" and backward == headline_leans_back:
        score += 0.1
    return score


def _split_run(run: list[_Block], before: _Draft | None, after: _Draft | None) -> tuple[list[_Block], list[_Block]]:
    """Split a run of loose blocks: a prefix joins ``before``, the rest joins ``after``.

    Blocks after a page edge, and bylines and what follows them, can only go
    forward. After a story closed by a credit, headlines lean back to it: papers that
    close stories with a credit print the headline below the story.
    """
    items = [b for b in run if b is not _EDGE]
    if after is None:
        return items, []
    if before is None:
        return [], items
    limit = len(items)  # items[limit:] must go forward
    seen = 0
    for b in run:
        if b is _EDGE or b.kind == "byline":
            limit = min(limit, seen)
        seen += b is not _EDGE
    lean_back = before.closed_by_credit
    to_before = [_affinity(b, before, backward=True, headline_leans_back=lean_back) for b in items]
    to_after = [_affinity(b, after, backward=False, headline_leans_back=lean_back) for b in items]
    scores = [sum(to_before[:k]) + sum(to_after[k:]) for k in range(limit + 1)]
    best = max(range(limit + 1), key=lambda k: (round(scores[k], 9), -k))  # ties: more goes forward
    return items[:best], items[best:]


def _place_runs(pieces: list[_Draft | list[_Block]]) -> list[list[_Block]]:
    """Attach every run to the drafts around it; returns each article's blocks in order."""
    drafts = [p for p in pieces if isinstance(p, _Draft)]
    runs = [p for p in pieces if isinstance(p, list)]
    if not drafts:  # only headings and captions: one article
        loose = [b for run in runs for b in run if b is not _EDGE]
        return [loose] if loose else []
    before_text: list[list[_Block]] = [[] for _ in drafts]
    after_text: list[list[_Block]] = [[] for _ in drafts]
    for i, run in enumerate(runs):  # run i sits between drafts i-1 and i
        previous = drafts[i - 1] if i > 0 else None
        following = drafts[i] if i < len(drafts) else None
        back, forward = _split_run(run, previous, following)
        if back:
            after_text[i - 1].extend(back)
        if forward:
            before_text[i].extend(forward)
    return [before_text[i] + d.blocks + after_text[i] for i, d in enumerate(drafts)]


def _merge_small(groups: list[list[_Block]]) -> list[list[_Block]]:
    """Merge articles with too little text into the previous one (the next one if first)."""
    merged: list[list[_Block]] = []
    pending: list[_Block] = []  # a too-small first article waiting for the next one
    for blocks in groups:
        blocks = pending + blocks
        pending = []
        if len("".join("".join(b.text.split()) for b in blocks)) >= MIN_ARTICLE_CHARS:
            merged.append(blocks)
        elif merged:
            merged[-1].extend(blocks)
        else:
            pending = blocks
    if pending:
        merged.append(pending)
    return merged


# --- 4. titles -----------------------------------------------------------------------------


def _title_candidates(blocks: list[_Block]) -> list[tuple[int, _Block]]:
    """An article's headlines with their rank (lower is better).

    0: above the text (the usual place); 1: below it; 2: lifted out of a sentence;
    4: a subheading inside the text. A headline right before a credit is a
    signature (``中国冶金报社`` / ``2022年4月18日``), not a title.
    """
    body = [i for i, b in enumerate(blocks) if b.kind in BODY_KINDS]
    first, last = (body[0], body[-1]) if body else (len(blocks), -1)
    ranked = []
    for i, b in enumerate(blocks):
        if b.kind == "lifted":
            ranked.append((2, b))
        elif b.kind == "heading" and not (i + 1 < len(blocks) and blocks[i + 1].kind == "credit"):
            ranked.append((0 if i < first else 1 if i > last else 4, b))
    return ranked


def _headlines_follow_text(groups: list[list[_Block]]) -> bool:
    """Whether this issue prints headlines below their stories (as the 太钢 papers do).

    Compares how many matching headlines (sharing at least 30% of their character
    pairs with the text) stand below the text and how many above it.
    """
    above = below = 0
    for blocks in groups:
        text = _article_text(blocks)
        for rank, b in _title_candidates(blocks):
            if rank in (0, 1) and overlap(b.text, text) >= TITLE_OVERLAP:
                above += rank == 0
                below += rank == 1
    return below > above


def _assign_titles(groups: list[list[_Block]]) -> list[str | None]:
    """Give each article the headline that describes it best.

    A headline qualifies for its own article if at least 30% of its character pairs
    occur in the article's text, ranked by position (:func:`_title_candidates`;
    "below" ranks first in issues that print headlines below their stories). It
    qualifies for an article up to five articles away (the layout put it next to
    another story; rank 3) if at least 60% of four or more pairs do. Assignment goes
    by rank, then by the number of shared pairs; each article and each headline is
    used once.
    """
    texts = [bigrams(_article_text(blocks)) for blocks in groups]
    swap = {0: 1, 1: 0} if _headlines_follow_text(groups) else {}
    candidates = []  # (rank, -shared pairs, article, headline)
    for home, blocks in enumerate(groups):
        for rank, b in _title_candidates(blocks):
            head = bigrams(b.text)
            if len(head) < 2:
                continue
            for a in range(max(0, home - REMOTE_TITLE_DISTANCE), min(len(groups), home + REMOTE_TITLE_DISTANCE + 1)):
                shared = len(head & texts[a])
                if a == home and shared >= TITLE_OVERLAP * len(head):
                    candidates.append((swap.get(rank, rank), -shared, a, b.text))
                elif a != home and rank < 4 and len(head) >= 4 and shared >= REMOTE_TITLE_OVERLAP * len(head):
                    candidates.append((3, -shared, a, b.text))
    titles: list[str | None] = [None] * len(groups)
    used: set[str] = set()
    for _, _, a, title in sorted(candidates):
        if titles[a] is None and title not in used:
            titles[a] = title
            used.add(title)
    return titles


# --- the whole issue -----------------------------------------------------------------------


def _page_furniture(blocks: list[_Block]) -> list[_Block]:
    """Masthead lines, running heads and page labels, kept apart from the stories.

    They say which paper, issue and page this is (``株洲日报`` / ``第2366期``; the running
    head ``服 务党党 群群 太重新闻太重新闻`` is the only place naming the 太重新闻 paper),
    facts a reader may ask about. Figure markers (``①①``) carry nothing and are left out.
    """
    return [b for b in blocks if b.kind == "masthead" or (b.kind == "artifact" and re.search(f"[{CJK}]", b.para.raw))]


def _article(doc: SourceDocument, blocks: list[_Block], texts: list[str], **meta) -> Article:
    return Article(
        source=doc.source,
        text="\n".join(texts),
        start=min(b.para.start for b in blocks),
        end=max(b.para.end for b in blocks),
        **meta,
    )


def segment_document(doc: SourceDocument) -> list[Article]:
    """Split a source document into cleaned articles with metadata and source offsets.

    The issue's page furniture (masthead, running heads), if any, comes first as an
    article titled :data:`PAGE_FURNITURE_TITLE`; its pieces are scattered, so its
    ``start``/``end`` span them all. The stories follow in source order.
    """
    if not doc.title and is_article_per_line(doc.text):  # a news dump: one article per line
        return split_article_lines(doc)
    paragraphs = split_paragraphs(doc.text)
    date = normalize_date(doc.date) or issue_date(doc.text)
    newspaper = doc.newspaper or newspaper_name(paragraphs)
    if doc.title or doc.page is not None:  # the document delimits its own article (a JSONL record, a titled
        text = clean_text(doc.text)  # Markdown file, an article a page layout found)
        if doc.page is not None and not text and doc.title:
            text = doc.title  # a headline without a body (its text is on another page)
        article = Article(doc.source, text, doc.title, date, newspaper, 0, 0, len(doc.text), doc.page, doc.bbox)
        return [article] if text else []

    blocks = _blocks(paragraphs)
    articles: list[Article] = []
    furniture = _page_furniture(blocks)
    if furniture:
        texts = [b.text or clean_line(b.para.raw) for b in furniture]
        meta = dict(title=PAGE_FURNITURE_TITLE, date=date, newspaper=newspaper, index=0)
        articles.append(_article(doc, furniture, texts, **meta))

    groups = _merge_small(_place_runs(_drafts_and_runs(blocks)))
    for group, title in zip(groups, _assign_titles(groups)):
        texts = [b.text for b in group if b.text and b.kind != "lifted"]
        if texts:
            meta = dict(title=title, date=date, newspaper=newspaper, index=len(articles))
            articles.append(_article(doc, group, texts, **meta))
    return articles
