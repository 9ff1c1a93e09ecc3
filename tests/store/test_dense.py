"""The dense index: exact below a size, approximate (HNSW) from there on; FAISS files; incremental ingest."""

from __future__ import annotations

from pathlib import Path

import faiss
import numpy as np
import pytest

from rag.store import IndexStore, ingest, remove_sources
from rag.store.dense import APPROXIMATE_KIND, FILE_NAME, DenseIndex, build_faiss_index


def unit_vectors(n: int, dim: int = 32, seed: int = 0) -> np.ndarray:
    rows = np.random.default_rng(seed).standard_normal((n, dim)).astype(np.float32)
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


@pytest.mark.parametrize(("count", "kind"), [(199, "flat"), (200, APPROXIMATE_KIND), (1000, APPROXIMATE_KIND)])
def test_index_type_follows_the_threshold(count: int, kind: str):
    index = DenseIndex.build(unit_vectors(count), 32, approximate_from=200)
    assert index.kind == kind and index.size == count


def test_without_a_threshold_the_index_is_exact():
    assert DenseIndex.build(unit_vectors(5000), 32).kind == "flat"
    assert DenseIndex.build(np.zeros((0, 32), dtype=np.float32), 32, approximate_from=0).kind == "flat"


@pytest.mark.parametrize("kind", ["flat", "ivf", "hnsw"])
def test_every_type_saves_in_faiss_format_and_gives_its_vectors_back(tmp_path: Path, kind: str):
    vectors = unit_vectors(300)
    DenseIndex(build_faiss_index(vectors, 32, kind)).save(tmp_path)
    assert faiss.read_index(str(tmp_path / FILE_NAME)).ntotal == 300  # FAISS's own format, no pickle
    loaded = DenseIndex.load(tmp_path)
    assert loaded.kind == kind
    np.testing.assert_array_equal(loaded.vectors(), vectors)  # exact, in row order
    for row in (0, 123, 299):  # each stored vector finds itself first
        assert loaded.search(vectors[row], 5)[0][0] == row


@pytest.mark.parametrize("kind", ["flat", "hnsw"])
def test_flat_and_hnsw_vectors_are_a_read_only_view_that_keeps_the_index_alive(tmp_path: Path, kind: str):
    vectors = unit_vectors(300)
    DenseIndex(build_faiss_index(vectors, 32, kind)).save(tmp_path)
    loaded = DenseIndex.load(tmp_path)
    view = loaded.vectors()
    assert not view.flags.owndata and not view.flags.writeable  # FAISS's memory, not a copy
    with pytest.raises(ValueError):
        view[0, 0] = 1.0
    del loaded  # the view still holds the index
    import gc

    gc.collect()
    np.testing.assert_array_equal(view, vectors)
    np.testing.assert_allclose(view @ vectors[7], vectors @ vectors[7], rtol=1e-6)


def test_approximate_search_finds_the_exact_neighbours_on_clustered_vectors():
    centres = unit_vectors(20, seed=1)
    rng = np.random.default_rng(2)
    vectors = centres[rng.integers(0, 20, 2000)] + 0.3 * rng.standard_normal((2000, 32)).astype(np.float32) / np.sqrt(32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    exact = DenseIndex.build(vectors, 32)
    approximate = DenseIndex.build(vectors, 32, approximate_from=200)
    queries = unit_vectors(50, seed=3)
    hits = [
        len({r for r, _ in approximate.search(q, 10)} & {r for r, _ in exact.search(q, 10)}) / 10 for q in queries
    ]
    assert np.mean(hits) >= 0.95


def test_ingest_records_the_type_and_keeps_it_right_through_changes(settings, embedder, corpus_dir):
    settings = settings.replace(dense_approximate_from=10)  # the corpus has more chunks than that
    ingest(None, settings, embeddings=embedder)
    store = IndexStore.open(settings.index_dir)
    assert store.manifest.dense_index == APPROXIMATE_KIND == store.dense.kind
    assert store.stats()["dense_index"].startswith(APPROXIMATE_KIND)
    vectors_before = {c.chunk_id: v for c, v in zip(store.chunks, store.vectors)}

    # an added file: the index is rebuilt with every vector, the old ones unchanged
    (corpus_dir / "more.txt").write_text("湘江风光带新增了两处亲水平台。\n\n工程预计年底完工。\n", encoding="utf-8")
    embedder.embedded = 0
    report = ingest(None, settings, embeddings=embedder)
    store = IndexStore.open(settings.index_dir)
    assert embedder.embedded == report.embedded_chunks == sum(1 for c in store.chunks if c.source == "more.txt")
    assert store.dense.kind == APPROXIMATE_KIND and store.dense.size == len(store.chunks)
    for chunk, vector in zip(store.chunks, store.vectors):
        if chunk.chunk_id in vectors_before:
            np.testing.assert_array_equal(vector, vectors_before[chunk.chunk_id])
    row = next(i for i, c in enumerate(store.chunks) if c.source == "more.txt")
    assert store.dense.search(store.vectors[row], 1)[0][0] == row

    # a removal that leaves fewer chunks than the threshold: back to exact search
    settings = settings.replace(dense_approximate_from=len(store.chunks) - 1)
    remove_sources(["001_b8f73a123f597be6.txt"], settings)
    store = IndexStore.open(settings.index_dir)
    assert len(store.chunks) < settings.dense_approximate_from
    assert store.manifest.dense_index == "flat" == store.dense.kind
    assert store.dense.size == len(store.chunks) == store.lexical.size
