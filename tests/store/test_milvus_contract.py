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
