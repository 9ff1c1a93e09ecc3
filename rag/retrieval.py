"""Retrieval: dense, lexical (BM25) and their fusion (z-normalised scores or reciprocal rank).

``Searcher`` is the plain-Python entry point used by the CLI, the chain and the UI;
``NewsRetriever`` exposes the same search as a LangChain ``BaseRetriever``.

The searcher talks to the index only through the store protocol (rag/store/base.py):
ranked ``(chunk_id, score)`` lists, plus the optional answers a backend declares in its
``Capabilities``. Hybrid score fusion picks the most exact recipe those allow:

1. every lexical score and raw vectors (the local store): z-scores over every chunk;
2. dense score moments and raw vectors (an approximate dense index, Milvus): fusion over
   two candidate pools with statistics over every chunk, checked to be exact;
3. otherwise: z-scores over the two candidate pools only.
"""

from __future__ import annotations

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
from rag.store.filters import SearchFilter, active
from rag.store.moments import ScoreMoments
from rag.text.matching import lexical_score
from rag.text.question import profile

MODES = ("hybrid", "dense", "bm25")
FUSIONS = ("score", "rrf")
# Chunks taken from each method's best when hybrid search fuses candidate pools
# (see candidate_score_fusion).
CANDIDATE_POOL = 200
# Fused passages re-scored by their best-matching sentence (see sentence_match_rerank).
RERANK_DEPTH = 10

Ranked = list[tuple[str, float]]  # (chunk_id, score), best first


class Searcher:
    """Search one opened store with one embedding model."""

    def __init__(
        self,
        store,
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
        self._moments_generation = ""  # the store generation the moments were computed for
        self._moments_lock = threading.Lock()

    def search(self, query: str, k: int = 5, mode: str = "hybrid", where: SearchFilter | None = None) -> list[SearchResult]:
        """The ``k`` best chunks for ``query``; with ``where``, only chunks it lets through."""
        query = (query or "").strip()
        if not query:
            raise InputError("The question is empty. Type a question, e.g. 太钢的碳中和目标是什么")
        if mode not in MODES:
            raise InputError(f"Unknown retrieval mode '{mode}'. Use one of: {', '.join(MODES)}")
        if k < 1:
            raise InputError(f"k must be at least 1 (got {k}).")
        self.refresh()
        where = active(where)
        if not self.store.count() or (where is not None and not self.store.count(where)):
            return []  # an empty index, or a filter no chunk passes
        depth = max(self.candidates, k)
        if mode == "dense":
            ranked = dense = self.store.dense_search(self._query_vector(query), depth, where)
            lexical: Ranked = []
        elif mode == "bm25":
            ranked = lexical = self.store.lexical_search(query, depth, where)
            dense = []
        elif self.fusion == "rrf":
            dense = self.store.dense_search(self._query_vector(query), depth, where)
            lexical = self.store.lexical_search(query, depth, where)
            ranked = reciprocal_rank_fusion([dense, lexical], self.rrf_k)
        else:
            ranked, dense, lexical = self._fused(query, k, depth, where)
        dense_scores = dict(dense)
        bm25_scores = dict(lexical)
        head = ranked[:k]
        chunks = {chunk.chunk_id: chunk for chunk in self.store.get_chunks([chunk_id for chunk_id, _ in head])}
        results = []
        # a chunk of a file that another thread's refresh just saw removed is no longer found
        head = [(chunk_id, score) for chunk_id, score in head if chunk_id in chunks]
        for rank, (chunk_id, score) in enumerate(head, start=1):
            scores = {}
            if chunk_id in dense_scores:
                scores["dense"] = dense_scores[chunk_id]
            if chunk_id in bm25_scores:
                scores["bm25"] = bm25_scores[chunk_id]
            results.append(SearchResult(chunks[chunk_id], score, rank, scores))
        return results

    def refresh(self) -> None:
        """Take up a commit another process made to a shared store (Milvus; see its ``refresh``).

        The index may now hold another model's vectors: that is refused as at opening. The
        score moments follow the store's generation (``score_moments``); the sentence vectors
        are keyed by the sentence's text, so they stay right.
        """
        if self.store.refresh():
            self.store.manifest.check_model(self.embeddings.model_id, self.embeddings.dimension)

    def matching(self, where: SearchFilter | None) -> int:
        """How many chunks ``where`` lets through (all of them for no filter)."""
        return self.store.count(active(where))

    def _fused(self, query: str, k: int, depth: int, where: SearchFilter | None) -> tuple[Ranked, Ranked, Ranked]:
        """Score fusion, then the best-sentence re-ranking: (ranked, dense scores, BM25 scores)."""
        query_vector = self._query_vector(query)
        caps = self.store.capabilities
        can_score_all = caps.every_lexical_score and caps.raw_vectors
        can_pool_exactly = caps.dense_moments and caps.raw_vectors
        # Pools save work only over an approximate dense index; filtered, the local store scores exactly anyway.
        prefer_pools = not can_score_all or (caps.approximate_dense and where is None)
        found = None
        pools: dict[str, Ranked] = {}  # the candidate pools, searched once per question
        if can_pool_exactly and prefer_pools:
            # Where every chunk can be scored, pools must prove their top exact, else it is scored below.
            found = self._pooled(query, query_vector, k, where, pools, require_exact=can_score_all)
        if found is None and can_score_all:
            found = self._exact(query, query_vector, depth, where)
        if found is None:
            found = self._pool_only(query, query_vector, where, pools)
        ranked, dense_of, lexical_of = found
        if self.sentence_weight:
            head = {c.chunk_id: c for c in self.store.get_chunks([chunk_id for chunk_id, _ in ranked[:RERANK_DEPTH]])}
            # a chunk missing here belongs to a file that another thread's refresh just saw removed
            kept = [item for item in ranked[:RERANK_DEPTH] if item[0] in head]
            ranked = sentence_match_rerank(query, kept + ranked[RERANK_DEPTH:], head, self.sentence_weight, depth=len(kept))
        dense = [(chunk_id, dense_of[chunk_id]) for chunk_id, _ in ranked if chunk_id in dense_of]
        lexical = [(chunk_id, lexical_of[chunk_id]) for chunk_id, _ in ranked if lexical_of.get(chunk_id, 0.0) > 0]
        return ranked, dense, lexical

    def _exact(self, query, query_vector, depth, where):
        """Every chunk scored both ways (recipe 1)."""
        table = self.store.lexical_scores(query, where)
        dense_all = self.store.dense_scores(query_vector, table.ids)
        fused = score_fusion(dense_all, table.scores, self.dense_weight, limit=depth)
        ranked = [(table.ids[i], score) for i, score in fused]
        dense_of = {table.ids[i]: float(dense_all[i]) for i, _ in fused}
        lexical_of = {table.ids[i]: float(table.scores[i]) for i, _ in fused}
        return ranked, dense_of, lexical_of

    def _pooled(self, query, query_vector, k, where, pools: dict[str, Ranked], *, require_exact: bool):
        """Candidate pools with every-chunk statistics (recipe 2); None when they cannot be had,
        or, with ``require_exact``, when the pools cannot vouch for an exact top. The pools it
        searched are left in ``pools`` for recipe 3."""
        pool = CANDIDATE_POOL
        dense_hits = pools["dense"] = self.store.dense_search(query_vector, pool, where)
        total = self.store.count(where)
        if self.store.capabilities.every_lexical_score:
            lexical_hits, lexical_of, lexical_stats = _lexical_from_table(self.store.lexical_scores(query, where), pool)
        else:
            lexical_hits = pools["lexical"] = self.store.lexical_search(query, pool, where)
            if len(lexical_hits) >= pool and pool < total:
                return None  # BM25's statistics over every chunk are unknown: plain pool fusion
            lexical_of = dict(lexical_hits)
            lexical_stats = _moments_of(list(lexical_of.values()), total)
        candidates = _union(dense_hits, lexical_hits)
        dense_of = dict(zip(candidates, map(float, self.store.dense_scores(query_vector, candidates))))
        moments = self.score_moments() if where is None else self.store.dense_moments(where)
        return candidate_score_fusion(
            dense_hits, lexical_hits, dense_of, lexical_of, moments.mean_std(query_vector), lexical_stats,
            self.dense_weight, self.exact_top(k), pool, total, require_exact=require_exact,
        )

    def _pool_only(self, query, query_vector, where, pools: dict[str, Ranked]):
        """z-scores over the two candidate pools only (recipe 3: a backend with no statistics, or
        BM25 hits filling their pool). Pools recipe 2 already searched are not searched again:
        each is a round trip to the store's server, and a BM25 search over rows Milvus Lite has
        not flushed takes seconds."""
        dense_hits = pools.get("dense")
        if dense_hits is None:
            dense_hits = self.store.dense_search(query_vector, CANDIDATE_POOL, where)
        lexical_hits = pools.get("lexical")
        if lexical_hits is None:
            lexical_hits = self.store.lexical_search(query, CANDIDATE_POOL, where)
        candidates = _union(dense_hits, lexical_hits)
        if self.store.capabilities.raw_vectors:
            dense_of = dict(zip(candidates, map(float, self.store.dense_scores(query_vector, candidates))))
        else:
            floor = min((score for _, score in dense_hits), default=0.0)
            dense_of = {chunk_id: dict(dense_hits).get(chunk_id, floor) for chunk_id in candidates}
        lexical_of = dict(lexical_hits)
        dense = np.array([dense_of[c] for c in candidates], dtype=np.float64)
        lexical = np.array([lexical_of.get(c, 0.0) for c in candidates], dtype=np.float64)
        ranked = [(candidates[i], score) for i, score in score_fusion(dense, lexical, self.dense_weight)]
        return ranked, dense_of, lexical_of

    def _query_vector(self, query: str) -> np.ndarray:
        return self.embeddings.encode_queries([query])[0]

    @property
    def pools_candidates(self) -> bool:
        """Whether hybrid search fuses a pool of candidates (an approximate dense index) instead of every chunk."""
        return self.store.capabilities.approximate_dense

    def exact_top(self, k: int) -> int:
        """How many of the best fused chunks must be exact: the ``k`` results, or the re-ranked head."""
        return max(k, RERANK_DEPTH) if self.sentence_weight else k

    def score_moments(self) -> ScoreMoments | None:
        """The index's :class:`ScoreMoments`, computed on first use (0.3 s at 100,000 chunks) and
        again after the store takes up another commit; None when the backend cannot give them."""
        if not self.store.capabilities.dense_moments:
            return None
        with self._moments_lock:
            generation = self.store.generation
            if self._moments is None or self._moments_generation != generation:
                self._moments = self.store.dense_moments(None)
                self._moments_generation = generation
            return self._moments


def _union(dense_hits: Ranked, lexical_hits: Ranked) -> list[str]:
    """The chunk ids of both pools, each once, dense pool first."""
    return list(dict.fromkeys([chunk_id for chunk_id, _ in dense_hits] + [chunk_id for chunk_id, _ in lexical_hits]))


def _moments_of(positive_scores: list[float], total: int) -> tuple[float, float]:
    """Mean and spread over ``total`` chunks of which only these scored above zero."""
    if total <= 0:
        return 0.0, 0.0
    values = np.asarray(positive_scores, dtype=np.float64)
    mean = float(values.sum()) / total
    variance = float((values**2).sum()) / total - mean * mean
    return mean, float(np.sqrt(max(variance, 0.0)))


def _lexical_from_table(table, pool: int) -> tuple[Ranked, dict[str, float], tuple[float, float]]:
    """From every chunk's BM25 score: the best ``pool`` (ties by position), the positive
    scores by id, and the mean and spread over every chunk."""
    scores = table.scores
    size = min(pool, len(scores))
    top = np.argpartition(-scores, size - 1)[:size] if size else np.zeros(0, dtype=np.int64)
    top = np.sort(top)
    hits = [(table.ids[i], float(scores[i])) for i in top]
    positive = np.flatnonzero(scores > 0)
    lexical_of = {table.ids[i]: float(scores[i]) for i in positive}
    return hits, lexical_of, (float(scores.mean()), float(scores.std())) if len(scores) else (0.0, 0.0)


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


def candidate_score_fusion(
    dense_hits: Ranked,
    lexical_hits: Ranked,
    dense_of: dict[str, float],
    lexical_of: dict[str, float],
    dense_stats: tuple[float, float],
    lexical_stats: tuple[float, float],
    dense_weight: float,
    k: int,
    pool: int = CANDIDATE_POOL,
    total: int | None = None,
    *,
    require_exact: bool = True,
) -> tuple[Ranked, dict[str, float], dict[str, float]] | None:
    """Score fusion over two pools of candidates instead of every chunk.

    The pools are the dense index's ``pool`` nearest chunks (approximate for HNSW) and
    BM25's ``pool`` best. Each candidate gets exactly the fused score :func:`score_fusion`
    would give it: ``dense_of`` and ``lexical_of`` hold its exact scores (a candidate
    missing from ``lexical_of`` scores 0), and both z-normalisations use statistics over
    every chunk (``dense_stats``, ``lexical_stats``: mean and spread).

    A chunk outside both pools scores below both pools' cut-offs, so its fused score is at
    most the fusion of the two cut-offs. When the ``k``-th best candidate beats that bound,
    the top ``k`` is the exact one (as far as the dense index found the nearest chunks);
    otherwise, with ``require_exact``, this returns None and the caller scores every chunk.

    Returns the ranked candidates (best first) with their dense and BM25 scores.
    """
    candidates = _union(dense_hits, lexical_hits)
    total = len(candidates) if total is None else total
    dense_mean, dense_spread = dense_stats
    lexical_mean, lexical_spread = lexical_stats

    def fuse(dense_score: float, lexical_score: float) -> float:
        z_dense = (dense_score - dense_mean) / dense_spread if dense_spread > 0 else 0.0
        z_lexical = (lexical_score - lexical_mean) / lexical_spread if lexical_spread > 0 else 0.0
        return dense_weight * z_dense + (1.0 - dense_weight) * z_lexical

    fused = sorted(((c, fuse(dense_of[c], lexical_of.get(c, 0.0))) for c in candidates), key=lambda item: -item[1])
    if require_exact and len(candidates) < total:
        dense_floor = min(score for _, score in dense_hits) if len(dense_hits) >= pool else -1.0  # cosine ≥ -1
        lexical_floor = min(score for _, score in lexical_hits) if len(lexical_hits) >= pool else 0.0
        if len(fused) < k or fused[k - 1][1] < fuse(dense_floor, lexical_floor):
            return None
    return fused, {c: dense_of[c] for c, _ in fused}, {c: lexical_of.get(c, 0.0) for c, _ in fused}


class NewsRetriever(BaseRetriever):
    """LangChain retriever over a ``Searcher``: Documents carry the chunk fields as metadata.

    ``search_kwargs`` follows LangChain's vector-store retrievers: ``{"k": 3, "filter":
    {"date_from": "2024-06-01", "newspaper": "株洲日报", "source": "004.txt"}}``
    (fields of :class:`~rag.store.filters.SearchFilter`).
    """

    searcher: Any
    k: int = 5
    mode: str = "hybrid"
    search_kwargs: dict = {}

    def _get_relevant_documents(self, query: str, *, run_manager: CallbackManagerForRetrieverRun) -> list[Document]:
        where = SearchFilter.from_mapping(self.search_kwargs.get("filter"))
        k = int(self.search_kwargs.get("k", self.k))
        return [to_document(r) for r in self.searcher.search(query, k, self.mode, where)]


def to_document(result: SearchResult) -> Document:
    metadata = {**result.chunk.to_dict(), "score": result.score, "rank": result.rank, "scores": result.scores}
    return Document(page_content=result.chunk.text, metadata=metadata, id=result.chunk.chunk_id)


_cache: dict[tuple, Searcher] = {}
_cache_lock = threading.Lock()


def load_searcher(settings: Settings, *, reload: bool = False) -> Searcher:
    """Load the model and index once per process (per index directory and model)."""
    from rag.embeddings import load_embeddings

    from rag.store.factory import open_store

    key = (str(settings.index_dir), settings.store, settings.milvus_uri, settings.embedding_model,
           settings.embedding_variant, str(settings.cache_dir), settings.fusion, settings.dense_weight, settings.sentence_weight)
    with _cache_lock:
        if reload or key not in _cache:
            store = open_store(settings)  # fails fast, before the model loads
            store.manifest.check_settings(settings.embedding_model, settings.embedding_variant, settings.index_dir)
            embeddings = load_embeddings(settings)
            _cache[key] = Searcher(  # checks the model matches
                store, embeddings, fusion=settings.fusion, dense_weight=settings.dense_weight, rrf_k=settings.rrf_k,
                sentence_weight=settings.sentence_weight,
            )
        return _cache[key]
