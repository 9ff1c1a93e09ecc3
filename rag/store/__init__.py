"""The persistent index: FAISS vectors + BM25 + manifest, built incrementally and atomically."""

from rag.store.index_store import DocumentInfo, IndexStore
from rag.store.ingestion import IngestReport, default_paths, ingest, remove_sources

__all__ = ["DocumentInfo", "IndexStore", "IngestReport", "default_paths", "ingest", "remove_sources"]
