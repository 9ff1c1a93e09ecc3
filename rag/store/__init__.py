"""The persistent index behind one protocol (rag/store/base.py): local FAISS + BM25 files or Milvus.

Names are imported on first use, so that importing ``rag.store`` loads neither FAISS nor
pymilvus: each backend's library is loaded only by the backend that needs it.
"""

from importlib import import_module

_EXPORTS = {
    "IndexStore": "rag.store.index_store",
    "read_manifest": "rag.store.index_store",
    "open_store": "rag.store.factory",
    "IngestReport": "rag.store.ingestion",
    "default_paths": "rag.store.ingestion",
    "ingest": "rag.store.ingestion",
    "remove_sources": "rag.store.ingestion",
}

__all__ = list(_EXPORTS)


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module 'rag.store' has no attribute {name!r}")
    return getattr(import_module(_EXPORTS[name]), name)
