"""The store contract (tests/store/contract.py) on the local FAISS + bm25s store."""

from __future__ import annotations

import pytest

from tests.store.contract import StoreContract


@pytest.fixture
def store_settings(tmp_path, base_settings):
    return base_settings.replace(store="local", index_dir=tmp_path / "index", upload_dir=tmp_path / "uploads")


class TestLocalStore(StoreContract):
    KILL_STAGES = ("files written",)  # the new build is on disk, CURRENT still names the old one
