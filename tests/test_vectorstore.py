"""The index as a LangChain VectorStore, and the README's example run as written."""

from __future__ import annotations

import contextlib
import io
import re
import shutil

import pytest

from rag.config import PROJECT_ROOT
from rag.vectorstore import NewsVectorStore

pytestmark = pytest.mark.integration


@pytest.fixture
def own_index(corpus_settings, tmp_path, monkeypatch):
    """A copy of the corpus index and an empty upload folder, also as RAG_* variables."""
    index_dir = tmp_path / "index"
    shutil.copytree(corpus_settings.index_dir, index_dir, ignore=shutil.ignore_patterns(".lock"))
    settings = corpus_settings.replace(index_dir=index_dir, upload_dir=tmp_path / "uploads")
    monkeypatch.setenv("RAG_INDEX_DIR", str(index_dir))
    monkeypatch.setenv("RAG_UPLOAD_DIR", str(settings.upload_dir))
    return settings


def test_search_filters_add_and_delete(own_index):
    check_search_filters_add_and_delete(NewsVectorStore(own_index), own_index)


def test_the_same_on_milvus_lite(base_settings, corpus_settings, tmp_path):
    from rag.store import ingest

    settings = base_settings.replace(store="milvus", milvus_uri=str(tmp_path / "milvus.db"), index_dir=tmp_path / "index",
                                     upload_dir=tmp_path / "uploads")
    ingest([corpus_settings.corpus_dir], settings)
    check_search_filters_add_and_delete(NewsVectorStore(settings), settings)


def check_search_filters_add_and_delete(store, settings):
    found = store.similarity_search_with_score("太钢的碳中和目标是什么", k=3)
    assert len(found) == 3 and found[0][0].metadata["source"] == "000_a73fe32ef8bc3bea.txt"
    assert found[0][1] >= found[1][1] >= found[2][1]
    only = store.as_retriever(search_kwargs={"k": 2, "filter": {"source": "004_a03633453cf80aeb.txt"}}).invoke("碳达峰")
    assert len(only) == 2 and {d.metadata["source"] for d in only} == {"004_a03633453cf80aeb.txt"}
    ids = store.add_texts(["星河公司发布青鸾-7无人机，最大载重4873克。"], metadatas=[{"title": "无人机发布", "date": "2024-06-01"}])
    top = store.similarity_search("青鸾-7的最大载重是多少", k=1)[0]
    assert "4873" in top.page_content and top.metadata["title"] == "无人机发布" and top.metadata["date"] == "2024-06-01"
    assert store.get_by_ids([top.id])[0].page_content == top.page_content
    assert store.delete(ids)
    assert "4873" not in store.similarity_search("青鸾-7的最大载重是多少", k=1)[0].page_content
    assert not (settings.upload_dir / ids[0]).exists()


def test_the_readme_example_runs_as_written(own_index):
    readme = (PROJECT_ROOT / "README.md").read_text(encoding="utf-8")
    code = re.search(r"<!-- example: vectorstore -->\s*```python\n(.*?)```", readme, re.S).group(1)
    assert len(code.strip().splitlines()) <= 12
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code, "README.md", "exec"), {})
    lines = out.getvalue().splitlines()
    assert "000_a73fe32ef8bc3bea.txt" in lines[0]
    assert lines[3] == "['004_a03633453cf80aeb.txt', '004_a03633453cf80aeb.txt']"
    assert "4873" in lines[4]
