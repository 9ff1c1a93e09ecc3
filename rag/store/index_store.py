"""A built index on disk, and how it is laid out.

```
index/
  CURRENT                  name of the live generation (replaced atomically)
  .lock                    held while an ingest writes
  gen-<time>-<id>/         one complete, immutable build
    manifest.json          model, chunking settings, file hashes, counts
    chunks.jsonl           one Chunk per line, row order = vector order
    dense.faiss            FAISS inner-product index
    bm25/                  bm25s sparse matrices (NumPy + JSON)
```

Every ingest writes a new generation beside the old one and only then points CURRENT
at it, so an interrupted ingest leaves the previous index loadable. Opening an index
checks every file of the generation against the SHA-256 recorded in its manifest, so a
damaged file is reported as such instead of failing somewhere inside FAISS or BM25.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from rag.errors import StoreError
from rag.records import Chunk
from rag.store.dense import DenseIndex
from rag.store.lexical import LexicalIndex
from rag.store.manifest import FileEntry, Manifest, file_checksum

CURRENT_FILE = "CURRENT"
CHUNKS_FILE = "chunks.jsonl"
MANIFEST_FILE = "manifest.json"


def current_generation(index_dir: Path) -> Path | None:
    """The live generation directory, or None when no index was built yet."""
    pointer = index_dir / CURRENT_FILE
    if not pointer.exists():
        return None
    try:
        name = pointer.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise StoreError(f"The index pointer {pointer} is unreadable ({exc}). Rebuild the index: rag ingest --rebuild") from None
    generation = index_dir / name
    if not name.startswith("gen-") or "/" in name or not generation.is_dir():
        raise StoreError(f"The index at {index_dir} points to a missing build '{name[:80]}'. Rebuild it: rag ingest --rebuild")
    return generation


def read_manifest(index_dir: Path) -> Manifest | None:
    """The live build's manifest without loading any vectors, or None before the first build."""
    generation = current_generation(Path(index_dir))
    return None if generation is None else Manifest.read(generation / MANIFEST_FILE)


class IndexStore:
    """Chunks plus their dense and BM25 indexes, loaded from one generation."""

    def __init__(self, manifest: Manifest, chunks: list[Chunk], dense: DenseIndex, lexical: LexicalIndex, path: Path | None = None):
        if not (len(chunks) == dense.size == lexical.size):
            raise StoreError(
                f"The index at {path} is inconsistent ({len(chunks)} chunks, {dense.size} vectors, "
                f"{lexical.size} BM25 rows). Rebuild it: rag ingest --rebuild"
            )
        self.manifest = manifest
        self.chunks = chunks
        self.dense = dense
        self.lexical = lexical
        self.path = path
        self._vectors: np.ndarray | None = None

    @classmethod
    def open(cls, index_dir: Path, model_id: str | None = None, dimension: int | None = None) -> "IndexStore":
        """Load the live index; with ``model_id``/``dimension``, refuse one built by another model.

        Every file is checked against its checksum first. If an ingest switched to a new
        build while this one was being read (and removed the old build), the new one is read.
        """
        index_dir = Path(index_dir)
        generation = current_generation(index_dir)
        if generation is None:
            raise StoreError(f"No index found in {index_dir}. Build it first: rag ingest")
        try:
            return cls._load(generation, model_id, dimension)
        except StoreError:
            latest = current_generation(index_dir)
            if latest in (None, generation):
                raise
            return cls._load(latest, model_id, dimension)

    @classmethod
    def _load(cls, generation: Path, model_id: str | None, dimension: int | None) -> "IndexStore":
        manifest = Manifest.read(generation / MANIFEST_FILE)
        if model_id is not None and dimension is not None:
            manifest.check_model(model_id, dimension)
        verify_checksums(generation, manifest)
        chunks = read_chunks(generation / CHUNKS_FILE)
        return cls(manifest, chunks, DenseIndex.load(generation), LexicalIndex.load(generation), generation)

    @property
    def vectors(self) -> np.ndarray:
        """All chunk vectors in row order (read from FAISS once, then kept)."""
        if self._vectors is None:
            self._vectors = self.dense.vectors()
        return self._vectors

    def documents(self) -> list[FileEntry]:
        """One entry per ingested file (source, path, hash, article and chunk counts), by name."""
        return sorted(self.manifest.files.values(), key=lambda f: f.source)

    def stats(self) -> dict:
        m = self.manifest
        return {
            "documents": len(m.files),
            "articles": m.article_count,
            "chunks": len(self.chunks),
            "embedding_model": m.embedding_model,
            "dimension": m.dimension,
            "chunk_size": m.chunk_size,
            "chunk_overlap": m.chunk_overlap,
            "built_at": m.built_at,
            "build_seconds": m.build_seconds,
            "dense_index": self.dense.describe(),
        }


def read_chunks(path: Path) -> list[Chunk]:
    try:
        with path.open(encoding="utf-8") as handle:
            return [Chunk.from_dict(json.loads(line)) for line in handle if line.strip()]
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, TypeError) as exc:
        raise StoreError(f"The chunk file {path} is missing or corrupt ({exc}). Rebuild it: rag ingest --rebuild") from None


def write_chunks(path: Path, chunks: list[Chunk]) -> None:
    with path.open("w", encoding="utf-8") as handle:
        for chunk in chunks:
            handle.write(json.dumps(chunk.to_dict(), ensure_ascii=False) + "\n")


def index_checksums(generation: Path) -> dict[str, str]:
    """SHA-256 of every file of a build except the manifest, by path relative to the build."""
    return {
        path.relative_to(generation).as_posix(): file_checksum(path)
        for path in sorted(generation.rglob("*"))
        if path.is_file() and path.name != MANIFEST_FILE
    }


def verify_checksums(generation: Path, manifest: Manifest) -> None:
    """Raise a :class:`StoreError` naming the first index file that is missing or altered."""
    if not manifest.has_checksums:
        return  # built before checksums were recorded; the next ingest adds them
    for name, expected in manifest.checksums.items():
        path = generation / name
        try:
            actual = file_checksum(path)
        except FileNotFoundError:
            raise StoreError(f"Index file {name} is missing from {generation}. Rebuild the index: rag ingest --rebuild") from None
        except OSError as exc:
            raise StoreError(f"Index file {path} is unreadable ({exc.strerror}). Rebuild the index: rag ingest --rebuild") from None
        if actual != expected:
            raise StoreError(
                f"Index file {name} in {generation} is corrupt (checksum mismatch). Rebuild the index: rag ingest --rebuild"
            )
