"""Retrieval: dense (FAISS), lexical (BM25) and their fusion (z-normalised scores or reciprocal rank).

``Searcher`` is the plain-Python entry point used by the CLI, the chain and the UI;
``NewsRetriever`` exposes the same search as a LangChain ``BaseRetriever``.
"""

from __future__ import annotations

import math
import threading
from typing import Any

import numpy as np
from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever

from rag.text.sentences import split_sentences
from rag.config import Settings
from rag.errors import InputError
from rag.records import SearchResult
from rag.store import IndexStore
from rag.text.matching import lexical_score
from rag.text.question import profile

MODES = ("hybrid", "dense", "bm25")
FUSIONS = ("score", "rrf")
# Rows taken from each method's best when hybrid search runs over an approximate dense
# index (see candidate_score_fusion).
CANDIDATE_POOL = 200
# Fused passages re-scored by their best-matching sentence (see sentence_match_rerank).
RERANK_DEPTH = 10


class Searcher:
    """Search one loaded index with one embedding model."""

    def __init__(
        self,
        store: IndexStore,
        embeddings,
        *,
        fusion: str = "score",
        dense_weight: float = 0.6,
        rrf_k: int = 60,
        candidates: int = 50,
        sentence_weight: float = Settings.sentence_weight,
    ):
        store.manifest.check_model(embeddings.model_id, embeddings.dimension)
        if fusion not in FUSIONS:
            raise InputError(f"Unknown fusion '{fusion}'. Use one of: {', '.join(FUSIONS)}")
        if not sentence_weight >= 0:  # also refuses NaN
            raise InputError(f"The sentence weight must be 0 (off) or more, not {sentence_weight} (RAG_SENTENCE_WEIGHT).")
        self.store = store
        self.embeddings = embeddings
        self.fusion = fusion
        self.dense_weight = dense_weight
        self.rrf_k = rrf_k
        self.candidates = candidates
        self.sentence_weight = sentence_weight
        # sentence text -> vector, shared by every answer pipeline over this index
        self.sentence_vectors: dict[str, np.ndarray] = {}
        self._moments: ScoreMoments | None = None
        self._moments_lock = threading.Lock()

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
        if mode == "dense":
            ranked = dense = self.store.dense.search(self._query_vector(query), depth)
            lexical = []
        elif mode == "bm25":
            ranked = lexical = self.store.lexical.search(query, depth)
            dense = []
        elif self.fusion == "rrf":
            dense = self.store.dense.search(self._query_vector(query), depth)
            lexical = self.store.lexical.search(query, depth)
            ranked = reciprocal_rank_fusion([dense, lexical], self.rrf_k)
        else:
            ranked, dense, lexical = self._fused(query, k, depth)
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

    def _fused(self, query: str, k: int, depth: int) -> tuple[list, list, list]:
        """Score fusion, then the best-sentence re-ranking: (ranked, dense scores, BM25 scores)."""
        query_vector = self._query_vector(query)
        lexical_all = self.store.lexical.scores(query)
        found = None
        if self.pools_candidates:
            found = candidate_score_fusion(
                query_vector, self.store, lexical_all, self.score_moments(), self.dense_weight, self.exact_top(k), CANDIDATE_POOL
            )
        if found is None:  # exact: every passage's dense score, one matrix-vector product
            dense_all = self.store.vectors @ query_vector
            ranked = score_fusion(dense_all, lexical_all, self.dense_weight, limit=depth)
            dense_of = {row: float(dense_all[row]) for row, _ in ranked}
        else:
            ranked, dense_of = found
        if self.sentence_weight:
            ranked = sentence_match_rerank(query, ranked, self.store.chunks, self.sentence_weight)
        dense = [(row, dense_of[row]) for row, _ in ranked]
        lexical = [(row, float(lexical_all[row])) for row, _ in ranked if lexical_all[row] > 0]
        return ranked, dense, lexical

    def _query_vector(self, query: str) -> np.ndarray:
        return self.embeddings.encode_queries([query])[0]

    @property
    def pools_candidates(self) -> bool:
        """Whether hybrid search fuses a pool of candidates (an approximate dense index) instead of every chunk."""
        return self.store.dense.kind != "flat"

    def exact_top(self, k: int) -> int:
        """How many of the best fused rows must be exact: the ``k`` results, or the re-ranked head."""
        return max(k, RERANK_DEPTH) if self.sentence_weight else k

    def score_moments(self) -> "ScoreMoments":
        """The index's :class:`ScoreMoments`, computed on first use (0.3 s at 100,000 chunks)."""
        with self._moments_lock:
            if self._moments is None:
                self._moments = ScoreMoments(self.store.vectors)
            return self._moments


def reciprocal_rank_fusion(rankings: list[list[tuple[int, float]]], k: int = 60) -> list[tuple[int, float]]:
    """Fuse rankings: each row scores the sum of 1 / (k + rank) over the rankings it appears in."""
    fused: dict[int, float] = {}
    for ranking in rankings:
        for rank, (row, _score) in enumerate(ranking, start=1):
            fused[row] = fused.get(row, 0.0) + 1.0 / (k + rank)
    return sorted(fused.items(), key=lambda item: (-item[1], item[0]))


def score_fusion(
    dense: np.ndarray, lexical: np.ndarray, dense_weight: float = 0.6, limit: int | None = None
) -> list[tuple[int, float]]:
    """Fuse by score: a weighted sum of each method's z-normalised scores over all passages.

    Unlike reciprocal-rank fusion it keeps how *confident* each method is: a BM25 hit far
    above the rest (an exact name or number) outweighs a dense near-tie, and vice versa.
    On the dev questions this lifts hit@1 from 0.83 (RRF) to 0.87 (docs/results.md).

    Returns the best ``limit`` rows (all rows for None), best first, ties by row number.
    Only those are sorted: at 100,000 passages sorting all of them took longer than the
    rest of the search (docs/results.md, "Scale").
    """
    fused = dense_weight * _zscore(dense) + (1.0 - dense_weight) * _zscore(lexical)
    rows = np.arange(len(fused))
    if limit is not None and limit < len(fused):
        cutoff = np.partition(fused, len(fused) - limit)[len(fused) - limit]  # the limit-th best score
        rows = np.flatnonzero(fused >= cutoff)  # the best rows, ties at the cutoff included
    order = rows[np.argsort(-fused[rows], kind="stable")][:limit]
    return [(int(row), float(fused[row])) for row in order]


def _zscore(scores: np.ndarray) -> np.ndarray:
    spread = float(scores.std())
    return (scores - scores.mean()) / spread if spread > 0 else np.zeros_like(scores)


def sentence_match_rerank(
    question: str, ranked: list[tuple[int, float]], chunks, weight: float, depth: int = RERANK_DEPTH
) -> list[tuple[int, float]]:
    """Re-score the best ``depth`` fused passages by how well their best *sentence* matches.

    A question written from one sentence of one article shares its words with every
    article on the same story; what sets the right passage apart is a single sentence
    holding most of the question's terms, numbers and bigrams together. Each of the top
    passages gets ``weight`` × that sentence's match (``rag.text.matching.lexical_score``,
    0..1) added to its fused score (z-units); the rest keep their order below them.
    Measured in docs/results.md ("Re-ranking by the best sentence").
    """
    head, tail = ranked[:depth], ranked[depth:]
    if len(head) < 2:
        return ranked
    asked = profile(question)

    def best_sentence(text: str) -> float:
        return max((lexical_score(asked, sentence) for sentence in split_sentences(text)), default=0.0)

    rescored = [(row, score + weight * best_sentence(chunks[row].text)) for row, score in head]
    rescored.sort(key=lambda item: -item[1])  # stable: ties keep the fused order
    return rescored + tail


class ScoreMoments:
    """Mean and spread of the dense scores of *all* passages for any query, without computing them.

    Score fusion z-normalises each method's scores over every passage. For the dense
    scores ``s = X·q`` (X: the n passage vectors, q: the query vector) those statistics
    follow from two sums kept once per index: the mean is ``q·μ`` and the variance
    ``qᵀ(XᵀX/n)q − (q·μ)²``, where ``μ`` is the mean passage vector. That is a 384 × 384
    product per query instead of a pass over 100,000 vectors.
    """

    BLOCK = 8192  # rows converted to float64 at a time

    def __init__(self, vectors: np.ndarray):
        n, dimension = vectors.shape
        total = np.zeros(dimension)
        second = np.zeros((dimension, dimension))
        for start in range(0, n, self.BLOCK):
            block = np.asarray(vectors[start : start + self.BLOCK], dtype=np.float64)
            total += block.sum(axis=0)
            second += block.T @ block
        self.mean = total / max(n, 1)
        self.second = second / max(n, 1)

    def mean_std(self, query_vector: np.ndarray) -> tuple[float, float]:
        q = np.asarray(query_vector, dtype=np.float64)
        mean = float(q @ self.mean)
        variance = float(q @ self.second @ q) - mean * mean
        return mean, math.sqrt(max(variance, 0.0))


def candidate_score_fusion(
    query_vector: np.ndarray,
    store: IndexStore,
    lexical: np.ndarray,
    moments: ScoreMoments,
    dense_weight: float,
    k: int,
    pool: int = CANDIDATE_POOL,
) -> tuple[list[tuple[int, float]], dict[int, float]] | None:
    """Score fusion over a pool of candidates instead of every passage, for large indexes.

    The pool is the dense index's ``pool`` nearest rows (approximate for an HNSW index) and
    BM25's ``pool`` best rows. Each candidate gets exactly the fused score
    :func:`score_fusion` would give it: its dense score is computed from its stored vector,
    and both z-normalisations use statistics over all passages (BM25's from its scores,
    which are computed for every passage anyway; the dense ones from ``moments``).

    A passage outside the pool scores below both methods' pool cut-offs, so its fused
    score is at most the fusion of the two cut-offs. When the ``k``-th best candidate beats
    that bound, the top ``k`` is the exact one (as far as the dense index found the nearest
    rows); otherwise this returns None and the caller scores every passage.

    Returns the ranked candidates (best first, ties by row) and their dense scores.
    """
    n = len(lexical)
    dense_hits = store.dense.search(query_vector, pool)
    lexical_pool = min(pool, n)
    lexical_rows = np.argpartition(-lexical, lexical_pool - 1)[:lexical_pool]
    rows = np.union1d(np.asarray([row for row, _ in dense_hits], dtype=np.int64), lexical_rows)
    dense_scores = store.vectors[rows] @ query_vector

    dense_mean, dense_spread = moments.mean_std(query_vector)
    lexical_mean, lexical_spread = float(lexical.mean()), float(lexical.std())

    def fuse(dense_score, lexical_score):
        z_dense = (dense_score - dense_mean) / dense_spread if dense_spread > 0 else 0.0 * dense_score
        z_lexical = (lexical_score - lexical_mean) / lexical_spread if lexical_spread > 0 else 0.0 * lexical_score
        return dense_weight * z_dense + (1.0 - dense_weight) * z_lexical

    fused = fuse(dense_scores.astype(np.float64), lexical[rows].astype(np.float64))
    order = np.argsort(-fused, kind="stable")  # rows are ascending, so ties stay in row order
    if len(rows) < n:
        dense_floor = min(score for _, score in dense_hits) if len(dense_hits) >= pool else -1.0  # cosine ≥ -1
        lexical_floor = float(lexical[lexical_rows].min()) if lexical_pool < n else 0.0
        best_outside = fuse(dense_floor, lexical_floor)
        if len(order) < k or fused[order[k - 1]] < best_outside:
            return None
    ranked = [(int(rows[i]), float(fused[i])) for i in order]
    return ranked, {int(rows[i]): float(dense_scores[i]) for i in order}


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

    key = (str(settings.index_dir), settings.embedding_model, settings.embedding_variant, str(settings.cache_dir),
           settings.fusion, settings.dense_weight, settings.sentence_weight)
    with _cache_lock:
        if reload or key not in _cache:
            store = IndexStore.open(settings.index_dir)  # fails fast, before the model loads
            store.manifest.check_settings(settings.embedding_model, settings.embedding_variant, settings.index_dir)
            embeddings = load_embeddings(settings)
            _cache[key] = Searcher(  # checks the model matches
                store, embeddings, fusion=settings.fusion, dense_weight=settings.dense_weight, rrf_k=settings.rrf_k,
                sentence_weight=settings.sentence_weight,
            )
        return _cache[key]
