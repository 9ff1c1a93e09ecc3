"""Fixtures for answering tests (the doubles live in ``tests.answer.fakes``)."""

from __future__ import annotations

import pytest

from tests.answer.fakes import ToySearcher


@pytest.fixture
def toy_searcher() -> ToySearcher:
    return ToySearcher()


@pytest.fixture
def toy_settings(tmp_path):
    from rag.config import Settings

    return Settings(index_dir=tmp_path / "index", cache_dir=tmp_path / "cache")
