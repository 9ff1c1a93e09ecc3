"""The store contract (tests/store/contract.py) on Milvus Lite, in a temporary folder, and two
processes sharing one index through a `milvus-lite server`."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from rag.config import PROJECT_ROOT
from tests.store.contract import StoreContract

pytest.importorskip("pymilvus", reason="the milvus extra is not installed (pip install '.[milvus]')")
pytest.importorskip("milvus_lite", reason="Milvus Lite is not installed (pip install '.[milvus]')")


@pytest.fixture
def store_settings(tmp_path, base_settings):
    return base_settings.replace(store="milvus", milvus_uri=str(tmp_path / "milvus.db"), index_dir=tmp_path / "index",
                                 upload_dir=tmp_path / "uploads")


class TestMilvusStore(StoreContract):
    # after the new versions' rows are inserted; after the first file's manifest row is
    # switched (one file new, the other still old); after every row is switched
    KILL_STAGES = ("rows inserted", "file switched", "manifest switched")


# --- several processes on one index: a search takes up another process's commit ---------------


@pytest.mark.integration
def test_a_connected_store_takes_up_another_processes_ingest(base_settings, embeddings, milvus_lite_server, tmp_path):
    """Two processes on one `milvus-lite server`: this one searches, a `rag ingest` process adds
    news.jsonl and removes library.txt; the open searcher sees both without reopening, and a
    store whose refresh interval has not passed keeps its snapshot."""
    from rag.retrieval import Searcher
    from rag.store import ingest
    from rag.store.factory import open_store
    from tests.store.contract import close, files_of, write_corpus

    settings = base_settings.replace(store="milvus", milvus_uri=milvus_lite_server, index_dir=tmp_path / "shared",
                                     upload_dir=tmp_path / "uploads", milvus_refresh_seconds=0.0)
    corpus = write_corpus(tmp_path / "corpus")
    news = corpus / "news.jsonl"
    news.rename(tmp_path / "news.jsonl")
    ingest([corpus], settings, embeddings=embeddings)  # steel.txt and library.txt
    searcher = Searcher(open_store(settings), embeddings, dense_weight=settings.dense_weight,
                        sentence_weight=settings.sentence_weight)
    patient = open_store(settings.replace(milvus_refresh_seconds=3600.0))
    rail = "株洲轨道交通一号线什么时候开通"
    try:
        assert {r.chunk.file for r in searcher.search("株洲新建了几座图书馆", k=3)} == {"library.txt", "steel.txt"}
        old_moments = searcher.score_moments()

        (tmp_path / "news.jsonl").rename(news)
        (corpus / "library.txt").unlink()
        env = {**os.environ, "RAG_STORE": "milvus", "RAG_MILVUS_URI": milvus_lite_server,
               "RAG_INDEX_DIR": str(settings.index_dir), "RAG_UPLOAD_DIR": str(settings.upload_dir)}
        done = subprocess.run([sys.executable, "-m", "rag.cli", "ingest", str(corpus)], cwd=PROJECT_ROOT, env=env,
                              capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, done.stdout + done.stderr

        for mode in ("hybrid", "dense", "bm25"):
            found = searcher.search(rail, k=5, mode=mode)
            assert found[0].chunk.title == "轨道交通开通", mode
            assert "library.txt" not in {r.chunk.file for r in found}, mode
        store = searcher.store
        assert sorted(d.source for d in store.documents()) == ["news.jsonl", "steel.txt"]
        assert set(files_of(store)) == {"news.jsonl", "steel.txt"}
        assert store.count() == store.manifest.chunk_count == len(store.all_chunks())
        moments = searcher.score_moments()
        assert moments is not old_moments
        fresh = store.dense_moments(None)
        assert abs(moments.mean - fresh.mean).max() < 1e-6 and abs(moments.second - fresh.second).max() < 1e-6

        assert not patient.refresh()  # checked at most once an hour: still the snapshot it opened
        assert sorted(d.source for d in patient.documents()) == ["library.txt", "steel.txt"]
    finally:
        close(searcher.store)
        close(patient)


# --- a collection made before page and bbox were stored ----------------------------------------


def test_a_collection_without_page_fields_opens_and_a_rebuild_adds_them(store_settings, embeddings, tmp_path, capfd):
    from rag.store import ingest
    from rag.store.factory import open_store
    from rag.store.milvus_store import _warned_no_places
    from tests.store.contract import close, write_corpus

    old = open_store(store_settings, create=True)  # the two collections as an older version made them
    old._create_files_collection()
    old._create_chunks_collection(embeddings.dimension, places=False)
    _warned_no_places.clear()
    close(old)
    corpus = write_corpus(tmp_path / "corpus")
    ingest([corpus], store_settings, embeddings=embeddings)
    store = open_store(store_settings)
    try:
        notes = [line for line in capfd.readouterr().err.splitlines() if "page" in line]
        assert len(notes) == 1 and "rag ingest --rebuild" in notes[0], notes
        assert not store.places and store.count() == store.manifest.chunk_count > 3
        chunks = store.all_chunks()
        assert {c.file for c in chunks} == {"steel.txt", "library.txt", "news.jsonl"}
        assert all(c.page is None and c.bbox is None for c in chunks)
        top = store.get_chunks([store.lexical_search("太钢 碳中和", 1)[0][0]])[0]
        assert top.file == "steel.txt" and top.page is None
    finally:
        close(store)

    ingest([corpus], store_settings, embeddings=embeddings, rebuild=True)
    store = open_store(store_settings)
    try:
        assert store.places and store.count() == store.manifest.chunk_count
        fields = {f["name"] for f in store.client.describe_collection(store.chunks_name)["fields"]}
        assert {"page", "bbox"} <= fields
    finally:
        close(store)


@pytest.mark.parametrize("seconds", [-1.0, float("nan")])
def test_a_negative_refresh_interval_is_refused(store_settings, seconds):
    from rag.errors import InputError
    from rag.store.factory import open_store

    with pytest.raises(InputError, match="RAG_MILVUS_REFRESH_SECONDS must be 0 or more"):
        open_store(store_settings.replace(milvus_refresh_seconds=seconds), create=True)


def test_a_full_bm25_pool_is_searched_once_per_question(tmp_path):
    """More BM25 hits than the pool holds: hybrid search falls back to fusing the pools alone
    (no every-chunk BM25 statistics in Milvus), reusing the pools it searched, not searching
    again (on a Milvus Lite server each BM25 search reads every row)."""
    import json

    from rag.config import Settings
    from rag.retrieval import CANDIDATE_POOL, Searcher
    from rag.store import ingest
    from rag.store.factory import open_store
    from tests.store.conftest import CountingBigramEmbeddings

    records = [{"text": f"株洲日报讯：株洲市第{i}号图书馆今年开放，藏书{i * 7}册，每周开放{i % 6 + 1}天。",
                "title": f"图书馆{i}", "date": "2024-06-01", "newspaper": "株洲日报", "source": f"图书馆{i}"}
               for i in range(CANDIDATE_POOL + 50)]
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "libraries.jsonl").write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in records) + "\n",
                                            encoding="utf-8")
    model = CountingBigramEmbeddings()
    settings = Settings(index_dir=tmp_path / "index", upload_dir=tmp_path / "uploads", store="milvus",
                        milvus_uri=str(tmp_path / "milvus.db"), embedding_model=model.model_id)
    assert ingest([corpus], settings, embeddings=model).chunks == len(records)
    store = open_store(settings)
    try:
        searcher = Searcher(store, model)
        question = "株洲图书馆藏书多少册"
        assert len(store.lexical_search(question, CANDIDATE_POOL)) == CANDIDATE_POOL  # the pool is full
        calls = {"dense_search": 0, "lexical_search": 0}
        for name in calls:
            real = getattr(store, name)

            def counted(*args, _real=real, _name=name, **kwargs):
                calls[_name] += 1
                return _real(*args, **kwargs)

            setattr(store, name, counted)
        results = searcher.search(question, k=5)
        assert len(results) == 5 and all("株洲" in r.chunk.text for r in results)
        assert calls == {"dense_search": 1, "lexical_search": 1}
    finally:
        store.close()
