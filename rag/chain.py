"""The answering chain (LCEL): rewrite → retrieve → format → generate → check citations.

```python
pipeline = AnswerPipeline(Settings.from_env())
answer = pipeline.invoke("太钢的碳中和目标是什么")
for part in pipeline.stream("那2030年呢？", [("太钢的碳中和目标是什么", answer.answer)]):
    ...  # str deltas, then the final Answer
```

Each step is a ``RunnableLambda`` over one state dict, so ``as_runnable()`` is the chain
itself and LangChain callbacks/tracing see every step by name.
"""

from __future__ import annotations

import copy
import threading
import time
from collections import OrderedDict
from typing import Any, Iterator, Sequence

import numpy as np
from langchain_core.runnables import Runnable, RunnableLambda

from rag.answer import GENERATORS, Draft, Generator
from rag.answer import prompts as P
from rag.answer.citations import SUPPORT_POSITION, check_citations
from rag.answer.extractive import ExtractiveGenerator
from rag.answer.question_input import prepare_question
from rag.answer.rewrite import rewrite_rule_based
from rag.config import Settings
from rag.errors import InputError
from rag.records import Answer
from rag.store.calibration import common_characters, measure



class AnswerPipeline:
    """Question (+ chat history) → ``Answer`` with checked citations."""

    def __init__(self, settings: Settings, searcher=None):
        if searcher is None:
            from rag.retrieval import load_searcher

            searcher = load_searcher(settings)
        self.settings = settings
        self.searcher = searcher
        self.refusal = P.refusal_text(settings.prompts_dir)
        self._default_filter = settings.search_filter()
        self._query_vectors: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()
        self._search = _sharing_query_vectors(searcher, self._embed_query)
        self._generators: dict[str, Generator] = {}
        self._chain = self._build()

    # -- public API ------------------------------------------------------------

    def invoke(self, question: str, history: Sequence[tuple[str, str]] = (), *, k=None, mode=None, generator=None,
               where=None) -> Answer:
        """``where``: a :class:`~rag.store.filters.SearchFilter` (default: the settings' own filter)."""
        return self._chain.invoke(self._inputs(question, history, k, mode, generator, where))

    def stream(self, question: str, history: Sequence[tuple[str, str]] = (), *, k=None, mode=None, generator=None,
               where=None) -> Iterator[str | Answer]:
        """Text deltas as the generator produces them, then the checked ``Answer``."""
        state = self._prepare.invoke(self._inputs(question, history, k, mode, generator, where))
        started = time.perf_counter()
        draft: Draft | None = None
        for part in state["generator"].stream(state["standalone"], state["contexts"]):
            if isinstance(part, Draft):
                draft = part
            else:
                yield part
        state["draft"] = draft or Draft(self.refusal, True, "empty reply")
        state["timings"]["generate"] = (time.perf_counter() - started) * 1000
        yield self._check(state)

    def as_runnable(self) -> Runnable:
        """The LCEL chain: input dict(question, history, k, mode, generator) → ``Answer``."""
        return self._chain

    # -- the chain -------------------------------------------------------------

    def _build(self) -> Runnable:
        self._prepare = (
            RunnableLambda(self._rewrite, name="rewrite")
            | RunnableLambda(self._retrieve, name="retrieve")
            | RunnableLambda(self._format, name="format_context")
        )
        return (
            self._prepare
            | RunnableLambda(self._generate, name="generate")
            | RunnableLambda(self._check, name="check_citations")
        ).with_config(run_name="answer_pipeline")

    def _inputs(self, question, history, k, mode, generator, where=None) -> dict[str, Any]:
        prepared = prepare_question(question, self.settings.question_max_chars)  # InputError when unusable
        return {
            "question": prepared.text,
            "notices": list(prepared.notices),
            "history": [(str(u), str(a)) for u, a in (history or ())],
            "k": int(k or self.settings.top_k),
            "mode": mode or self.settings.retrieval_mode,
            "generator": generator or self.settings.generator,
            "where": where if where is not None else self._default_filter,
        }

    def _rewrite(self, state: dict) -> dict:
        state = {**state, "started": time.perf_counter(), "timings": {}}
        state["generator"] = self._generator(state["generator"])
        question, history = state["question"], state["history"]
        standalone = question
        if history:
            rewrite = getattr(state["generator"], "rewrite", None)
            standalone = rewrite(question, history) if rewrite else rewrite_rule_based(question, history)
        state["standalone"] = standalone.strip() or question
        return state

    def _retrieve(self, state: dict) -> dict:
        started = time.perf_counter()
        where = state.get("where")
        if where is not None and not where.is_empty:
            contexts = self._search.search(state["standalone"], state["k"], state["mode"], where)
            if not contexts and not self.searcher.matching(where):
                state["notices"] = [*state.get("notices", []), f"no article matches the filter ({where.describe()})"]
        else:  # searchers that know no filters (wrappers, test doubles) are called as before
            contexts = self._search.search(state["standalone"], state["k"], state["mode"])
        state["contexts"] = contexts
        state["timings"]["retrieve"] = (time.perf_counter() - started) * 1000
        return state

    def _format(self, state: dict) -> dict:
        """The numbered, delimited passages (what an LLM sees; kept for logging and tests)."""
        state["context_text"] = P.format_passages(self.settings.prompts_dir, state["contexts"])
        return state

    def _generate(self, state: dict) -> dict:
        started = time.perf_counter()
        state["draft"] = state["generator"].generate(state["standalone"], state["contexts"])
        state["timings"]["generate"] = (time.perf_counter() - started) * 1000
        return state

    def _check(self, state: dict) -> Answer:
        started = time.perf_counter()
        draft: Draft = state["draft"]
        contexts = state["contexts"]
        standalone = state["standalone"] if state["standalone"] != state["question"] else None
        if draft.refused:
            answer = Answer(state["question"], self.refusal, True, [], contexts, standalone_question=standalone)
        else:
            checked = check_citations(
                draft.text, contexts, embed=self._embed_passages, min_cosine=self._support_cosine(), exempt=[self.refusal],
                question=state["standalone"],
            )
            # an answer no passage supports is not taken from the passages: refuse instead of showing it
            refused = not checked.citations
            answer = Answer(
                state["question"],
                checked.answer if not refused else self.refusal,
                refused,
                checked.citations,
                contexts,
                standalone_question=standalone,
                unsupported=checked.unsupported,
            )
        state["timings"]["generate"] = state["timings"].get("generate", 0.0) + (time.perf_counter() - started) * 1000
        state["timings"]["total"] = (time.perf_counter() - state["started"]) * 1000
        answer.timings_ms = {name: state["timings"].get(name, 0.0) for name in ("retrieve", "generate", "total")}
        answer.notices = list(state.get("notices", ()))
        answer.reasoning = draft.reasoning
        return answer

    # -- helpers ---------------------------------------------------------------

    def _generator(self, choice) -> Generator:
        if not isinstance(choice, str):
            return choice  # a ready Generator object
        name = choice.strip().lower()
        if name not in GENERATORS:
            raise InputError(f"Unknown generator '{choice}'. Use one of: {', '.join(GENERATORS)}")
        with self._lock:
            return self._built(name)

    def _built(self, name: str) -> Generator:
        """The generator called ``name``, built on first use (the caller holds the lock)."""
        if name in self._generators:
            return self._generators[name]
        if name == "extractive":
            generator = ExtractiveGenerator(
                self.refusal,
                self.settings.answer_max_chars,
                self._embed_query,
                self._embed_passages,
                sentence_cache=getattr(self.searcher, "sentence_vectors", None),
                cosine_moments=_cosine_moments(self.searcher),
                common=_common_characters(self.searcher),
            )
        else:
            generator = self._chat_generator(name, self._built("extractive"))
        self._generators[name] = generator
        return generator

    def _chat_generator(self, name: str, extractive: ExtractiveGenerator) -> Generator:
        """``openai`` or ``local``, gated by the extractive answerer's refusal signals: a question
        the passages cannot answer is refused before the model is asked (so it cannot be
        answered from the model's own knowledge either)."""
        if name == "local":
            from rag.answer.local import LocalGenerator

            generator = LocalGenerator(self.settings)
        else:
            from rag.answer.llm import OpenAIGenerator

            generator = OpenAIGenerator(self.settings)

        def gate(question: str, contexts) -> Draft:
            draft = extractive.generate(question, contexts)
            return Draft(draft.text, True, f"evidence: {draft.reason}") if draft.refused else draft

        generator.evidence_gate = gate
        return generator

    def _support_cosine(self) -> float | None:
        """The cosine at which a passage supports a sentence, on this index's own scale (measured once)."""
        if not hasattr(self, "_support"):
            chunks, vectors = _index_sample(getattr(self.searcher, "store", None))
            scale = measure(vectors, chunks) if chunks else None
            self._support = scale.at(SUPPORT_POSITION) if scale else None
        return self._support

    def _embed_query(self, text: str) -> np.ndarray:
        """The question's vector, computed once per question for retrieval and sentence scoring."""
        with self._lock:
            cached = self._query_vectors.get(text)
        if cached is not None:
            return cached
        vector = np.asarray(self.searcher.embeddings.encode_queries([text])[0], dtype=np.float32)
        with self._lock:
            self._query_vectors[text] = vector
            while len(self._query_vectors) > 256:
                self._query_vectors.popitem(last=False)
        return vector

    def _embed_passages(self, texts: list[str]) -> np.ndarray:
        return np.asarray(self.searcher.embeddings.encode_passages(list(texts)), dtype=np.float32)


def _index_sample(store) -> tuple[list, np.ndarray | None]:
    """Every chunk of the index and its vector (in that order), for measuring its cosine scale."""
    if store is None or not store.count() or not store.capabilities.raw_vectors:
        return [], None
    chunks = store.all_chunks()
    by_id = store.vectors_of([c.chunk_id for c in chunks])
    return chunks, np.vstack([by_id[c.chunk_id] for c in chunks])


def _common_characters(searcher) -> frozenset[str]:
    """The characters too common on this index for one shared character to make a near form."""
    store = getattr(searcher, "store", None)
    return common_characters(store.all_chunks()) if store is not None and store.count() else frozenset()


def _cosine_moments(searcher):
    """The question's mean and spread of cosine over the index's chunks (None for a searcher without an index)."""
    moments = getattr(searcher, "score_moments", None)
    store = getattr(searcher, "store", None)
    if moments is None or store is None or not store.count() or moments() is None:
        return None
    return lambda query_vector: moments().mean_std(query_vector)


class _SharedQueryEmbeddings:
    """The searcher's embedding model, with query vectors taken from the pipeline's cache."""

    def __init__(self, inner, embed_query):
        self._inner = inner
        self._embed_query = embed_query

    def encode_queries(self, texts, **kwargs):
        return np.stack([self._embed_query(text) for text in texts])

    def __getattr__(self, name):
        return getattr(self._inner, name)


def _sharing_query_vectors(searcher, embed_query):
    """A view of ``searcher`` whose query embedding goes through ``embed_query``.

    Retrieval and the extractive scorer both need the question's vector; this way it is
    computed once. The view shares the searcher's index; the searcher itself is unchanged.
    Only a plain ``Searcher`` gets a view; anything else is used as it is.
    """
    from rag.retrieval import Searcher

    if type(searcher) is not Searcher:  # a wrapper or a test double: leave it alone
        return searcher
    view = copy.copy(searcher)
    view.embeddings = _SharedQueryEmbeddings(searcher.embeddings, embed_query)
    return view
