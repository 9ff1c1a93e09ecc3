"""The store contract (tests/store/contract.py) on Milvus Lite, in a temporary folder."""

from __future__ import annotations

import pytest

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
