"""Retrieval on the real model and a real index of the bundled newspapers."""

from __future__ import annotations

import pytest

from rag.errors import InputError
import numpy as np

from rag.retrieval import NewsRetriever, Searcher, reciprocal_rank_fusion, score_fusion

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
