"""Pick the store backend from ``Settings.store`` (env ``RAG_STORE``): one entry per backend.

```python
store = open_store(settings)            # the index to search; StoreError when none was built
store = open_store(settings, create=True)  # for ingestion: an empty store when none exists
```

Each backend is imported only when chosen, so the local store never loads pymilvus and
Milvus never loads FAISS.
"""

from __future__ import annotations

from rag.config import Settings
from rag.errors import InputError, StoreError

BACKENDS = ("local", "milvus")


def backend_name(settings: Settings) -> str:
    name = (settings.store or "local").strip().lower()
    if name not in BACKENDS:
        raise InputError(f"Unknown store {settings.store!r} (RAG_STORE). Use one of: {', '.join(BACKENDS)}")
    return name


def open_store(settings: Settings, *, create: bool = False, fresh: bool = False):
    """The configured backend's store for ``settings.index_dir``.

    Without ``create``, an index that was never built is a :class:`StoreError` telling
    how to build it. With it, such an index is returned empty (``manifest`` None).
    ``fresh`` (``rag ingest --rebuild``): start from nothing without reading the old index
    (it may be damaged); the first commit replaces it whole.
    """
    name = backend_name(settings)
    if name == "local":
        from rag.store.local_store import LocalStore

        if fresh:
            store = LocalStore.empty(settings.index_dir, settings.dense_approximate_from)
        else:
            store = LocalStore.connect(settings.index_dir, approximate_from=settings.dense_approximate_from)
    else:
        from rag.store.milvus_store import MilvusStore

        store = MilvusStore.connect(settings, fresh=fresh)
    if store.manifest is None and not create:
        raise StoreError(f"No index found in {_where(settings, name)}. Build it first: rag ingest")
    return store


def index_exists(settings: Settings) -> bool:
    """Whether an index was built (without reading it: a damaged one still exists)."""
    if backend_name(settings) == "local":
        from rag.store.index_store import current_generation

        return current_generation(settings.index_dir) is not None
    return read_manifest(settings) is not None


def read_manifest(settings: Settings):
    """The live manifest of the configured index, or None before its first build."""
    if backend_name(settings) == "local":
        from rag.store.index_store import read_manifest as read_local

        return read_local(settings.index_dir)
    store = open_store(settings, create=True)
    try:
        return store.manifest
    finally:
        store.close()


def _where(settings: Settings, name: str) -> str:
    if name == "milvus":
        return f"Milvus at {settings.milvus_uri or '(RAG_MILVUS_URI unset)'} for index {settings.index_dir.name}"
    return str(settings.index_dir)
