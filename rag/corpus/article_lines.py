"""Files that hold one news article per line, each behind a time stamp.

News dumps such as the CRUD-RAG corpus put every article on a line of its own::

    2023-07-31 07:16，正文：原标题：日本高官欲就核污染水排海……
    [ 2023-07-28 16：40 ] ，正文：人民网柏林7月28日电……
    ，正文：来源：中国企业家俱乐部昨晚……

The stamp before ``，正文：`` varies (a date and time, a date alone, ``07-20 22:43``,
``发布时间：…``, nothing at all). Such a file is recognised by its content: most of its
non-empty lines start this way. Each line is then one article, so the layout
segmentation of newspaper pages (:mod:`rag.corpus.segment`) does not apply.

The article text is the text after ``正文：``, verbatim except for whitespace: a run of
two or more whitespace characters (how these dumps separate paragraphs) becomes a line
break, any other whitespace a single space. Nothing else is cleaned: this is web text,
not PDF-extracted pages. ``Article.start``/``end`` are character offsets of that text
in the file's decoded content, ``Article.index`` numbers the articles in file order,
``Article.date`` is the stamp's date as ISO ``YYYY-MM-DD`` (``None`` when the stamp has
no year). The articles have no title.
"""

from __future__ import annotations

import re

from rag.records import Article, SourceDocument

# The head of an article line: an optional "发布时间：", a stamp of digits, dashes, slashes,
# colons, brackets and spaces (possibly empty), then "，正文：".
RECORD_HEAD = re.compile(r"^\s*(?:发布时间\s*[:：])?(?P<stamp>[\d\s\-/.:：\[\]]*?)\s*[，,]\s*正文\s*[:：]\s*")
# The date inside a stamp: "2023-07-28", "2023/07/26".
STAMP_DATE = re.compile(r"(\d{4})\s*[-/.]\s*(\d{1,2})\s*[-/.]\s*(\d{1,2})")
# How these dumps separate paragraphs inside a line: several spaces (often non-breaking).
PARAGRAPH_GAP = re.compile(r"\s{2,}")


def is_article_per_line(text: str) -> bool:
    """Whether more than half of the non-empty lines of ``text`` start with a ``…，正文：`` head."""
    lines = [line for line in text.split("\n") if line.strip()]
    return bool(lines) and 2 * sum(1 for line in lines if RECORD_HEAD.match(line)) > len(lines)


def stamp_date(stamp: str) -> str | None:
    """The ISO date in a stamp such as ``[ 2023-07-28 16：40 ]``, or None without a year."""
    m = STAMP_DATE.search(stamp)
    if not m:
        return None
    year, month, day = (int(g) for g in m.groups())
    return f"{year:04d}-{month:02d}-{day:02d}"


def article_text(body: str) -> str:
    """The article's text with whitespace tidied: paragraph gaps become line breaks."""
    paragraphs = (" ".join(piece.split()) for piece in PARAGRAPH_GAP.split(body))
    return "\n".join(p for p in paragraphs if p)


def split_article_lines(doc: SourceDocument) -> list[Article]:
    """One article per non-empty line of ``doc`` (a line without a head is an article as a whole)."""
    articles = []
    offset = 0
    for line in doc.text.split("\n"):
        line_start, offset = offset, offset + len(line) + 1
        head = RECORD_HEAD.match(line)
        body_start = head.end() if head else 0
        text = article_text(line[body_start:])
        if not text:
            continue
        articles.append(
            Article(
                source=doc.source,
                text=text,
                title=None,
                date=stamp_date(head.group("stamp")) if head else None,
                newspaper=doc.newspaper,
                index=len(articles),
                start=line_start + body_start,
                end=line_start + len(line.rstrip()),
            )
        )
    return articles
