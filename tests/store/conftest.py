"""Fixtures for store tests.

The store's job is persistence (what is kept, re-embedded, written, refused), so these
tests count embedding calls with a small deterministic bag-of-bigrams embedder. Retrieval
quality with the real model is tested in tests/test_retrieval.py.
"""

from __future__ import annotations

import hashlib
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from rag.config import PROJECT_ROOT, Settings

CORPUS = PROJECT_ROOT / "data" / "corpus"


class CountingBigramEmbeddings:
    """Hashes character bigrams into a fixed-size normalised vector; counts what it embeds."""

    model_id = "test/bigram-hash-64"
    dimension = 64

    def __init__(self):
        self.embedded = 0

    def _vector(self, text: str) -> np.ndarray:
        v = np.zeros(self.dimension, dtype=np.float32)
        for i in range(len(text) - 1):
            v[int(hashlib.md5(text[i : i + 2].encode()).hexdigest(), 16) % self.dimension] += 1
        norm = np.linalg.norm(v)
        return v / norm if norm else v

    def encode_passages(self, texts, *, batch_size=32, show_progress=False):
        self.embedded += len(texts)
        return np.array([self._vector(t) for t in texts], dtype=np.float32).reshape(len(texts), self.dimension)

    def encode_queries(self, texts, **_):
        return np.array([self._vector(t) for t in texts], dtype=np.float32).reshape(len(texts), self.dimension)


@pytest.fixture
def corpus_dir(tmp_path: Path) -> Path:
    target = tmp_path / "corpus"
    target.mkdir()
    for name in ("000_a73fe32ef8bc3bea.txt", "001_b8f73a123f597be6.txt"):
        shutil.copy(CORPUS / name, target / name)
    (target / "extra.txt").write_text("株洲云龙示范区今年新建了三座图书馆。\n\n馆长张三介绍，藏书共计十二万册。\n", encoding="utf-8")
    return target


@pytest.fixture
def settings(tmp_path: Path, corpus_dir: Path) -> Settings:
    return Settings(
        corpus_dir=corpus_dir,
        index_dir=tmp_path / "index",
        upload_dir=tmp_path / "uploads",
        embedding_model=CountingBigramEmbeddings.model_id,
    )


@pytest.fixture
def embedder() -> CountingBigramEmbeddings:
    return CountingBigramEmbeddings()


@pytest.fixture
def milvus_lite_server(tmp_path):
    """A `milvus-lite server` on a free port: the Lite engine, shared by several processes (its URI)."""
    pytest.importorskip("milvus_lite", reason="Milvus Lite is not installed (pip install '.[milvus]')")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen([sys.executable, "-m", "milvus_lite", "server", "--data-dir", str(tmp_path / "milvus"),
                               "--host", "127.0.0.1", "--port", str(port)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            time.sleep(0.2)
    yield f"http://127.0.0.1:{port}"
    server.terminate()
    server.wait(timeout=30)
