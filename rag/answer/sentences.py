"""Verbatim sentence spans of passages and answers, and citation markers.

Answers must quote passages exactly (a cited sentence has to be found, character for
character, in the passage it cites), so sentences are *spans* of the passage text:
never normalised, joined or trimmed except for surrounding whitespace.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from rag.text.chars import has_word_character
from rag.text.sentences import sentence_spans

_MARKER = re.compile(r"\[(\d{1,3})\]")


@dataclass(frozen=True)
class Sentence:
    """One sentence of one passage: ``text`` is exactly ``passage[start:end]``."""

    text: str
    start: int
    end: int
    passage: int = 0  # 1-based passage number (SearchResult.rank)
    position: int = 0  # index of the sentence inside its passage


def split_spans(text: str, *, passage: int = 0) -> list[Sentence]:
    """Split ``text`` into verbatim sentences (``text[s.start:s.end] == s.text``); punctuation-only pieces are left out."""
    spans = [(start, end) for start, end in sentence_spans(text) if has_word_character(text[start:end])]
    return [Sentence(text[start:end], start, end, passage, position) for position, (start, end) in enumerate(spans)]


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
