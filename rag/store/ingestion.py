"""Build or update the index: scan files → (re)chunk what changed → embed only new text → write atomically.

Incremental by construction:
- a file whose content hash and chunking settings are unchanged keeps its chunks and vectors;
- a changed file is re-chunked, and only chunks whose text is new are embedded;
- a file that disappeared from a scanned folder loses its chunks;
- when nothing changed, nothing is written and no model is loaded.

One bad file never stops a run: a file that cannot be used (unreadable, binary, not
decodable, empty, larger than ``max_file_bytes``, a broken link, a second file of the
same name) is left out and listed in ``IngestReport.failed`` with the reason; if an
earlier version of it is indexed, that version is kept. A file with the same content as
another is indexed once, under the first name. Only one ingest writes to an index
directory at a time; a second one waits for the first to finish.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import sys
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Iterator

import numpy as np

from rag.config import Settings
from rag.errors import InputError, RagError, StoreError
from rag.records import Chunk
from rag.store.dense import DenseIndex
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
from rag.store.manifest import FORMAT_VERSION, FileEntry, Manifest, processing_fingerprint
from rag.store.tokenize import load_dictionary_in_background, tokenize

# progress(stage, done, total): stage is "embedding" while vectors are computed
Progress = Callable[[str, int, int], None]

EMBED_SLICE = 64  # passages per progress update


@dataclass
class IngestReport:
    files: int = 0
    articles: int = 0
    chunks: int = 0
    new: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # unchanged files
    failed: dict[str, str] = field(default_factory=dict)  # file -> why it was left out
    embedded_chunks: int = 0
    reused_chunks: int = 0
    seconds: float = 0.0
    waited_seconds: float = 0.0  # for another ingest into the same index to finish
    written: bool = False

    @property
    def ingested_any(self) -> bool:
        """Whether at least one file of this run is now in the index (new, changed or unchanged)."""
        return bool(self.new or self.changed or self.skipped)

    def summary(self) -> str:
        lines = [
            f"files {self.files} · articles {self.articles} · chunks {self.chunks}",
            f"new {len(self.new)} · changed {len(self.changed)} · removed {len(self.removed)} · "
            f"skipped (unchanged) {len(self.skipped)} · failed {len(self.failed)}",
            f"embedded {self.embedded_chunks} chunks · reused {self.reused_chunks} · {self.seconds:.1f} s",
        ]
        lines += [f"failed: {name}: {message}" for name, message in self.failed.items()]
        return "\n".join(lines)

    def to_json(self) -> dict:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


def default_paths(settings: Settings) -> list[Path]:
    """The bundled corpus, plus files uploaded through the UI."""
    paths = [settings.corpus_dir]
    if settings.upload_dir.is_dir():
        paths.append(settings.upload_dir)
    return paths


def ingest(
    paths: list[Path] | None,
    settings: Settings,
    *,
    rebuild: bool = False,
    progress: Progress | None = None,
    show_progress: bool = False,
    embeddings=None,
) -> IngestReport:
    """Bring the index in ``settings.index_dir`` up to date with ``paths`` (default: the corpus)."""
    started = time.perf_counter()
    index_dir = settings.index_dir
    try:
        index_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StoreError(f"Cannot create the index directory {index_dir}: {exc.strerror}") from None
    paths = [Path(p) for p in (paths or default_paths(settings))]

    with _lock(index_dir, show_progress) as waited:
        previous = None if rebuild else _open_previous(index_dir, settings)
        scan = _scan(paths, settings.max_file_bytes)
        found = scan.found
        report = IngestReport(failed=dict(scan.failed), waited_seconds=waited)
        old_files = previous.manifest.files if previous else {}
        processing = processing_fingerprint()
        settings_changed = previous is not None and (
            previous.manifest.chunk_size != settings.chunk_size
            or previous.manifest.chunk_overlap != settings.chunk_overlap
            or previous.manifest.processing != processing
        )

        # What to keep, what to (re)process, what to drop.
        duplicates = _duplicates(found, old_files)
        keep: dict[str, FileEntry] = {}
        todo: dict[str, tuple[Path, str]] = {}
        for source, (path, digest) in found.items():
            old = old_files.get(source)
            if source in duplicates:
                continue  # indexed under the other name; an older version of this one is dropped
            if old is not None and old.sha256 == digest and not settings_changed:
                keep[source] = old
                report.skipped.append(source)
            else:
                todo[source] = (path, digest)
                (report.changed if old is not None else report.new).append(source)
        for source, old in old_files.items():
            if source in found:
                continue
            if source in scan.failed or scan.unknown(Path(old.path)):
                keep[source] = old  # unusable now, or in a folder we could not list: keep the last good version
            elif _in_scope(Path(old.path), paths):
                report.removed.append(source)
            else:
                keep[source] = old  # ingested from elsewhere; not ours to judge

        # Load, clean, segment and chunk the new and changed files.
        new_chunks: dict[str, list[Chunk]] = {}
        new_entries: dict[str, FileEntry] = {}
        for source, (path, digest) in sorted(todo.items()):
            try:
                entry, chunks = _chunk_file(path, source, digest, settings)
            except RagError as exc:
                report.failed[source] = str(exc)
                if source in old_files:
                    keep[source] = old_files[source]  # keep the last good version
                continue
            new_entries[source] = entry
            new_chunks[source] = chunks
        report.new = [s for s in report.new if s not in report.failed]
        report.changed = [s for s in report.changed if s not in report.failed]
        for source, original in duplicates.items():
            why = f"; it could not be indexed: {report.failed[original]}" if original in report.failed else " (indexed once, under that name)"
            report.failed[source] = f"same content as {original}{why}"

        dropped_duplicates = any(source in old_files for source in duplicates)
        upgrade = previous is not None and not previous.manifest.has_checksums
        if previous is not None and not (new_entries or report.removed or dropped_duplicates or upgrade):
            _fill_counts(report, previous.manifest)  # nothing changed, or every change failed
            report.seconds = time.perf_counter() - started
            return report
        if previous is None and not new_entries:  # nothing usable: leave any existing index as it is
            report.seconds = time.perf_counter() - started
            return report

        # Assemble the new row order: files sorted by name, chunks in reading order.
        old_rows = _rows_by_source(previous) if previous else {}
        chunks: list[Chunk] = []
        vectors: list[np.ndarray | None] = []
        reuse = _vectors_by_chunk_id(previous) if previous else {}
        for source in sorted(set(keep) | set(new_entries)):
            if source in new_entries:
                for chunk in new_chunks[source]:
                    chunks.append(chunk)
                    vectors.append(reuse.get(chunk.chunk_id))
            else:
                for row in old_rows.get(source, []):
                    chunks.append(previous.chunks[row])
                    vectors.append(previous.vectors[row])

        missing = [i for i, v in enumerate(vectors) if v is None]
        report.reused_chunks = len(chunks) - len(missing)
        model = None
        if missing or previous is None:
            load_dictionary_in_background()  # for the BM25 index, while the model loads and embeds
            model = embeddings or _load_embeddings(settings)
            if previous is not None:
                previous.manifest.check_model(model.model_id, model.dimension)
        if missing:
            from rag.chunking import passage_text

            computed = _embed([passage_text(chunks[i]) for i in missing], model, settings, progress, show_progress)
            for i, vector in zip(missing, computed):
                vectors[i] = vector
            report.embedded_chunks = len(missing)

        dimension = model.dimension if model else previous.manifest.dimension
        matrix = np.vstack(vectors).astype(np.float32) if vectors else np.zeros((0, dimension), dtype=np.float32)
        manifest = Manifest(
            embedding_model=model.model_id if model else previous.manifest.embedding_model,
            dimension=dimension,
            chunk_size=settings.chunk_size,
            chunk_overlap=settings.chunk_overlap,
            model_setting=settings.embedding_model,
            embedding_variant=settings.embedding_variant,
            processing=processing,
            files={**keep, **new_entries},
            built_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        )
        manifest.build_seconds = round(time.perf_counter() - started, 2)
        _write_generation(index_dir, manifest, chunks, matrix, settings.dense_approximate_from)
        _fill_counts(report, manifest)
        report.written = True
        report.seconds = time.perf_counter() - started
        return report


def remove_sources(sources: list[str], settings: Settings) -> IngestReport:
    """Delete documents from the index (both FAISS and BM25) without re-embedding anything."""
    started = time.perf_counter()
    with _lock(settings.index_dir):
        previous = IndexStore.open(settings.index_dir)
        unknown = [s for s in sources if s not in previous.manifest.files]
        if unknown:
            raise InputError(f"Not in the index: {', '.join(unknown)}")
        gone = set(sources)
        rows = [i for i, c in enumerate(previous.chunks) if _file_of(c) not in gone]
        files = {k: v for k, v in previous.manifest.files.items() if k not in gone}
        manifest = Manifest(**{**previous.manifest.__dict__, "files": files})
        manifest.built_at = datetime.now(timezone.utc).isoformat(timespec="seconds")
        matrix = previous.vectors[rows] if rows else np.zeros((0, manifest.dimension), dtype=np.float32)
        _write_generation(settings.index_dir, manifest, [previous.chunks[i] for i in rows], matrix, settings.dense_approximate_from)
    report = IngestReport(removed=list(sources), written=True, reused_chunks=len(rows))
    _fill_counts(report, manifest)
    report.seconds = time.perf_counter() - started
    return report


# --- steps -------------------------------------------------------------------------


def _open_previous(index_dir: Path, settings: Settings) -> IndexStore | None:
    if current_generation(index_dir) is None:
        return None
    store = IndexStore.open(index_dir)
    store.manifest.check_settings(settings.embedding_model, settings.embedding_variant, index_dir)
    return store


@dataclass
class _Scan:
    """The usable files found under the scanned paths, and what was passed over."""

    found: dict[str, tuple[Path, str]] = field(default_factory=dict)  # source name -> (path, SHA-256)
    failed: dict[str, str] = field(default_factory=dict)  # source name (or path) -> why it is left out
    unlisted: list[Path] = field(default_factory=list)  # folders whose content is unknown

    def unknown(self, path: Path) -> bool:
        """Whether ``path`` lies in a folder that could not be listed (or a root that is missing)."""
        return any(path == folder or folder in path.parents for folder in self.unlisted)


def _scan(paths: list[Path], max_file_bytes: int) -> _Scan:
    """Supported files under ``paths``, by source name, with their SHA-256; problems go to ``failed``."""
    from rag.corpus.loaders import list_files, read_bytes

    scan = _Scan()
    for root in paths:
        listing = list_files(root)
        scan.unlisted += [folder.resolve() for folder in listing.unlisted]
        for path, reason in listing.skipped.items():
            scan.failed[_display_name(path)] = reason
        for file in listing.files:
            source = file.name
            if source in scan.found:
                first = scan.found[source][0]
                if first.resolve() != file.resolve():
                    scan.failed[str(file)] = f"another file named {source} ({first}) is indexed; file names must be unique"
                continue
            try:
                size = file.stat().st_size
                if size > max_file_bytes:
                    scan.failed[source] = (
                        f"{_size(size)} is over the per-file limit of {_size(max_file_bytes)} "
                        "(setting max_file_bytes; raise it with RAG_MAX_FILE_BYTES)"
                    )
                    continue
                digest = hashlib.sha256(read_bytes(file)).hexdigest()
            except OSError as exc:
                scan.failed[source] = f"cannot read it: {exc.strerror or exc}"
                continue
            except RagError as exc:
                scan.failed[source] = str(exc)
                continue
            scan.found[source] = (file, digest)
    return scan


def _size(n: int) -> str:
    """A byte count for people: ``50 MB``, ``9.3 KB``, ``512 bytes``."""
    if n >= 2**20:
        return f"{round(n / 2**20, 1):g} MB"
    if n >= 2**10:
        return f"{round(n / 2**10, 1):g} KB"
    return f"{n} bytes"


def _display_name(path: Path) -> str:
    """How a skipped entry is named in the report: a file by its source name, a folder by its path."""
    if path.is_dir() or not path.suffix:
        return f"{path}/"
    return path.name


def _duplicates(found: dict[str, tuple[Path, str]], old_files: dict[str, FileEntry]) -> dict[str, str]:
    """Files whose content equals another found file's: source -> the source indexed instead.

    The file already indexed with that content is preferred, then the first one scanned.
    """
    owner: dict[str, str] = {}  # SHA-256 -> source indexed with that content
    for source, (_path, digest) in found.items():
        old = old_files.get(source)
        if old is not None and old.sha256 == digest:
            owner.setdefault(digest, source)
    duplicates = {}
    for source, (_path, digest) in found.items():
        first = owner.setdefault(digest, source)
        if first != source:
            duplicates[source] = first
    return duplicates


def _in_scope(path: Path, roots: list[Path]) -> bool:
    """Whether a previously ingested file lived under one of the scanned folders (or was named)."""
    for root in roots:
        root = root.resolve()
        if path.resolve() == root or root in path.resolve().parents:
            return True
    return False


def _chunk_file(path: Path, source: str, digest: str, settings: Settings) -> tuple[FileEntry, list[Chunk]]:
    from rag.chunking import chunk_articles
    from rag.corpus import load_path, segment_document

    articles = []
    for document in load_path(path):
        articles.extend(segment_document(document))
    chunks = chunk_articles(articles, settings.chunk_size, settings.chunk_overlap)
    for chunk in chunks:
        chunk.file = source
    first = articles[0] if articles else None
    entry = FileEntry(
        source=source,
        path=str(path.resolve()),
        sha256=digest,
        articles=len(articles),
        chunks=len(chunks),
        title=first.title if first else None,
        date=first.date if first else None,
        newspaper=first.newspaper if first else None,
    )
    return entry, chunks


def _rows_by_source(store: IndexStore) -> dict[str, list[int]]:
    rows: dict[str, list[int]] = {}
    for i, chunk in enumerate(store.chunks):
        rows.setdefault(_file_of(chunk), []).append(i)
    return rows


def _file_of(chunk: Chunk) -> str:
    """The manifest file a chunk came from."""
    return chunk.file or chunk.source


def _vectors_by_chunk_id(store: IndexStore) -> dict[str, np.ndarray]:
    return {chunk.chunk_id: store.vectors[i] for i, chunk in enumerate(store.chunks)}


def _load_embeddings(settings: Settings):
    from rag.embeddings import load_embeddings

    return load_embeddings(settings)


def _embed(texts: list[str], model, settings: Settings, progress: Progress | None, show_progress: bool) -> np.ndarray:
    """Embed in length-sorted slices (less padding), reporting progress after each slice."""
    from tqdm import tqdm

    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    out = np.zeros((len(texts), model.dimension), dtype=np.float32)
    bar = tqdm(total=len(texts), desc="embedding", unit="chunk", file=sys.stderr, disable=not show_progress)
    done = 0
    for start in range(0, len(order), EMBED_SLICE):
        batch = order[start : start + EMBED_SLICE]
        out[batch] = model.encode_passages([texts[i] for i in batch], batch_size=settings.embedding_batch_size)
        done += len(batch)
        bar.update(len(batch))
        if progress:
            progress("embedding", done, len(texts))
    bar.close()
    return out


def _write_generation(
    index_dir: Path, manifest: Manifest, chunks: list[Chunk], vectors: np.ndarray, approximate_from: int
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
        LexicalIndex.build([tokenize(_lexical_text(c)) for c in chunks]).save(staging)
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


def _lexical_text(chunk: Chunk) -> str:
    from rag.chunking import passage_text

    return passage_text(chunk)


def _fill_counts(report: IngestReport, manifest: Manifest) -> None:
    report.files = len(manifest.files)
    report.articles = manifest.article_count
    report.chunks = manifest.chunk_count


def _fsync_file(path: Path) -> None:
    with open(path, "rb") as handle:
        os.fsync(handle.fileno())


def _fsync_tree(root: Path) -> None:
    for path in root.rglob("*"):
        if path.is_file():
            _fsync_file(path)


@contextmanager
def _lock(index_dir: Path, show_progress: bool = False) -> Iterator[float]:
    """One writer at a time per index directory (CLI and UI may both ingest); yields the seconds waited.

    The lock is an ``flock`` on ``index/.lock``: the kernel releases it when its holder
    exits, even on ``kill -9``, so a stale lock file never blocks a later ingest.
    """
    with open(index_dir / ".lock", "w") as handle:
        started = time.perf_counter()
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            if show_progress:
                print(f"another ingest is updating {index_dir}; waiting for it to finish…", file=sys.stderr, flush=True)
            fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield time.perf_counter() - started
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
