"""The seam between the index and the rest: what retrieval and ingestion may ask of a store.

Two backends implement it: ``LocalStore`` (FAISS + bm25s generation files,
rag/store/local_store.py) and ``MilvusStore`` (a Milvus collection, rag/store/milvus_store.py).
``rag.store.factory`` picks one from ``Settings.store`` (``RAG_STORE``). Retrieval and
ingestion import neither FAISS nor pymilvus: they only see this protocol.

Every store answers:

- ``dense_search`` / ``lexical_search``: ``(chunk_id, score)`` best first, restricted to
  a :class:`~rag.store.filters.SearchFilter` inside the search;
- ``get_chunks``, ``all_chunks``, ``count``, ``stats``, ``documents``, ``manifest``, ``close``;
- ``commit(changes)``: a batch of added, replaced and removed files made visible together
  (per file: a search sees its old or its new version, never a mix);
- ``generation`` and ``refresh()``: which commit the opened store shows, and taking up a
  commit another process made since (a store shared by several processes, Milvus, checks;
  the local store is read once and stays as opened).

Some answers are cheap for one backend and impossible for another; a backend declares
which it offers in :class:`Capabilities`, and hybrid search picks its fusion from them
(rag/retrieval.py): exact z-score fusion over every chunk, fusion over candidate pools
with an exactness check, or plain fusion over the two pools.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterator, Protocol, Sequence, runtime_checkable

import numpy as np

from rag.records import Chunk
from rag.store.filters import SearchFilter
from rag.store.manifest import FileEntry, Manifest

Hits = list[tuple[str, float]]  # (chunk_id, score), best first


@dataclass(frozen=True)
class Capabilities:
    """Optional answers a backend gives (the methods exist only when the flag is set)."""

    every_lexical_score: bool = False  # lexical_scores(query, where): BM25 of every chunk, zeros included
    raw_vectors: bool = False  # vectors(ids) and dense_scores(query_vector, ids): exact cosines of any chunk
    dense_moments: bool = False  # dense_moments(where): mean and spread of the dense scores of every chunk
    approximate_dense: bool = False  # dense_search may miss some of the true nearest chunks (HNSW)


@dataclass
class ScoreTable:
    """Scores of every chunk a filter lets through, in the store's own order."""

    ids: Sequence[str]
    scores: np.ndarray


@dataclass
class FileBatch:
    """One new or changed file, materialised: its manifest entry, its chunks and their vectors."""

    entry: FileEntry
    chunks: list[Chunk]
    vectors: np.ndarray  # row i is chunks[i]; float32, L2-normalised (empty when ``written``)
    # The version under which Ray's writers already inserted these chunks (Milvus only,
    # rag/store/ray_ingest.py): commit then only makes that version the file's live one.
    written: str | None = None


@dataclass
class ChangeSet:
    """What ``commit`` makes visible at once.

    ``manifest`` is the complete manifest after the change (its ``files`` list every file
    that stays). Files in ``batches`` get exactly these chunks (added, or replacing their
    old version); files of the previous manifest missing from ``manifest.files`` are
    removed; every other file keeps its chunks and vectors untouched.
    """

    manifest: Manifest
    batches: list[FileBatch] = field(default_factory=list)

    @property
    def sources(self) -> set[str]:
        return {batch.entry.source for batch in self.batches}


@runtime_checkable
class Store(Protocol):
    """An opened index. ``manifest`` is None for an empty store that was never committed to."""

    name: str  # "local" or "milvus"
    capabilities: Capabilities
    manifest: Manifest | None
    generation: str  # which commit this store shows; changes when refresh() takes up another one

    def refresh(self) -> bool: ...  # take up another process's commit; True when the store changed

    def count(self, where: SearchFilter | None = None) -> int: ...

    def stats(self) -> dict: ...

    def documents(self) -> list[FileEntry]: ...

    def dense_search(self, query_vector: np.ndarray, k: int, where: SearchFilter | None = None) -> Hits: ...

    def lexical_search(self, query: str, k: int, where: SearchFilter | None = None) -> Hits: ...

    def get_chunks(self, ids: Sequence[str]) -> list[Chunk]: ...

    def all_chunks(self) -> list[Chunk]: ...

    def commit(self, changes: ChangeSet) -> None: ...

    def close(self) -> None: ...


def commit_stage(name: str) -> None:
    """Called by each backend between the steps of a commit (a no-op).

    The steps are where an interrupted ingest could leave a store half changed; the
    contract tests replace this function in a child process to kill it exactly there
    (tests/store/interrupted_ingest.py).
    """


def chunk_file(chunk: Chunk) -> str:
    """The manifest file a chunk came from (JSONL records have their own source names)."""
    return chunk.file or chunk.source


def iter_batches(items: Sequence, size: int) -> Iterator[Sequence]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
