"""Evaluation metrics: pure functions over plain values (texts, ranks, flags).

Definitions (all text comparisons use :func:`rag.evaluation.questions.contains`,
i.e. NFKC normalisation with every whitespace character removed):

Retrieval, over questions that have evidence quotes:

- *hit rank*: the rank (1-based) of the first retrieved chunk that contains **any**
  of the question's evidence quotes; ``None`` when no chunk of the top k does.
- *hit@1*, *hit@k*: 1 when the hit rank is ≤ 1 (≤ k), else 0.
- *MRR*: 1 / hit rank, 0 when there is no hit in the top k.
- *context key-point recall*: over questions with key points, the fraction of key
  points contained in at least one passage given to the generator.

Answer:

- *key-point recall*: over questions with key points, the fraction of key points
  contained in the answer text (a refused answerable question keeps its refusal
  text, so it usually scores 0).
- *all key points rate*: the fraction of those questions whose answer contains every
  key point.
- *refusal accuracy*: over unanswerable questions, the fraction answered with
  ``refused == true``.
- *false-refusal rate*: over answerable questions, the fraction refused.
- *citation validity*: over answers containing at least one ``[n]`` marker, the
  fraction in which every marker resolves to a listed citation or context.
- *citation rate*: over answers that are not refusals, the fraction with at least
  one marker.
- *citation support*: answers are split into sentences (after 。！？!?；; or a line
  break; markers written right after the terminator belong to the sentence before).
  A sentence carrying markers is *supported* when at least one passage it cites
  contains the sentence with its markers and trailing punctuation removed. The
  aggregate is micro-averaged: supported sentences / cited sentences, all answers.

Latency: p50 and p95 use linear interpolation between order statistics (the NumPy
default), over the questions that report a timing.

Every aggregate is ``None`` when no question qualifies for it.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from rag.evaluation.questions import contains

MARKER = re.compile(r"\[(\d+(?:\s*[,，、]\s*\d+)*)\]")
SENTENCE = re.compile(r"[^。！？!?；;\n]+(?:[。！？!?；;]+[”’」』）)\"']*)?(?:[ \t]*\[\d+(?:\s*[,，、]\s*\d+)*\])*")
TRAILING_PUNCT = re.compile(r"[\s。！？!?；;，,、：:”’」』）)\"'…]+$")
LEADING_PUNCT = re.compile(r"^[\s，,、；;：:]+")


# --- retrieval --------------------------------------------------------------------


def first_hit_rank(chunk_texts: Sequence[str], quotes: Sequence[str]) -> int | None:
    """1-based rank of the first chunk containing any of ``quotes``; ``None`` if none does."""
    for rank, text in enumerate(chunk_texts, start=1):
        if any(contains(text, quote) for quote in quotes):
            return rank
    return None


def hit_at(rank: int | None, n: int) -> float:
    """1.0 when a hit was found at rank ``n`` or better, else 0.0."""
    return 1.0 if rank is not None and rank <= n else 0.0


def reciprocal_rank(rank: int | None) -> float:
    """1 / rank, or 0.0 without a hit."""
    return 1.0 / rank if rank else 0.0


# --- key points -------------------------------------------------------------------


def missing_key_points(texts: str | Sequence[str], key_points: Sequence[str]) -> list[str]:
    """The key points contained in none of ``texts`` (a single text or several passages)."""
    passages = [texts] if isinstance(texts, str) else list(texts)
    return [kp for kp in key_points if not any(contains(p, kp) for p in passages)]


def key_point_recall(texts: str | Sequence[str], key_points: Sequence[str]) -> float | None:
    """Fraction of ``key_points`` contained in ``texts``; ``None`` when there are none."""
    if not key_points:
        return None
    return 1.0 - len(missing_key_points(texts, key_points)) / len(key_points)


# --- citations --------------------------------------------------------------------


def citation_markers(answer: str) -> list[int]:
    """Every ``[n]`` (or ``[n, m]``) marker number in order of appearance."""
    numbers = []
    for match in MARKER.finditer(answer):
        numbers.extend(int(x) for x in re.split(r"\s*[,，、]\s*", match.group(1)))
    return numbers


def strip_markers(text: str) -> str:
    """``text`` without citation markers, trailing punctuation and leading separators."""
    text = MARKER.sub("", text)
    return LEADING_PUNCT.sub("", TRAILING_PUNCT.sub("", text))


def cited_sentences(answer: str) -> list[tuple[str, list[int]]]:
    """Split an answer into (sentence without markers, cited numbers) pairs, in order."""
    pairs = []
    for match in SENTENCE.finditer(answer):
        raw = match.group(0)
        text = strip_markers(raw)
        if text:
            pairs.append((text, citation_markers(raw)))
    return pairs


def citations_valid(answer: str, known: Iterable[int]) -> bool | None:
    """Whether every marker resolves to a number in ``known``; ``None`` without markers."""
    markers = citation_markers(answer)
    if not markers:
        return None
    allowed = set(known)
    return all(n in allowed for n in markers)


def citation_support(answer: str, passages: Mapping[int, str]) -> tuple[int, int]:
    """(supported, cited) sentence counts; see the module docstring for the definition."""
    supported = cited = 0
    for sentence, numbers in cited_sentences(answer):
        if not numbers:
            continue
        cited += 1
        if any(n in passages and contains(passages[n], sentence) for n in numbers):
            supported += 1
    return supported, cited


# --- one question -----------------------------------------------------------------


def score_retrieval(chunk_texts: Sequence[str], quotes: Sequence[str], k: int) -> dict[str, Any]:
    """Per-question retrieval metrics for the top ``k`` chunk texts."""
    if not quotes:
        return {"hit_rank": None, "hit@1": None, "hit@k": None, "mrr": None}
    rank = first_hit_rank(list(chunk_texts)[:k], quotes)
    return {"hit_rank": rank, "hit@1": hit_at(rank, 1), "hit@k": hit_at(rank, k), "mrr": reciprocal_rank(rank)}


def score_answer(
    answer: str,
    refused: bool,
    key_points: Sequence[str],
    answerable: bool,
    passages: Mapping[int, str],
) -> dict[str, Any]:
    """Per-question answer metrics; ``passages`` maps citation/context numbers to texts."""
    missing = missing_key_points(answer, key_points)
    recall = key_point_recall(answer, key_points)
    supported, cited = citation_support(answer, passages)
    return {
        "key_point_recall": recall,
        "all_key_points": None if recall is None else float(not missing),
        "missing_key_points": missing,
        "refused": bool(refused),
        "refusal_correct": None if answerable else float(bool(refused)),
        "false_refusal": float(bool(refused)) if answerable else None,
        "has_citation": bool(citation_markers(answer)),
        "citation_valid": citations_valid(answer, passages.keys()),
        "supported_sentences": supported,
        "cited_sentences": cited,
    }


# --- aggregates -------------------------------------------------------------------


def mean(values: Iterable[float | bool | None]) -> float | None:
    """Mean of the non-``None`` values; ``None`` when there are none."""
    kept = [float(v) for v in values if v is not None]
    return sum(kept) / len(kept) if kept else None


def percentile(values: Iterable[float | None], q: float) -> float | None:
    """The ``q``-th percentile (0–100) with linear interpolation; ``None`` for no values."""
    data = sorted(float(v) for v in values if v is not None)
    if not data:
        return None
    position = (len(data) - 1) * q / 100.0
    low, high = math.floor(position), math.ceil(position)
    return data[low] + (data[high] - data[low]) * (position - low)


def ratio(numerator: int, denominator: int) -> float | None:
    return numerator / denominator if denominator else None


def aggregate_retrieval(rows: Sequence[Mapping[str, Any]]) -> dict[str, float | None]:
    """Retrieval aggregates over per-question rows (see :func:`score_question`)."""
    return {
        "hit@1": mean(r["retrieval"]["hit@1"] for r in rows),
        "hit@k": mean(r["retrieval"]["hit@k"] for r in rows),
        "mrr": mean(r["retrieval"]["mrr"] for r in rows),
        "context_key_point_recall": mean(r.get("context_key_point_recall") for r in rows),
    }


def aggregate_answer(rows: Sequence[Mapping[str, Any]]) -> dict[str, float | None] | None:
    """Answer aggregates; ``None`` when no row has an answer."""
    answers = [r["answer_metrics"] for r in rows if r.get("answer_metrics") is not None]
    if not answers:
        return None
    with_markers = [a for a in answers if a["citation_valid"] is not None]
    not_refused = [a for a in answers if not a["refused"]]
    return {
        "key_point_recall": mean(a["key_point_recall"] for a in answers),
        "all_key_points_rate": mean(a["all_key_points"] for a in answers),
        "refusal_accuracy": mean(a["refusal_correct"] for a in answers),
        "false_refusal_rate": mean(a["false_refusal"] for a in answers),
        "citation_validity": mean(a["citation_valid"] for a in with_markers),
        "citation_rate": mean(a["has_citation"] for a in not_refused),
        "citation_support": ratio(sum(a["supported_sentences"] for a in answers), sum(a["cited_sentences"] for a in answers)),
    }


def aggregate_latency(rows: Sequence[Mapping[str, Any]]) -> dict[str, dict[str, float | None]]:
    """p50/p95 (ms) of the ``retrieval``, ``generation`` and ``total`` timings in the rows."""
    names = ("retrieval", "generation", "total")
    out = {}
    for name in names:
        values = [r.get("timings_ms", {}).get(name) for r in rows]
        values = [v for v in values if v is not None]
        out[name] = {"p50": percentile(values, 50), "p95": percentile(values, 95), "n": len(values)}
    return out


def aggregate_counts(rows: Sequence[Mapping[str, Any]]) -> dict[str, int]:
    """How many questions each aggregate is taken over."""
    answers = [r["answer_metrics"] for r in rows if r.get("answer_metrics") is not None]
    return {
        "questions": len(rows),
        "answerable": sum(1 for r in rows if r["answerable"]),
        "unanswerable": sum(1 for r in rows if not r["answerable"]),
        "with_evidence": sum(1 for r in rows if r["retrieval"]["hit@k"] is not None),
        "with_key_points": sum(1 for r in rows if r.get("context_key_point_recall") is not None),
        "answered": len(answers),
        "refused": sum(1 for a in answers if a["refused"]),
        "answers_with_citations": sum(1 for a in answers if a["has_citation"]),
        "cited_sentences": sum(a["cited_sentences"] for a in answers),
    }


BOOTSTRAP_SAMPLES = 1000


def confidence_intervals(
    rows: Sequence[Mapping[str, Any]], samples: int = BOOTSTRAP_SAMPLES, seed: int = 0
) -> dict[str, dict[str, list[float] | None]]:
    """Bootstrap 95 % intervals of every retrieval and answer rate: the questions are drawn
    again with replacement ``samples`` times and each rate's 2.5th and 97.5th percentiles
    kept. A change inside the interval is not evidence of progress."""
    import random

    rng = random.Random(seed)
    drawn: dict[str, dict[str, list[float]]] = {"retrieval": {}, "answer": {}}
    for _ in range(samples):
        sample = [rows[rng.randrange(len(rows))] for _ in rows]
        for part, values in (("retrieval", aggregate_retrieval(sample)), ("answer", aggregate_answer(sample) or {})):
            for name, value in values.items():
                if value is not None:
                    drawn[part].setdefault(name, []).append(value)
    return {
        part: {name: [percentile(values, 2.5), percentile(values, 97.5)] for name, values in by_name.items()}
        for part, by_name in drawn.items()
    }


def summarize(rows: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Retrieval, answer and count aggregates for one group of per-question rows."""
    return {"retrieval": aggregate_retrieval(rows), "answer": aggregate_answer(rows), "counts": aggregate_counts(rows)}


def group_by(rows: Sequence[Mapping[str, Any]], key: str, order: Sequence[str] = ()) -> dict[str, list]:
    """Rows grouped by ``row[key]`` (empty values as ``"(none)"``), known ``order`` first."""
    groups: dict[str, list] = {}
    for row in rows:
        groups.setdefault(row.get(key) or "(none)", []).append(row)
    ordered = [g for g in order if g in groups] + sorted(g for g in groups if g not in order)
    return {g: groups[g] for g in ordered}


def breakdown(rows: Sequence[Mapping[str, Any]], key: str, order: Sequence[str] = ()) -> dict[str, dict[str, Any]]:
    """:func:`summarize` per group of ``key`` (question type or main file)."""
    return {group: summarize(members) for group, members in group_by(rows, key, order).items()}


def score_question(
    key_points: Sequence[str],
    quotes: Sequence[str],
    answerable: bool,
    retrieved: Sequence[str],
    k: int,
    contexts: Sequence[str],
    answer: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """All per-question metrics.

    ``retrieved`` are the top-k chunk texts in rank order; ``contexts`` the passages
    given to the generator; ``answer`` (optional) holds ``text``, ``refused`` and
    ``passages`` (citation/context number → passage text).
    """
    context_missing = missing_key_points(contexts, key_points)
    return {
        "retrieval": score_retrieval(retrieved, quotes, k),
        "context_key_point_recall": key_point_recall(contexts, key_points),
        "context_missing_key_points": context_missing,
        "answer_metrics": None
        if answer is None
        else score_answer(answer["text"], answer["refused"], key_points, answerable, answer["passages"]),
    }
