"""Sentence-aware chunking of cleaned Chinese articles.

A chunk is a run of whole sentences of one article, at most ``chunk_size``
characters long. Consecutive chunks share their boundary sentences (at most
``overlap`` characters of them), so a fact that straddles a chunk boundary is whole
in at least one chunk. A sentence is cut only when it alone is longer than
``chunk_size``: at commas first, and at a fixed length only as a last resort.
"""

from __future__ import annotations

import hashlib
import re
from typing import Iterable

from rag.errors import InputError
from rag.records import Article, Chunk
from rag.text.sentences import CLAUSE_BREAK, sentence_spans

# A run that a last-resort cut should not split: numbers, Latin words, 30.77%, 0731-12388.
_TOKEN = re.compile(r"[A-Za-z0-9][A-Za-z0-9.%‰\-/:]*")


def _hard_cuts(text: str, start: int, end: int, size: int) -> list[tuple[int, int]]:
    """Cut ``[start, end)`` into pieces of at most ``size``, not inside a number or word if avoidable."""
    pieces = []
    while end - start > size:
        cut = start + size
        for m in _TOKEN.finditer(text, max(start, cut - 40), min(end, cut + 40)):
            if m.start() < cut < m.end() and m.start() > start:
                cut = m.start()  # move the cut before the number it would split
                break
        pieces.append((start, cut))
        start = cut
    pieces.append((start, end))
    return pieces


def _split_long(text: str, start: int, end: int, size: int) -> list[tuple[int, int]]:
    """Pieces of an over-long sentence: clauses packed up to ``size``, hard cuts as a last resort."""
    clauses = []
    clause_start = start
    for m in CLAUSE_BREAK.finditer(text, start, end):
        clauses.append((clause_start, m.end()))
        clause_start = m.end()
    if clause_start < end:
        clauses.append((clause_start, end))
    pieces: list[tuple[int, int]] = []
    for c_start, c_end in clauses:
        if pieces and c_end - pieces[-1][0] <= size:
            pieces[-1] = (pieces[-1][0], c_end)  # the clause fits in the current piece
        elif c_end - c_start <= size:
            pieces.append((c_start, c_end))
        else:
            pieces.extend(_hard_cuts(text, c_start, c_end, size))
    return pieces


def _units(text: str, size: int) -> list[tuple[int, int]]:
    """The spans chunks are packed from: sentences, over-long ones split."""
    units = []
    for start, end in sentence_spans(text):
        units.extend([(start, end)] if end - start <= size else _split_long(text, start, end, size))
    return units


def _pack(units: list[tuple[int, int]], size: int, overlap: int) -> list[tuple[int, int]]:
    """Group consecutive units into chunk spans of at most ``size`` characters.

    Each next chunk starts with the trailing units of the previous one that together
    span at most ``overlap`` characters, as long as it still gains a new unit.
    """
    spans = []
    i = 0
    while i < len(units):
        start = units[i][0]
        j = i + 1
        while j < len(units) and units[j][1] - start <= size:
            j += 1
        spans.append((start, units[j - 1][1]))
        if j == len(units):
            break
        k = j  # the first unit of the next chunk; move back over units to repeat
        while k - 1 > i and units[j - 1][1] - units[k - 1][0] <= overlap:
            k -= 1
        while k < j and units[j][1] - units[k][0] > size:  # the next chunk must fit unit j
            k += 1
        i = k
    return spans


def chunk_id(source: str, article_index: int, text: str) -> str:
    """A stable short id: the first 16 hex digits of SHA-1 over source, article and text."""
    return hashlib.sha1(f"{source}\x1f{article_index}\x1f{text}".encode("utf-8")).hexdigest()[:16]


def _check(chunk_size: int, overlap: int) -> None:
    if chunk_size < 1:
        raise InputError(f"chunk size must be a positive number of characters, not {chunk_size}.")
    if not 0 <= overlap < chunk_size:
        raise InputError(f"chunk overlap must be between 0 and the chunk size ({chunk_size}), not {overlap}.")


def chunk_article(article: Article, chunk_size: int = 300, overlap: int = 80) -> list[Chunk]:
    """Split one article into chunks of whole sentences (see the module docstring).

    ``start``/``end`` of each chunk are offsets in ``article.text``; ``position`` numbers
    the chunks of the article from 0.
    """
    _check(chunk_size, overlap)
    text = article.text
    chunks = []
    for position, (start, end) in enumerate(_pack(_units(text, chunk_size), chunk_size, overlap)):
        piece = text[start:end]
        chunks.append(
            Chunk(
                chunk_id=chunk_id(article.source, article.index, piece),
                text=piece,
                source=article.source,
                title=article.title,
                date=article.date,
                newspaper=article.newspaper,
                article_index=article.index,
                position=position,
                start=start,
                end=end,
                page=article.page,
                bbox=[round(v, 1) for v in article.bbox] if article.bbox else None,
            )
        )
    return chunks


def chunk_articles(articles: Iterable[Article], chunk_size: int = 300, overlap: int = 80) -> list[Chunk]:
    """Chunk every article, in order."""
    return [chunk for article in articles for chunk in chunk_article(article, chunk_size, overlap)]


def passage_text(chunk: Chunk) -> str:
    """The text that is embedded and indexed: the title, then the chunk text.

    The title is left out when there is none or the chunk already starts with it.
    """
    if chunk.title and not chunk.text.startswith(chunk.title):
        return f"{chunk.title}\n{chunk.text}"
    return chunk.text
