"""Answering for the UI: per-request options → a (cached) answer pipeline → streamed answer.

The embedding model and the index are loaded once per process (``load_searcher``
caches them) and shared by every session; a pipeline is cheap and is cached per
generator configuration. After a knowledge-base change the searcher is reloaded and
the next request builds its pipeline on the new one.
"""

from __future__ import annotations

import threading
import time
import uuid
from dataclasses import dataclass
from typing import Any, Iterator, Sequence

from rag.answer import GENERATORS
from rag.answer.question_input import prepare_question
from rag.config import Settings
from rag.errors import InputError
from rag.records import Answer

MODES = ("hybrid", "dense", "bm25")
MAX_HISTORY_TURNS = 6


@dataclass(frozen=True)
class Options:
    """What the settings panel controls, per request."""

    generator: str = "extractive"
    base_url: str | None = None
    model: str | None = None
    api_key: str | None = None
    k: int = 5
    mode: str = "hybrid"

    @classmethod
    def from_settings(cls, settings: Settings) -> "Options":
        return cls(
            generator=settings.generator,
            base_url=settings.llm_base_url,
            model=settings.llm_model,
            api_key=settings.llm_api_key,
            k=settings.top_k,
            mode=settings.retrieval_mode,
        )

    def checked(self) -> "Options":
        if self.generator not in GENERATORS:
            raise InputError(f"未知的生成方式：{self.generator}（可选 {' / '.join(GENERATORS)}）")
        if self.mode not in MODES:
            raise InputError(f"未知的检索方式：{self.mode}（可选 {' / '.join(MODES)}）")
        k = int(self.k)
        if not 1 <= k <= 20:
            raise InputError(f"检索段落数应在 1 到 20 之间（当前 {k}）。")
        if self.generator == "openai" and not ((self.base_url or "").strip() and (self.model or "").strip()):
            raise InputError("使用 OpenAI 兼容接口时，请填写接口地址（Base URL）和模型名称。")
        return Options(
            self.generator,
            (self.base_url or "").strip() or None,
            (self.model or "").strip() or None,
            (self.api_key or "").strip() or None,
            k,
            self.mode,
        )

    def public(self) -> dict[str, Any]:
        """The options without the API key (for logs)."""
        return {"generator": self.generator, "base_url": self.base_url, "model": self.model, "k": self.k, "mode": self.mode}


_pipelines: dict[tuple, tuple[object, object]] = {}
_pipelines_lock = threading.Lock()


def pipeline_for(settings: Settings, options: Options):
    """An ``AnswerPipeline`` for these options over the current shared searcher."""
    from rag.chain import AnswerPipeline
    from rag.retrieval import load_searcher

    searcher = load_searcher(settings)
    key = (str(settings.index_dir), options.generator, options.base_url, options.model, options.api_key)
    with _pipelines_lock:
        cached = _pipelines.get(key)
        if cached is not None and cached[0] is searcher:
            return cached[1]
        configured = settings.replace(
            generator=options.generator,
            llm_base_url=options.base_url,
            llm_model=options.model,
            llm_api_key=options.api_key,
        )  # k and mode are per request: passed to invoke/stream, not part of the cached pipeline
        pipeline = AnswerPipeline(configured, searcher=searcher)
        if len(_pipelines) > 16:
            _pipelines.clear()
        _pipelines[key] = (searcher, pipeline)
        return pipeline


def clean_question(question: str | None) -> str:
    """The question without control characters; ``InputError`` when empty or without words.

    A question over Settings.question_max_chars is cut by the answering chain, which
    adds a notice to the answer (``Answer.notices``), so it is not cut here.
    """
    return prepare_question(question).text


def clean_history(history: Sequence[Sequence[str]] | None) -> list[tuple[str, str]]:
    """(question, answer) pairs, most recent last, at most ``MAX_HISTORY_TURNS``."""
    pairs = []
    for item in history or []:
        if isinstance(item, dict):
            question, answer = item.get("question"), item.get("answer")
        elif isinstance(item, (list, tuple)) and len(item) == 2:
            question, answer = item
        else:
            raise InputError("对话历史的格式应为 [[问题, 回答], …]。")
        if isinstance(question, str) and isinstance(answer, str) and question.strip():
            pairs.append((question, answer))
    return pairs[-MAX_HISTORY_TURNS:]


def stream_answer(
    settings: Settings, question: str, history: Sequence[tuple[str, str]], options: Options, where=None
) -> Iterator[str | Answer]:
    """Text deltas, then the final ``Answer`` (the chain's ``stream`` contract); ``where``
    a :class:`~rag.store.filters.SearchFilter`."""
    options = options.checked()
    pipeline = pipeline_for(settings, options)
    yield from pipeline.stream(question, list(history), k=options.k, mode=options.mode, where=where)


def answer(settings: Settings, question: str, history: Sequence[tuple[str, str]], options: Options, where=None) -> Answer:
    options = options.checked()
    pipeline = pipeline_for(settings, options)
    return pipeline.invoke(question, list(history), k=options.k, mode=options.mode, where=where)


def new_turn(question: str, history: Sequence[tuple[str, str]], options: Options) -> dict[str, Any]:
    """The session-state record of one chat turn (what feedback logs refer to)."""
    return {
        "id": uuid.uuid4().hex,
        "question": question,
        "history": [list(pair) for pair in history],
        "options": options.public(),
        "answer": None,
        "answer_json": None,
        "standalone_question": None,
        "started": time.time(),
    }


def finish_turn(turn: dict[str, Any], result: Answer) -> dict[str, Any]:
    turn = dict(turn)
    turn["question"] = result.question  # as answered: cleaned, and cut when it was too long
    turn["answer"] = result.answer
    turn["answer_json"] = result.to_json()
    turn["standalone_question"] = result.standalone_question
    return turn
