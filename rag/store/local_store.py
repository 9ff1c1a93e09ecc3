"""The local backend: one FAISS + bm25s generation on disk, behind the store protocol.

Reading is :class:`~rag.store.index_store.IndexStore` (checksums, the CURRENT pointer);
this class adds the protocol's searches, keyed by chunk id instead of row number, and
``commit``, which writes a complete new generation and switches CURRENT to it in one
rename (the layout is drawn in rag/store/index_store.py). Because a generation is
immutable, an opened ``LocalStore`` is a snapshot: a later commit does not change it, and
``refresh()`` takes up nothing (one process serves a local index; the app reopens it after
its own changes).

It can score every chunk both ways cheaply (all vectors are in memory, BM25 scores all
rows at once), so it offers every capability and hybrid search fuses exactly.
"""

from __future__ import annotations

import os
import shutil
import time
import uuid
from pathlib import Path
from typing import Sequence

import numpy as np

from rag.errors import StoreError
from rag.records import Chunk
from rag.store.base import Capabilities, ChangeSet, Hits, ScoreTable, chunk_file, commit_stage
from rag.store.dense import DenseIndex
from rag.store.filters import SearchFilter, active
from rag.store.index_store import (
    CHUNKS_FILE,
    CURRENT_FILE,
    MANIFEST_FILE,
    IndexStore,
    current_generation,
    index_checksums,
    write_chunks,
)
from rag.store.lexical import LexicalIndex
from rag.store.manifest import FORMAT_VERSION, Manifest
from rag.store.tokenize import tokenize


class LocalStore(IndexStore):
    """A loaded generation (or an empty index directory) that answers the store protocol."""

    name = "local"

    def __init__(self, manifest, chunks, dense, lexical, path=None, *, index_dir: Path | None = None,
                 approximate_from: int | None = None):
        super().__init__(manifest, chunks, dense, lexical, path)
        self.index_dir = Path(index_dir) if index_dir is not None else (Path(path).parent if path is not None else None)
        self.approximate_from = approximate_from
        self.chunk_ids = [chunk.chunk_id for chunk in chunks]
        self._row_of = {chunk_id: row for row, chunk_id in enumerate(self.chunk_ids)}
        self._masks: dict[SearchFilter, np.ndarray] = {}
        self.capabilities = Capabilities(
            every_lexical_score=True, raw_vectors=True, dense_moments=True, approximate_dense=dense.kind != "flat"
        )

    @classmethod
    def connect(cls, index_dir: Path, *, approximate_from: int | None = None) -> "LocalStore":
        """The live generation of ``index_dir``, or an empty store when nothing was built yet."""
        index_dir = Path(index_dir)
        if current_generation(index_dir) is None:
            return cls.empty(index_dir, approximate_from)
        store = cls.open(index_dir)
        store.index_dir, store.approximate_from = index_dir, approximate_from
        return store

    @classmethod
    def empty(cls, index_dir: Path, approximate_from: int | None = None) -> "LocalStore":
        return cls(None, [], DenseIndex.build(np.zeros((0, 1), np.float32), 1), LexicalIndex(None, 0),
                   index_dir=index_dir, approximate_from=approximate_from)

    def close(self) -> None:
        """Nothing to release: a generation is read into memory when opened."""

    @property
    def generation(self) -> str:
        """The generation folder this store was read from ("" for an empty index)."""
        return self.path.name if self.path is not None else ""

    def refresh(self) -> bool:
        """Nothing to take up: an opened generation stays as it was read (reopen for a newer one)."""
        return False

    # -- reading -------------------------------------------------------------------

    def count(self, where: SearchFilter | None = None) -> int:
        where = active(where)
        return len(self.chunks) if where is None else int(self._mask(where).sum())

    def get_chunks(self, ids: Sequence[str]) -> list[Chunk]:
        return [self.chunks[self._row_of[chunk_id]] for chunk_id in ids if chunk_id in self._row_of]

    def all_chunks(self) -> list[Chunk]:
        return list(self.chunks)

    def dense_search(self, query_vector: np.ndarray, k: int, where: SearchFilter | None = None) -> Hits:
        """FAISS's nearest chunks; with a filter, the exact best of the chunks it lets through."""
        where = active(where)
        if where is None:
            return [(self.chunk_ids[row], score) for row, score in self.dense.search(query_vector, k)]
        rows = np.flatnonzero(self._mask(where))
        return self._top(rows, self.vectors[rows] @ query_vector, k, positive_only=False)

    def lexical_search(self, query: str, k: int, where: SearchFilter | None = None) -> Hits:
        table = self.lexical_scores(query, where)
        return self._top(self._rows(table.ids), table.scores, k, positive_only=True)

    # -- capabilities --------------------------------------------------------------

    def lexical_scores(self, query: str, where: SearchFilter | None = None) -> ScoreTable:
        """BM25 of every chunk the filter lets through (ids in row order; the full id list when unfiltered)."""
        scores = self.lexical.scores(query) if self.chunks else np.zeros(0, np.float32)
        where = active(where)
        if where is None:
            return ScoreTable(self.chunk_ids, scores)
        rows = np.flatnonzero(self._mask(where))
        return ScoreTable([self.chunk_ids[row] for row in rows], scores[rows])

    def dense_scores(self, query_vector: np.ndarray, ids: Sequence[str]) -> np.ndarray:
        """Exact cosines of ``ids``; the full id list (``self.chunk_ids``) is one matrix-vector product, no copy."""
        if ids is self.chunk_ids:
            return self.vectors @ query_vector
        return self.vectors[self._rows(ids)] @ query_vector

    def vectors_of(self, ids: Sequence[str]) -> dict[str, np.ndarray]:
        """Stored vectors of the ids this store holds (others are left out)."""
        return {chunk_id: self.vectors[self._row_of[chunk_id]] for chunk_id in ids if chunk_id in self._row_of}

    def dense_moments(self, where: SearchFilter | None = None):
        from rag.store.moments import ScoreMoments

        where = active(where)
        return ScoreMoments(self.vectors if where is None else self.vectors[self._mask(where)])

    # -- writing -------------------------------------------------------------------

    def commit(self, changes: ChangeSet) -> None:
        """Write the next generation: kept files' rows from this one, changed files' from ``changes``."""
        if self.index_dir is None:
            raise StoreError("This index was opened read-only (no index directory); it cannot be changed.")
        if any(batch.written for batch in changes.batches):
            raise StoreError("The local store writes its own rows: a file batch written elsewhere cannot be committed to it.")
        replaced = changes.sources
        chunks: list[Chunk] = []
        blocks: list[np.ndarray] = []
        batches = {batch.entry.source: batch for batch in changes.batches}
        kept_rows = self._rows_by_file()
        for source in sorted(changes.manifest.files):
            if source in replaced:
                chunks += batches[source].chunks
                blocks.append(np.asarray(batches[source].vectors, dtype=np.float32))
            else:
                rows = kept_rows.get(source, [])
                chunks += [self.chunks[row] for row in rows]
                blocks.append(self.vectors[rows] if rows else np.zeros((0, changes.manifest.dimension), np.float32))
        matrix = np.vstack(blocks).astype(np.float32) if blocks else np.zeros((0, changes.manifest.dimension), np.float32)
        write_generation(self.index_dir, changes.manifest, chunks, matrix, self.approximate_from)

    # -- helpers -------------------------------------------------------------------

    def _mask(self, where: SearchFilter) -> np.ndarray:
        """Which rows ``where`` lets through (the last few filters' masks are kept: one search asks several times)."""
        mask = self._masks.get(where)
        if mask is None:
            mask = np.fromiter((where.matches(chunk) for chunk in self.chunks), dtype=bool, count=len(self.chunks))
            if len(self._masks) >= 16:
                self._masks.pop(next(iter(self._masks)))
            self._masks[where] = mask
        return mask

    def _rows(self, ids: Sequence[str]) -> np.ndarray:
        if ids is self.chunk_ids:
            return np.arange(len(ids))
        return np.fromiter((self._row_of[chunk_id] for chunk_id in ids), dtype=np.int64, count=len(ids))

    def _top(self, rows: np.ndarray, scores: np.ndarray, k: int, *, positive_only: bool) -> Hits:
        """The ``k`` best of ``scores`` (``rows[i]`` scored ``scores[i]``), ties by row."""
        k = min(k, len(scores))
        if k <= 0:
            return []
        top = np.argpartition(-scores, k - 1)[:k]
        top = top[np.lexsort((rows[top], -scores[top]))]
        return [(self.chunk_ids[rows[i]], float(scores[i])) for i in top if not positive_only or scores[i] > 0]

    def _rows_by_file(self) -> dict[str, list[int]]:
        rows: dict[str, list[int]] = {}
        for row, chunk in enumerate(self.chunks):
            rows.setdefault(chunk_file(chunk), []).append(row)
        return rows


def write_generation(
    index_dir: Path, manifest: Manifest, chunks: list[Chunk], vectors: np.ndarray, approximate_from: int | None
) -> None:
    """Write a complete new build, then switch CURRENT to it in one atomic rename.

    The dense index is rebuilt from ``vectors`` every time: exact below ``approximate_from``
    vectors, approximate from there on (:class:`DenseIndex`).
    """
    name = f"gen-{time.strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:6]}"
    staging = index_dir / f".{name}.tmp"
    staging.mkdir()
    try:
        write_chunks(staging / CHUNKS_FILE, chunks)
        dense = DenseIndex.build(vectors, manifest.dimension, approximate_from=approximate_from)
        dense.save(staging)
        manifest.dense_index = dense.kind
        LexicalIndex.build([tokenize(lexical_text(c)) for c in chunks]).save(staging)
        commit_stage("files written")
        manifest.format_version = FORMAT_VERSION
        manifest.checksums = index_checksums(staging)  # the manifest comes last: it vouches for the rest
        manifest.write(staging / MANIFEST_FILE)
        _fsync_tree(staging)
        final = index_dir / name
        os.replace(staging, final)
        pointer = index_dir / f".{CURRENT_FILE}.tmp"
        pointer.write_text(name, encoding="utf-8")
        _fsync_file(pointer)
        os.replace(pointer, index_dir / CURRENT_FILE)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    for old in index_dir.iterdir():  # older builds and leftovers of interrupted ones
        if old.name != name and (old.name.startswith("gen-") or old.name.startswith(".gen-")):
            shutil.rmtree(old, ignore_errors=True)


def lexical_text(chunk: Chunk) -> str:
    """The text BM25 indexes for a chunk (the same the model embeds: title and passage)."""
    from rag.chunking import passage_text

    return passage_text(chunk)


def _fsync_file(path: Path) -> None:
    with open(path, "rb") as handle:
        os.fsync(handle.fileno())


def _fsync_tree(root: Path) -> None:
    for path in root.rglob("*"):
        if path.is_file():
            _fsync_file(path)
