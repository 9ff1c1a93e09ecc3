"""The persistent index: FAISS vectors + BM25 + manifest, built incrementally and atomically."""

from rag.store.index_store import IndexStore, read_manifest
from rag.store.ingestion import IngestReport, default_paths, ingest, remove_sources

__all__ = ["IndexStore", "read_manifest", "IngestReport", "default_paths", "ingest", "remove_sources"]
