"""Run retrieval (and answering) over a question set and score every question.

The runner only gathers: for each question it retrieves the top k chunks, asks the
answer pipeline (when one is given) and turns both into one plain per-question *row*
(a JSON-ready dict). Scoring is delegated to :mod:`rag.evaluation.metrics`; the
report is built by :func:`build_report` and written by :mod:`rag.evaluation.report`.

A row puts what a reader needs to see a failure first (id, type, question, hit rank,
missing key points, answer, refused) and the raw material for re-scoring last
(retrieved chunks, contexts, citations), so ``bench/score_independent.py`` can
recompute the headline figures from the rows and the question file alone.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

from rag.evaluation import metrics
from rag.evaluation.questions import QUESTION_TYPES, Question
from rag.records import Answer, SearchResult

# Answer.timings_ms names → the three latencies the report shows.
TIMING_ALIASES = {
    "retrieval": ("retrieval", "retrieve", "search"),
    "generation": ("generation", "generate", "answer", "llm"),
    "total": ("total",),
}


class SearcherLike(Protocol):
    def search(self, query: str, k: int = 5, mode: str = "hybrid") -> list[SearchResult]: ...


class PipelineLike(Protocol):
    def invoke(self, question: str, history=(), **kwargs) -> Answer: ...


@dataclass
class RunConfig:
    """What a run was asked to do; stored under ``config`` in report.json."""

    questions: str
    k: int = 5
    mode: str = "hybrid"
    fusion: str | None = None
    dense_weight: float | None = None
    sentence_weight: float | None = None  # best-sentence re-ranking after score fusion (0: off)
    generator: str | None = None
    answers: bool = True
    index: dict[str, Any] = field(default_factory=dict)
    machine: str = field(default_factory=lambda: machine_description())

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


class MemoSearcher:
    """A searcher that remembers its recent results, so the runner's own retrieval can
    reuse the pipeline's identical search (same question, k, mode) instead of repeating it.

    Everything else (``store``, ``embeddings`` …) is the wrapped searcher's.
    """

    def __init__(self, searcher: SearcherLike, size: int = 4096):
        self._searcher = searcher
        self._size = size
        self._memo: dict[tuple[str, int, str], list[SearchResult]] = {}

    def search(self, query: str, k: int = 5, mode: str = "hybrid", *where) -> list[SearchResult]:
        key = (query, k, mode, *where)
        if key not in self._memo:
            if len(self._memo) >= self._size:
                self._memo.pop(next(iter(self._memo)))
            self._memo[key] = self._searcher.search(query, k, mode, *where)
        return list(self._memo[key])

    def __getattr__(self, name: str):
        return getattr(self._searcher, name)


def machine_description() -> str:
    """Where latencies were measured, e.g. ``Linux x86_64, 2 CPU cores``."""
    import os
    import platform

    return f"{platform.system()} {platform.machine()}, {os.cpu_count()} CPU cores"


# --- per question ---------------------------------------------------------------


def passage_json(result: SearchResult, number_key: str = "rank", number: int | None = None) -> dict[str, Any]:
    """The compact JSON shape of one passage in a row."""
    chunk = result.chunk
    return {
        number_key: result.rank if number is None else number,
        "chunk_id": chunk.chunk_id,
        "source": chunk.source,
        "title": chunk.title,
        "text": chunk.text,
    }


def answer_passages(answer: Answer) -> dict[int, str]:
    """Citation/context number → passage text (a listed citation wins over a context)."""
    passages = {r.rank: r.chunk.text for r in answer.contexts}
    passages.update({c.n: c.result.chunk.text for c in answer.citations})
    return passages


def normalize_timings(timings: dict[str, float]) -> dict[str, float]:
    """Map an ``Answer.timings_ms`` dict onto ``retrieval``/``generation``/``total``."""
    out: dict[str, float] = {}
    for name, aliases in TIMING_ALIASES.items():
        for alias in aliases:
            if alias in timings:
                out[name] = round(float(timings[alias]), 2)
                break
    if "total" not in out and timings:
        out["total"] = round(float(sum(timings.values())), 2)
    return out


def score_row(
    question: Question,
    retrieved: Sequence[SearchResult],
    k: int,
    answer: Answer | None = None,
    timings: dict[str, float] | None = None,
) -> dict[str, Any]:
    """One question's row: readable fields first, metrics, then the raw passages."""
    contexts = answer.contexts if answer is not None else list(retrieved)
    answer_view = None
    if answer is not None:
        answer_view = {"text": answer.answer, "refused": answer.refused, "passages": answer_passages(answer)}
    scores = metrics.score_question(
        question.key_points,
        [e.quote for e in question.evidence],
        question.answerable,
        [r.chunk.text for r in retrieved],
        k,
        [r.chunk.text for r in contexts],
        answer_view,
    )
    answer_metrics = scores["answer_metrics"]
    return {
        "id": question.id,
        "type": question.type,
        "file": question.file,
        "question": question.question,
        "hit_rank": scores["retrieval"]["hit_rank"],
        "missing_key_points": answer_metrics["missing_key_points"] if answer_metrics else None,
        "answer": answer.answer if answer is not None else None,
        "refused": answer.refused if answer is not None else None,
        "context_missing_key_points": scores["context_missing_key_points"],
        "reference_answer": question.answer,
        "key_points": list(question.key_points),
        "answerable": question.answerable,
        "retrieval": scores["retrieval"],
        "context_key_point_recall": scores["context_key_point_recall"],
        "answer_metrics": answer_metrics,
        "timings_ms": timings or {},
        "retrieved": [passage_json(r) for r in retrieved],
        "contexts": [passage_json(r, "n") for r in contexts],
        "citations": [passage_json(c.result, "n", c.n) for c in answer.citations] if answer is not None else [],
    }


def evaluate_question(
    question: Question,
    searcher: SearcherLike,
    pipeline: PipelineLike | None,
    *,
    k: int,
    mode: str,
    generator: str | None = None,
) -> dict[str, Any]:
    """Answer (when there is a pipeline) and retrieve one question, and score it.

    The pipeline runs first so its own timings are real; when it shares a
    :class:`MemoSearcher` with the runner, the runner's retrieval is then a memo hit.
    """
    if pipeline is None:
        started = time.perf_counter()
        retrieved = searcher.search(question.question, k, mode)
        search_ms = round((time.perf_counter() - started) * 1000.0, 2)
        return score_row(question, retrieved, k, None, {"retrieval": search_ms, "total": search_ms})
    kwargs: dict[str, Any] = {"k": k, "mode": mode}
    if generator:
        kwargs["generator"] = generator
    answer = pipeline.invoke(question.question, (), **kwargs)
    retrieved = searcher.search(question.question, k, mode)
    return score_row(question, retrieved, k, answer, normalize_timings(answer.timings_ms))


def evaluate(
    questions: Sequence[Question],
    searcher: SearcherLike,
    pipeline: PipelineLike | None = None,
    *,
    k: int = 5,
    mode: str = "hybrid",
    generator: str | None = None,
    progress: bool = True,
    on_row: Callable[[dict[str, Any]], None] | None = None,
) -> list[dict[str, Any]]:
    """Rows for every question, in file order, with a progress bar on stderr."""
    from tqdm import tqdm

    rows = []
    with tqdm(total=len(questions), desc="eval", unit="q", file=sys.stderr, disable=not progress) as bar:
        for question in questions:
            row = evaluate_question(question, searcher, pipeline, k=k, mode=mode, generator=generator)
            rows.append(row)
            if on_row:
                on_row(row)
            bar.update(1)
    return rows


# --- the report dict --------------------------------------------------------------


def build_report(
    rows: Sequence[dict[str, Any]],
    config: RunConfig,
    *,
    baselines: dict[str, Any] | None = None,
    judge: dict[str, Any] | None = None,
    answers_skipped: str | None = None,
) -> dict[str, Any]:
    """The report.json structure (stable keys; see docs/report.md for their meaning)."""
    overall = metrics.summarize(rows)
    answer = overall["answer"]
    if answer is None:
        answer = {"skipped": True, "reason": answers_skipped or "answers were not generated (--retrieval-only)"}
    return {
        "retrieval": overall["retrieval"],
        "answer": answer,
        "latency_ms": metrics.aggregate_latency(rows),
        "counts": overall["counts"],
        "intervals_95": metrics.confidence_intervals(rows) if rows else {},
        "by_type": metrics.breakdown(rows, "type", QUESTION_TYPES),
        "by_file": metrics.breakdown(rows, "file"),
        "baselines": baselines if baselines is not None else {"skipped": True, "reason": "run with --compare"},
        "judge": judge if judge is not None else {"skipped": True, "reason": "not run"},
        "config": config.to_json(),
    }
