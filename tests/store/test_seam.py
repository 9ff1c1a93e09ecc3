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
