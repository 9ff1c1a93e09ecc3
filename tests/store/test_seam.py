"""Retrieval and ingestion see the index only through the store protocol (rag/store/base.py)."""

from __future__ import annotations

import re
import subprocess
import sys

from rag.config import PROJECT_ROOT, Settings
from rag.errors import InputError
from rag.store.base import Store
from rag.store.factory import open_store

import pytest


def test_retrieval_and_ingestion_load_neither_faiss_nor_pymilvus():
    script = (
        "import sys, rag.retrieval, rag.store.ingestion, rag.store.plan, rag.store.factory\n"
        "print(sorted(m for m in ('faiss', 'pymilvus') if m in sys.modules))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=120)
    assert done.stdout.strip() == "[]", done.stderr
    for module in ("retrieval.py", "store/ingestion.py", "store/plan.py", "store/base.py", "store/factory.py"):
        source = (PROJECT_ROOT / "rag" / module).read_text(encoding="utf-8")
        assert not re.search(r"^\s*(from|import)\s+(faiss|pymilvus)\b", source, re.MULTILINE), module


def test_the_local_store_answers_the_protocol(tmp_path):
    store = open_store(Settings(index_dir=tmp_path / "index"), create=True)
    assert isinstance(store, Store) and store.name == "local" and store.manifest is None and store.count() == 0


def test_an_unknown_store_is_a_clear_error(tmp_path):
    with pytest.raises(InputError, match="RAG_STORE"):
        open_store(Settings(index_dir=tmp_path, store="elastic"))


def test_milvus_without_pymilvus_says_how_to_install_it(tmp_path, monkeypatch):
    from rag.errors import StoreError

    monkeypatch.setitem(sys.modules, "pymilvus", None)  # as if not installed
    with pytest.raises(StoreError, match=r"pip install 'rag-news-zh\[milvus\]'") as info:
        open_store(Settings(index_dir=tmp_path / "index", store="milvus"))
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("version, bm25", [("v2.4.5", False), ("2.5.0", True), ("v2.6.1", True)])
def test_a_milvus_server_before_2_5_is_used_dense_only_and_says_so_once(version, bm25, capsys):
    from rag.store import milvus_store

    class Client:
        def get_server_version(self):
            return version

    uri = f"http://127.0.0.1:19530/{version}"
    assert milvus_store._server_has_bm25(Client(), uri) is bm25
    assert milvus_store._server_has_bm25(Client(), uri) is bm25
    err = capsys.readouterr().err
    assert err.count("dense-only") == (0 if bm25 else 1)
