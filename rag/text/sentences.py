"""Where Chinese sentences end: the one sentence splitter of chunking, answering and the UI.

A sentence ends at final punctuation (repeated, as in "……" or "？！") followed by any
closing quotes or brackets (``…第一责任人。”``), or at a line break. ASCII "." is not an
end, so numbers such as 30.77% are never split. Spans are offsets into the text, so
callers can quote sentences verbatim.
"""

from __future__ import annotations

import re

SENTENCE_END = "。！？；…!?;"
CLOSERS = "”’」』）)】》〕\"'"
SENTENCE_BREAK = re.compile(f"[{re.escape(SENTENCE_END)}]+[{re.escape(CLOSERS)}]*|\n")
# Where a long sentence divides into clauses: after a comma-like mark.
CLAUSE_BREAK = re.compile("[，、：,:]")
# Where a sentence divides into clauses that each state one fact; 、 joins the items of
# one clause (会长、秘书长某某), so it does not divide.
FACT_CLAUSE_END = re.compile("[，,；;：:]")


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """``(start, end)`` offsets of each sentence of ``text``, whitespace trimmed, empty ones left out."""
    spans = []
    start = 0
    for m in SENTENCE_BREAK.finditer(text):
        end = m.end() if m.group() != "\n" else m.start()
        spans.append(_strip_span(text, start, end))
        start = m.end()
    spans.append(_strip_span(text, start, len(text)))
    return [(s, e) for s, e in spans if e > s]


def clause_spans(sentence: str) -> list[tuple[int, int]]:
    """``(start, end)`` offsets of the clauses of one sentence (see ``FACT_CLAUSE_END``), each with its mark."""
    spans, start = [], 0
    for m in FACT_CLAUSE_END.finditer(sentence):
        spans.append((start, m.end()))
        start = m.end()
    if start < len(sentence):
        spans.append((start, len(sentence)))
    return spans


def split_sentences(text: str) -> list[str]:
    """The sentences of ``text`` (see ``sentence_spans``)."""
    return [text[s:e] for s, e in sentence_spans(text)]


def _strip_span(text: str, start: int, end: int) -> tuple[int, int]:
    """Narrow ``[start, end)`` so it neither starts nor ends with whitespace."""
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


# A sentence of an answer and its citation markers, in either order ("…[1]。" or "…。[1]")
_MARKED_SENTENCE = re.compile(r".+?(?:(?:\[\d+\])+[。！？!?；;…]*|[。！？!?；;…]+(?:\[\d+\])*|$)", re.S)


def answer_pieces(text: str) -> list[str]:
    """``text`` cut after each sentence and its markers, for streaming a finished answer;
    the pieces join back to ``text`` exactly."""
    pieces, at = [], 0
    for match in _MARKED_SENTENCE.finditer(text):
        if match.end() > at:
            pieces.append(text[at : match.end()])
            at = match.end()
    if at < len(text):
        pieces.append(text[at:])
    return pieces
