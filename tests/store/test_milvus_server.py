"""The Milvus backend against a real Milvus 2.3.5 server (the ``milvus`` wheel), started here.

One server per test session, on 127.0.0.1 with free ports and a temporary data folder
(tests/store/milvus_server.py); it is stopped at the end whatever happens. Each test uses
its own index name, so its own collections. Milvus 2.3.5 has no sparse vectors or BM25
function (those are Milvus 2.5 and later), so the backend runs dense-only there:

- the store contract's dense parts (tests/store/contract.py): ingest, re-ingest, change,
  delete, rebuild, the dense mode, every filter, a PDF passage's page and box;
- the dense path on its own, filters applied inside the search, and consistency: counts
  and results right immediately after a delete or re-ingest (``consistency_level="Strong"``);
- hybrid and BM25: one clear note that BM25 needs Milvus 2.5, hybrid answers from the dense side.

``RAG_TEST_MILVUS_START_TIMEOUT`` (seconds, default 180) bounds the server's start.
"""

from __future__ import annotations

import uuid

import pytest

from rag.store import ingest, remove_sources
from rag.store.factory import open_store
from rag.store.filters import SearchFilter
from tests.store import contract
from tests.store.contract import (LIBRARY_CHANGED, FilterContract, IngestContract, PlaceContract, SearchContract, close,
                                  files_of)

pytest.importorskip("pymilvus", reason="the milvus extra is not installed (pip install '.[milvus]')")

pytestmark = pytest.mark.integration


@pytest.fixture(scope="session")
def milvus_server(tmp_path_factory):
    """The real server for the whole session; stopped (process group killed if need be) at the end."""
    from tests.store.milvus_server import MilvusProcess, StartFailed

    server = MilvusProcess(tmp_path_factory.mktemp("milvus-server"))
    failure = None
    try:
        server.start()
    except StartFailed as exc:
        failure = str(exc)
    if failure:
        pytest.fail(f"real Milvus server did not start: {failure}", pytrace=False)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def store_settings(tmp_path, base_settings, milvus_server):
    """An empty index of its own (collections ``rag_i<hex>_*``) on the session's server."""
    return base_settings.replace(store="milvus", milvus_uri=milvus_server.uri,
                                 index_dir=tmp_path / f"i{uuid.uuid4().hex[:12]}", upload_dir=tmp_path / "uploads")


# --- the store contract, where it does not need BM25 ------------------------------------------


class TestServerIngestContract(IngestContract):
    pass


class TestServerDenseSearch(SearchContract):
    @pytest.mark.parametrize("mode", ["hybrid", "dense"])
    def test_every_mode_finds_the_roadmap(self, built, model, mode):
        super().test_every_mode_finds_the_roadmap(built, model, mode)

    def test_hybrid_results_carry_both_scores(self, built, model):
        top = self.searcher(built, model).search(self.QUESTION, k=1)[0]
        assert "dense" in top.scores and "bm25" not in top.scores  # no BM25 before Milvus 2.5

    def test_bm25_finds_nothing_for_unknown_words(self, built, model):
        assert self.searcher(built, model).search("ZZZQQQ", k=3, mode="bm25") == []


class TestServerPlaces(PlaceContract):  # page as INT64, the box as JSON: both in Milvus 2.3
    pass


class TestServerFilters(FilterContract):
    @pytest.mark.parametrize("mode", ["hybrid", "dense"])
    def test_a_narrow_filter_still_returns_k_results(self, built, model, mode):
        super().test_a_narrow_filter_still_returns_k_results(built, model, mode)


# --- the dense path, filters and consistency, directly on the store ----------------------------


def query_vector(model, text: str):
    return model.encode_queries([text])[0]


def test_dense_search_finds_the_right_chunk(store_settings, embeddings):
    ingest([contract.write_corpus(store_settings.index_dir.parent / "corpus")], store_settings, embeddings=embeddings)
    store = open_store(store_settings)
    try:
        assert not store.bm25 and store.count() == store.manifest.chunk_count > 3
        hits = store.dense_search(query_vector(embeddings, "太钢的碳中和目标是什么"), 3)
        top = store.get_chunks([hits[0][0]])[0]
        assert top.file == "steel.txt" and "2050年实现碳中和" in top.text
        assert [score for _, score in hits] == sorted((score for _, score in hits), reverse=True)
        rail = store.get_chunks([store.dense_search(query_vector(embeddings, "株洲轨道交通什么时候开通"), 1)[0][0]])[0]
        assert rail.title == "轨道交通开通"
    finally:
        close(store)


def test_filters_apply_inside_the_search(store_settings, embeddings):
    """k=2 for a question about steel, filtered to what no steel chunk matches: still 2 hits, all matching."""
    ingest([contract.write_corpus(store_settings.index_dir.parent / "corpus")], store_settings, embeddings=embeddings)
    store = open_store(store_settings)
    steel = query_vector(embeddings, "太钢 不锈钢 碳中和 路线图")
    try:
        by_paper = store.get_chunks([cid for cid, _ in store.dense_search(steel, 2, SearchFilter.build(newspapers="株洲日报"))])
        assert len(by_paper) == 2 and {c.newspaper for c in by_paper} == {"株洲日报"}
        by_date = store.get_chunks([cid for cid, _ in store.dense_search(steel, 5, SearchFilter.build("2024-01-01", "2024-12-31"))])
        assert [c.date for c in by_date] == ["2024-06-01"]
        by_file = store.get_chunks([cid for cid, _ in store.dense_search(steel, 5, SearchFilter.build(sources="library.txt"))])
        assert by_file and {c.file for c in by_file} == {"library.txt"}
        by_record = store.get_chunks([cid for cid, _ in store.dense_search(steel, 5, SearchFilter.build(sources="夜间阅读"))])
        assert [c.title for c in by_record] == ["夜间阅读"]
        assert store.count(SearchFilter.build(newspapers="株洲日报")) == 2
        assert store.count(SearchFilter.build(date_to="2022-12-31")) == 1
        assert store.dense_search(steel, 5, SearchFilter.build(newspapers="人民日报")) == []
    finally:
        close(store)


def test_delete_and_reingest_are_visible_at_once(store_settings, embeddings):
    """Counts and results straight after each change, with no wait and no flush (Strong consistency)."""
    corpus = contract.write_corpus(store_settings.index_dir.parent / "corpus")
    ingest([corpus], store_settings, embeddings=embeddings)
    question = query_vector(embeddings, "株洲新建了几座图书馆")
    store = open_store(store_settings)
    try:
        full = store.count()
        library = store.count(SearchFilter.build(sources="library.txt"))
        assert library > 0 and "三座图书馆" in store.get_chunks([store.dense_search(question, 1)[0][0]])[0].text
    finally:
        close(store)

    remove_sources(["library.txt"], store_settings)
    store = open_store(store_settings)
    try:
        assert store.count() == full - library == len(store.all_chunks())
        assert store.count(SearchFilter.build(sources="library.txt")) == 0
        assert not any(c.file == "library.txt" for c in store.get_chunks([cid for cid, _ in store.dense_search(question, 20)]))
        assert _rows_in_collection(store) == full - library  # the old rows are deleted, not only hidden
    finally:
        close(store)

    (corpus / "library.txt").write_text(LIBRARY_CHANGED, encoding="utf-8")
    ingest([corpus], store_settings, embeddings=embeddings)
    store = open_store(store_settings)
    try:
        texts = files_of(store)["library.txt"]
        assert any("五座图书馆" in t for t in texts) and not any("三座图书馆" in t for t in texts)
        assert "五座图书馆" in store.get_chunks([store.dense_search(question, 1)[0][0]])[0].text
        assert store.count() == store.manifest.chunk_count == len(store.all_chunks()) == _rows_in_collection(store)
    finally:
        close(store)


def test_the_manifest_survives_reconnecting(store_settings, embeddings):
    ingest([contract.write_corpus(store_settings.index_dir.parent / "corpus")], store_settings, embeddings=embeddings)
    first = open_store(store_settings)
    manifest, count = first.manifest.to_json(), first.count()
    close(first)
    again = open_store(store_settings)
    try:
        assert again.manifest.to_json() == manifest and again.count() == count
    finally:
        close(again)


def _rows_in_collection(store) -> int:
    """Every row of the chunks collection, live version or not (a Strong count(*))."""
    rows = store.client.query(store.chunks_name, filter='version != ""', output_fields=["count(*)"],
                              consistency_level="Strong")
    return int(rows[0]["count(*)"])


# --- hybrid and BM25 on a server without BM25 ---------------------------------------------------


def test_no_bm25_is_said_once_and_hybrid_is_dense(store_settings, embeddings, capfd):
    from rag.retrieval import Searcher
    from rag.store import milvus_store

    milvus_store._warned_dense_only.discard(store_settings.milvus_uri)
    ingest([contract.write_corpus(store_settings.index_dir.parent / "corpus")], store_settings, embeddings=embeddings)
    stores = [open_store(store_settings) for _ in range(2)]
    try:
        notes = [line for line in capfd.readouterr().err.splitlines() if "BM25" in line]
        assert len(notes) == 1 and "2.5" in notes[0] and "dense-only" in notes[0], notes
        assert "no BM25" in stores[0].stats()["dense_index"]
        searcher = Searcher(stores[0], embeddings)
        hybrid = searcher.search("太钢的碳中和目标是什么", k=3)
        dense = searcher.search("太钢的碳中和目标是什么", k=3, mode="dense")
        assert [r.chunk.chunk_id for r in hybrid] == [r.chunk.chunk_id for r in dense]
        assert hybrid[0].chunk.file == "steel.txt"
        assert searcher.search("太钢的碳中和目标是什么", k=3, mode="bm25") == []
    finally:
        for store in stores:
            close(store)


def test_an_open_store_takes_up_another_connections_commit(store_settings, embeddings):
    """Two connections to the server: one removes a file, the other's next refresh sees it gone
    (its generation check reads with Session consistency: within the server's replication lag)."""
    import time

    settings = store_settings.replace(milvus_refresh_seconds=0.0)
    corpus = contract.write_corpus(settings.index_dir.parent / "corpus")
    ingest([corpus], settings, embeddings=embeddings)
    reader = open_store(settings)
    try:
        assert "library.txt" in {d.source for d in reader.documents()}
        remove_sources(["library.txt"], settings)
        deadline = time.monotonic() + 10
        while not reader.refresh() and time.monotonic() < deadline:
            time.sleep(0.2)
        assert "library.txt" not in {d.source for d in reader.documents()}
        assert reader.count() == len(reader.all_chunks()) and reader.count(SearchFilter.build(sources="library.txt")) == 0
    finally:
        close(reader)
