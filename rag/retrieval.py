"""Retrieval: dense (FAISS), lexical (BM25) and their reciprocal-rank fusion.

``Searcher`` is the plain-Python entry point used by the CLI, the chain and the UI;
``NewsRetriever`` exposes the same search as a LangChain ``BaseRetriever``.
"""

from __future__ import annotations

import threading
from typing import Any

import numpy as np
from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever

from rag.config import Settings
from rag.errors import InputError
from rag.records import SearchResult
from rag.store import IndexStore

MODES = ("hybrid", "dense", "bm25")


class Searcher:
    """Search one loaded index with one embedding model."""

    def __init__(self, store: IndexStore, embeddings, *, rrf_k: int = 60, candidates: int = 50):
        store.manifest.check_model(embeddings.model_id, embeddings.dimension)
        self.store = store
        self.embeddings = embeddings
        self.rrf_k = rrf_k
        self.candidates = candidates

    def search(self, query: str, k: int = 5, mode: str = "hybrid") -> list[SearchResult]:
        query = (query or "").strip()
        if not query:
            raise InputError("The question is empty. Type a question, e.g. 太钢的碳中和目标是什么")
        if mode not in MODES:
            raise InputError(f"Unknown retrieval mode '{mode}'. Use one of: {', '.join(MODES)}")
        if k < 1:
            raise InputError(f"k must be at least 1 (got {k}).")
        if not self.store.chunks:
            return []
        depth = max(self.candidates, k)
        dense = self._dense(query, depth) if mode in ("hybrid", "dense") else []
        lexical = self.store.lexical.search(query, depth) if mode in ("hybrid", "bm25") else []
        if mode == "dense":
            ranked = dense
        elif mode == "bm25":
            ranked = lexical
        else:
            ranked = reciprocal_rank_fusion([dense, lexical], self.rrf_k)
        dense_scores = dict(dense)
        bm25_scores = dict(lexical)
        results = []
        for rank, (row, score) in enumerate(ranked[:k], start=1):
            scores = {}
            if row in dense_scores:
                scores["dense"] = dense_scores[row]
            if row in bm25_scores:
                scores["bm25"] = bm25_scores[row]
            results.append(SearchResult(self.store.chunks[row], score, rank, scores))
        return results

    def _dense(self, query: str, depth: int) -> list[tuple[int, float]]:
        vector = self.embeddings.encode_queries([query])[0]
        return self.store.dense.search(vector, depth)


def reciprocal_rank_fusion(rankings: list[list[tuple[int, float]]], k: int = 60) -> list[tuple[int, float]]:
    """Fuse rankings: each row scores the sum of 1 / (k + rank) over the rankings it appears in."""
    fused: dict[int, float] = {}
    for ranking in rankings:
        for rank, (row, _score) in enumerate(ranking, start=1):
            fused[row] = fused.get(row, 0.0) + 1.0 / (k + rank)
    return sorted(fused.items(), key=lambda item: (-item[1], item[0]))


class NewsRetriever(BaseRetriever):
    """LangChain retriever over a ``Searcher``: Documents carry the chunk fields as metadata."""

    searcher: Any
    k: int = 5
    mode: str = "hybrid"

    def _get_relevant_documents(self, query: str, *, run_manager: CallbackManagerForRetrieverRun) -> list[Document]:
        return [to_document(r) for r in self.searcher.search(query, self.k, self.mode)]


def to_document(result: SearchResult) -> Document:
    metadata = {**result.chunk.to_dict(), "score": result.score, "rank": result.rank, "scores": result.scores}
    return Document(page_content=result.chunk.text, metadata=metadata, id=result.chunk.chunk_id)


_cache: dict[tuple, Searcher] = {}
_cache_lock = threading.Lock()


def load_searcher(settings: Settings, *, reload: bool = False) -> Searcher:
    """Load the model and index once per process (per index directory and model)."""
    from rag.embeddings import load_embeddings

    key = (str(settings.index_dir), settings.embedding_model, str(settings.cache_dir))
    with _cache_lock:
        if reload or key not in _cache:
            embeddings = load_embeddings(settings)
            store = IndexStore.open(settings.index_dir, embeddings.model_id, embeddings.dimension)
            _cache[key] = Searcher(store, embeddings, rrf_k=settings.rrf_k)
        return _cache[key]
