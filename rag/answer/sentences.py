"""Verbatim sentence spans and the small text features every answer module shares.

Answers must quote passages exactly (a cited sentence has to be found, character for
character, in the passage it cites), so sentences are *spans* of the passage text:
never normalised, joined or trimmed except for surrounding whitespace.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

# A sentence ends at one of these, plus any closing quotes or brackets right after it.
_SENTENCE_END = re.compile(r"[。！？!?；;…]+[”’」』）)\]】]*|\n+")
_MARKER = re.compile(r"\[(\d{1,3})\]")
_CJK = re.compile(r"[\u3400-\u9fff]")
# a four-digit year: 2025年, 2025 年, 2025—2030
YEAR = re.compile(r"(?<!\d)((?:19|20)\d{2})(?!\d)")


@dataclass(frozen=True)
class Sentence:
    """One sentence of one passage: ``text`` is exactly ``passage[start:end]``."""

    text: str
    start: int
    end: int
    passage: int = 0  # 1-based passage number (SearchResult.rank)
    position: int = 0  # index of the sentence inside its passage


def split_spans(text: str, *, passage: int = 0) -> list[Sentence]:
    """Split ``text`` into verbatim sentences (``text[s.start:s.end] == s.text``)."""
    spans: list[Sentence] = []
    begin = 0
    for match in _SENTENCE_END.finditer(text):
        _add_span(text, begin, match.end(), spans, passage)
        begin = match.end()
    _add_span(text, begin, len(text), spans, passage)
    return spans


def _add_span(text: str, start: int, end: int, spans: list[Sentence], passage: int) -> None:
    piece = text[start:end]
    stripped = piece.strip()
    if not _CJK.search(stripped) and not re.search(r"[A-Za-z0-9]", stripped):
        return  # punctuation or whitespace only
    start += len(piece) - len(piece.lstrip())
    spans.append(Sentence(stripped, start, start + len(stripped), passage, len(spans)))


_ANSWER_BREAK = re.compile(r"(?P<end>[。！？!?；;]+[”’」』）)]*(?:[ \t]*\[\d{1,3}\])*)|(?P<newline>\n+)")


def answer_spans(answer: str) -> list[tuple[int, int]]:
    """Sentence spans ``(start, end)`` of generated answer text, markers included.

    A marker written right after the closing punctuation (``…目标。[1]``) belongs to the
    sentence before it, as does one written before it (``…目标[1]。``). Text between
    spans is whitespace only, so ``answer`` can be rebuilt span by span.
    """
    spans: list[tuple[int, int]] = []
    begin = 0
    for match in _ANSWER_BREAK.finditer(answer):
        end = match.end() if match.group("end") else match.start()
        _add_answer_span(answer, begin, end, spans)
        begin = match.end()
    _add_answer_span(answer, begin, len(answer), spans)
    return spans


def _add_answer_span(answer: str, start: int, end: int, spans: list[tuple[int, int]]) -> None:
    piece = answer[start:end]
    if not strip_markers(piece).strip(" \t\n。！？!?；;，,"):
        if spans and piece.strip():  # stray markers or punctuation: glue to the previous sentence
            spans[-1] = (spans[-1][0], end)
        return
    start += len(piece) - len(piece.lstrip())
    end -= len(piece) - len(piece.rstrip())
    spans.append((start, end))


def split_answer(answer: str) -> list[str]:
    """The sentences of an answer, each with its markers."""
    return [answer[s:e] for s, e in answer_spans(answer)]


def markers(text: str) -> list[int]:
    """The citation numbers written in ``text``, in order."""
    return [int(n) for n in _MARKER.findall(text)]


def strip_markers(text: str) -> str:
    return _MARKER.sub("", text)


# The same passage sentences are compared with every question, so both forms are cached.
CACHED_TEXTS = 1 << 16


@lru_cache(maxsize=CACHED_TEXTS)
def normalize(text: str) -> str:
    """NFKC, no whitespace: the form used to compare answer text with passages."""
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", text))


@lru_cache(maxsize=CACHED_TEXTS)
def bigrams(text: str) -> frozenset[str]:
    """Character bigrams of the CJK/alphanumeric runs of ``text`` (punctuation ignored)."""
    grams: set[str] = set()
    for run in re.findall(r"[\u3400-\u9fffA-Za-z0-9%.]+", normalize(text)):
        if len(run) == 1:
            grams.add(run)
        grams.update(run[i : i + 2] for i in range(len(run) - 1))
    return frozenset(grams)


def jaccard(a: set[str], b: set[str]) -> float:
    return len(a & b) / len(a | b) if a and b else 0.0


def containment(part: set[str], whole: set[str]) -> float:
    """Share of ``part``'s items found in ``whole``."""
    return len(part & whole) / len(part) if part else 0.0
