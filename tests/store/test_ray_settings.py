"""`--ray` and RAG_RAY_ADDRESS without a cluster: the settings, and the message when Ray is missing."""

from __future__ import annotations

import subprocess
import sys

import pytest

from rag.config import PROJECT_ROOT, Settings
from rag.errors import InputError


def test_ray_address_comes_from_the_environment():
    assert Settings.from_env({}).ray_address is None
    assert Settings.from_env({"RAG_RAY_ADDRESS": "10.0.0.5:6379", "RAG_RAY_ACTORS": "3"}).ray_address == "10.0.0.5:6379"
    assert Settings.from_env({"RAG_RAY_ACTORS": "3"}).ray_actors == 3


def test_without_ray_the_message_says_how_to_install_it(monkeypatch):
    from rag.store import ray_ingest

    monkeypatch.setitem(sys.modules, "ray", None)  # import ray raises ImportError
    with pytest.raises(InputError, match=r"pip install 'rag-news-zh\[scale\]'"):
        ray_ingest.require_ray()


def test_rag_ingest_ray_without_ray_is_one_line(tmp_path):
    """Run with Ray hidden from the import system: exit 2, one line on stderr, nothing indexed."""
    hide_ray = (
        "import sys; sys.modules['ray'] = None; sys.argv[0] = 'rag'; "
        "from rag.cli import main; sys.exit(main())"
    )
    result = subprocess.run(
        [sys.executable, "-c", hide_ray, "ingest", str(PROJECT_ROOT / "data" / "corpus"), "--ray", "--index", str(tmp_path / "idx")],
        capture_output=True, text=True, cwd=PROJECT_ROOT, timeout=120,
    )
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0 and "pip install 'rag-news-zh[scale]'" in result.stderr
    assert not (tmp_path / "idx").exists()


def test_retrieval_does_not_import_ray():
    code = "import sys, rag.retrieval, rag.store.ingestion; sys.exit(1 if 'ray' in sys.modules else 0)"
    assert subprocess.run([sys.executable, "-c", code], cwd=PROJECT_ROOT).returncode == 0
