"""Retrieval on the real model and a real index of the bundled newspapers."""

from __future__ import annotations

import pytest

import json
from types import SimpleNamespace

import numpy as np

from rag.config import DEFAULT_EVAL_QUESTIONS
from rag.errors import InputError
from rag.retrieval import (
    NewsRetriever,
    ScoreMoments,
    Searcher,
    candidate_score_fusion,
    reciprocal_rank_fusion,
    score_fusion,
    sentence_match_rerank,
)
from rag.store.local_store import LocalStore
from rag.store.dense import DenseIndex

CANONICAL = "太钢的碳中和目标是什么"


def test_rrf_rewards_agreement():
    fused = reciprocal_rank_fusion([[(1, 0.9), (2, 0.8)], [(2, 7.0), (3, 5.0)]], k=60)
    assert [row for row, _ in fused] == [2, 1, 3]
    assert fused[0][1] == pytest.approx(1 / 62 + 1 / 61)


def test_score_fusion_keeps_a_confident_lexical_hit_on_top():
    dense = np.array([0.90, 0.88, 0.895, 0.87])  # dense barely prefers passage 0 over 2
    lexical = np.array([0.0, 0.0, 30.0, 1.0])  # BM25 is sure about passage 2
    assert score_fusion(dense, lexical, 0.6)[0][0] == 2
    assert score_fusion(dense, np.zeros(4), 0.6)[0][0] == 0  # no lexical signal: dense decides


def test_score_fusion_limit_gives_the_head_of_the_full_ranking():
    rng = np.random.default_rng(0)
    dense = rng.standard_normal(1000).round(1)  # rounded: many ties
    lexical = np.where(rng.random(1000) < 0.5, 0.0, rng.random(1000).round(1))
    full = score_fusion(dense, lexical, 0.55)
    for limit in (1, 7, 50, 999, 1000, 2000):
        assert score_fusion(dense, lexical, 0.55, limit=limit) == full[:limit]


def test_sentence_rerank_lifts_the_passage_whose_one_sentence_answers():
    chunks = [
        SimpleNamespace(text="台风“杜苏芮”影响华北。本市启动应急响应。公交车辆照常运营。"),  # the story, spread out
        SimpleNamespace(text="受台风影响，全市所有公交客运车辆停止运营。市民减少外出。"),  # the one sentence
        SimpleNamespace(text="另一条新闻。"),
    ]
    ranked = [(0, 3.0), (1, 2.5), (2, 0.1)]
    reranked = sentence_match_rerank("台风期间全市哪些车辆停止运营？", ranked, chunks, weight=2.0)
    assert [row for row, _ in reranked][:2] == [1, 0]
    assert [row for row, _ in sentence_match_rerank("台风期间全市哪些车辆停止运营？", ranked, chunks, weight=0.0)] == [0, 1, 2]


def test_sentence_rerank_keeps_the_rest_below_the_head():
    chunks = [SimpleNamespace(text=f"第{i}段：全市所有公交客运车辆停止运营。") for i in range(20)]
    ranked = [(i, 10.0 - i * 0.1) for i in range(20)]
    reranked = sentence_match_rerank("哪些车辆停止运营", ranked, chunks, weight=2.0, depth=5)
    assert sorted(row for row, _ in reranked[:5]) == [0, 1, 2, 3, 4]
    assert reranked[5:] == ranked[5:]
    assert all(a[1] >= b[1] for a, b in zip(reranked, reranked[1:]))


def clustered_unit_vectors(n: int, dimension: int = 32, clusters: int = 40, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((clusters, dimension))
    vectors = centres[rng.integers(0, clusters, n)] + 0.4 * rng.standard_normal((n, dimension))
    return (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype(np.float32)


def test_score_moments_give_the_mean_and_spread_of_all_dense_scores():
    vectors = clustered_unit_vectors(20_000)
    moments = ScoreMoments(vectors)
    for query in clustered_unit_vectors(5, seed=1):
        scores = vectors.astype(np.float64) @ query
        mean, spread = moments.mean_std(query)
        assert mean == pytest.approx(scores.mean(), abs=1e-9)
        assert spread == pytest.approx(scores.std(), rel=1e-9)


def pools(vectors, dense, query, lexical, pool):
    """The arguments candidate_score_fusion takes, for row-numbered ids (str(row))."""
    dense_hits = [(str(row), score) for row, score in dense.search(query, pool)]
    size = min(pool, len(lexical))
    lexical_rows = np.sort(np.argpartition(-lexical, size - 1)[:size])
    lexical_hits = [(str(row), float(lexical[row])) for row in lexical_rows]
    ids = {row for row, _ in dense_hits} | {row for row, _ in lexical_hits}
    dense_of = {row: float(vectors[int(row)] @ query) for row in ids}
    lexical_of = {str(row): float(lexical[row]) for row in np.flatnonzero(lexical)}
    return dense_hits, lexical_hits, dense_of, lexical_of, (float(lexical.mean()), float(lexical.std()))


def test_candidate_fusion_over_an_hnsw_index_ranks_like_exact_fusion():
    vectors = clustered_unit_vectors(5_000)
    dense = DenseIndex.build(vectors, 32, approximate_from=1)
    assert dense.kind == "hnsw"
    moments = ScoreMoments(vectors)
    rng = np.random.default_rng(2)
    answered = 0
    for query in clustered_unit_vectors(30, seed=3):
        lexical = np.where(rng.random(5_000) < 0.02, rng.random(5_000) * 20, 0.0).astype(np.float32)
        exact = score_fusion(vectors @ query, lexical, 0.55, limit=5)
        dense_hits, lexical_hits, dense_of, lexical_of, lexical_stats = pools(vectors, dense, query, lexical, 200)
        found = candidate_score_fusion(dense_hits, lexical_hits, dense_of, lexical_of, moments.mean_std(query),
                                       lexical_stats, 0.55, k=5, pool=200, total=5_000)
        if found is None:
            continue
        answered += 1
        ranked, dense_scores, _ = found
        assert [int(row) for row, _ in ranked[:5]] == [row for row, _ in exact]
        assert [score for _, score in ranked[:5]] == pytest.approx([score for _, score in exact], rel=1e-4)
        assert all(dense_scores[row] == pytest.approx(float(vectors[int(row)] @ query), abs=1e-6) for row, _ in ranked[:5])
    assert answered >= 25  # the pool almost always suffices


def test_candidate_fusion_declines_when_a_chunk_outside_the_pool_could_win():
    vectors = clustered_unit_vectors(2_000)
    dense = DenseIndex.build(vectors, 32, approximate_from=1)
    query, moments = vectors[0], ScoreMoments(vectors)
    lexical = np.linspace(1.0, 2.0, 2_000).astype(np.float32)  # BM25 spread evenly: nothing stands out
    # A pool of one chunk per method cannot vouch for a top 5: the caller must score everything.
    args = pools(vectors, dense, query, lexical, 1)
    assert candidate_score_fusion(*args[:4], moments.mean_std(query), args[4], 0.55, k=5, pool=1, total=2_000) is None
    # ... unless it asks for the best the pools give, exact or not.
    assert candidate_score_fusion(*args[:4], moments.mean_std(query), args[4], 0.55, k=5, pool=1, total=2_000,
                                  require_exact=False)
    # A pool as large as the index is exact by construction.
    args = pools(vectors, dense, query, lexical, 2_000)
    ranked, _, _ = candidate_score_fusion(*args[:4], moments.mean_std(query), args[4], 0.55, k=5, pool=2_000, total=2_000)
    assert [int(row) for row, _ in ranked[:5]] == [row for row, _ in score_fusion(vectors @ query, lexical, 0.55, limit=5)]


@pytest.mark.integration
def test_hybrid_search_over_an_hnsw_index_matches_exact_search(searcher):
    """The dev questions get the same passages whether hybrid search scores every chunk or a pool."""
    store = searcher.store
    hnsw = LocalStore(store.manifest, store.chunks, DenseIndex.build(store.vectors, store.dense.dimension, approximate_from=1),
                      store.lexical)
    approximate = Searcher(hnsw, searcher.embeddings, dense_weight=searcher.dense_weight)
    assert approximate.store.dense.kind == "hnsw" and approximate.pools_candidates
    questions = [json.loads(line)["question"] for line in DEFAULT_EVAL_QUESTIONS.read_text(encoding="utf-8").splitlines()[:40]]
    for question in questions:
        exact = searcher.search(question, k=5)
        pooled = approximate.search(question, k=5)
        assert [r.chunk.chunk_id for r in pooled] == [r.chunk.chunk_id for r in exact], question
        assert [r.score for r in pooled] == pytest.approx([r.score for r in exact], rel=1e-4)
        assert [r.scores for r in pooled] == [pytest.approx(r.scores, rel=1e-4) for r in exact]


@pytest.mark.integration
def test_rrf_fusion_is_available(searcher):
    rrf = Searcher(searcher.store, searcher.embeddings, fusion="rrf")
    top = rrf.search(CANONICAL, k=3)[0]
    assert top.chunk.source == "000_a73fe32ef8bc3bea.txt" and "dense" in top.scores and "bm25" in top.scores


@pytest.mark.integration
@pytest.mark.parametrize("mode", ["hybrid", "dense", "bm25"])
def test_canonical_question_finds_the_roadmap(searcher, mode):
    results = searcher.search(CANONICAL, k=5, mode=mode)
    assert results, mode
    top = results[0]
    assert top.chunk.source == "000_a73fe32ef8bc3bea.txt"
    assert "2050年实现碳中和" in top.chunk.text
    assert [r.rank for r in results] == list(range(1, len(results) + 1))


@pytest.mark.integration
def test_paraphrase_without_shared_words_is_found_by_dense(searcher):
    results = searcher.search("株洲哪天出版的那期报纸", k=5, mode="hybrid")
    assert any(r.chunk.source == "004_a03633453cf80aeb.txt" for r in results)


@pytest.mark.integration
def test_a_negative_sentence_weight_is_refused(searcher):
    with pytest.raises(InputError, match="RAG_SENTENCE_WEIGHT"):
        Searcher(searcher.store, searcher.embeddings, sentence_weight=-1.0)


@pytest.mark.integration
def test_empty_question_and_bad_k_are_refused(searcher):
    with pytest.raises(InputError, match="empty"):
        searcher.search("   ")
    with pytest.raises(InputError):
        searcher.search(CANONICAL, k=0)
    with pytest.raises(InputError, match="mode"):
        searcher.search(CANONICAL, mode="fuzzy")


@pytest.mark.integration
def test_langchain_retriever_returns_documents_with_metadata(searcher):
    retriever = NewsRetriever(searcher=searcher, k=3)
    documents = retriever.invoke(CANONICAL)
    assert len(documents) == 3
    assert documents[0].metadata["source"] == "000_a73fe32ef8bc3bea.txt"
    assert documents[0].metadata["rank"] == 1 and "chunk_id" in documents[0].metadata
