"""Build or update the index: scan files → plan what changed → (re)chunk and embed only new text → commit.

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
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Iterator

import numpy as np

from rag.config import Settings
from rag.errors import InputError, RagError, StoreError
from rag.records import Chunk
from rag.store.base import ChangeSet, FileBatch
from rag.store.factory import open_store
from rag.store.manifest import FileEntry, Manifest, processing_fingerprint
from rag.store.plan import plan_changes
from rag.store.tokenize import load_dictionary_in_background

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
    """Bring the configured index up to date with ``paths`` (default: the corpus).

    Three steps: :func:`plan_changes` decides from file hashes what changed (pure);
    :func:`materialise` cleans, chunks and embeds the changed files (only texts the index
    does not hold yet are embedded); the store's ``commit`` makes it all visible together.
    """
    started = time.perf_counter()
    index_dir = settings.index_dir
    try:
        index_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StoreError(f"Cannot create the index directory {index_dir}: {exc.strerror}") from None
    paths = [Path(p) for p in (paths or default_paths(settings))]

    with _lock(index_dir, show_progress) as waited, _closing(open_store(settings, create=True, fresh=rebuild)) as store:
        previous = store.manifest
        if previous is not None:
            previous.check_settings(settings.embedding_model, settings.embedding_variant, index_dir)
        scan = _scan(paths, settings.max_file_bytes)
        processing = processing_fingerprint()
        settings_changed = previous is not None and (
            previous.chunk_size != settings.chunk_size
            or previous.chunk_overlap != settings.chunk_overlap
            or previous.processing != processing
        )
        plan = plan_changes(scan.found, set(scan.failed), scan.unknown, previous, paths, settings_changed)
        report = IngestReport(failed=dict(scan.failed), waited_seconds=waited, skipped=list(plan.skipped))

        batches = _chunk_changed(plan, previous, settings, report, _page_progress(progress, show_progress))
        upgrade = previous is not None and not previous.has_checksums and store.name == "local"
        if previous is not None and not (batches or plan.removed or plan.dropped_duplicates or upgrade):
            _fill_counts(report, previous)  # nothing changed, or every change failed
            report.seconds = time.perf_counter() - started
            return report
        if previous is None and not batches:  # nothing usable: leave any existing index as it is
            report.seconds = time.perf_counter() - started
            return report

        model = None
        if batches or previous is None:
            load_dictionary_in_background()  # for the BM25 index, while the model loads and embeds
            model = embeddings or _load_embeddings(settings)
            if previous is not None:
                previous.check_model(model.model_id, model.dimension)
        materialised = materialise(batches, store, model, settings, progress, show_progress, report)
        manifest = Manifest(
            embedding_model=model.model_id if model else previous.embedding_model,
            dimension=model.dimension if model else previous.dimension,
            chunk_size=settings.chunk_size,
            chunk_overlap=settings.chunk_overlap,
            model_setting=settings.embedding_model,
            embedding_variant=settings.embedding_variant,
            processing=processing,
            files={**plan.keep, **{b.entry.source: b.entry for b in materialised}},
            built_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        )
        manifest.build_seconds = round(time.perf_counter() - started, 2)
        store.commit(ChangeSet(manifest, materialised))
        _fill_counts(report, manifest)
        report.reused_chunks = manifest.chunk_count - report.embedded_chunks
        report.written = True
        report.seconds = time.perf_counter() - started
        return report


def remove_sources(sources: list[str], settings: Settings) -> IngestReport:
    """Delete documents from the index (dense and lexical) without re-embedding anything."""
    started = time.perf_counter()
    with _lock(settings.index_dir), _closing(open_store(settings)) as store:
        previous = store.manifest
        unknown = [s for s in sources if s not in previous.files]
        if unknown:
            raise InputError(f"Not in the index: {', '.join(unknown)}")
        gone = set(sources)
        files = {k: v for k, v in previous.files.items() if k not in gone}
        manifest = Manifest(**{**previous.__dict__, "files": files})
        manifest.built_at = datetime.now(timezone.utc).isoformat(timespec="seconds")
        store.commit(ChangeSet(manifest, []))
    report = IngestReport(removed=list(sources), written=True, reused_chunks=manifest.chunk_count)
    _fill_counts(report, manifest)
    report.seconds = time.perf_counter() - started
    return report


# --- steps -------------------------------------------------------------------------


@dataclass
class _Pending:
    """A changed file, chunked, waiting for its vectors."""

    entry: FileEntry
    chunks: list[Chunk]


def _page_progress(progress: Progress | None, show_progress: bool):
    """Per-page progress of PDFs and scans: a line on stderr (CLI) and/or the ``page`` stage of ``progress``."""
    if progress is None and not show_progress:
        return None

    def report(name: str, done: int, total: int, how: str) -> None:
        if show_progress:
            print(f"{name}: page {done}/{total} ({how})", file=sys.stderr, flush=True)
        if progress:
            progress("page", done, total)

    return report


def _chunk_changed(plan, previous: Manifest | None, settings: Settings, report: IngestReport,
                   page_progress=None) -> list[_Pending]:
    """Load, clean, segment and chunk the new and changed files; a file that fails keeps its last good version."""
    from rag.corpus import paged

    old_files = previous.files if previous else {}
    pending = []
    for source, (path, digest) in sorted(plan.todo.items()):
        try:
            with paged.reading(settings, page_progress):
                entry, chunks = _chunk_file(path, source, digest, settings)
        except RagError as exc:
            report.failed[source] = str(exc)
            if source in old_files:
                plan.keep[source] = old_files[source]  # keep the last good version
            continue
        pending.append(_Pending(entry, chunks))
    report.new = [s for s in plan.new if s not in report.failed]
    report.changed = [s for s in plan.changed if s not in report.failed]
    report.removed = list(plan.removed)
    for source, original in plan.duplicates.items():
        why = f"; it could not be indexed: {report.failed[original]}" if original in report.failed else " (indexed once, under that name)"
        report.failed[source] = f"same content as {original}{why}"
    return pending


def materialise(pending: list[_Pending], store, model, settings: Settings, progress: Progress | None,
                show_progress: bool, report: IngestReport) -> list[FileBatch]:
    """Vectors for the chunked files: taken from ``store`` for chunk texts it already holds
    (a chunk id names its text), embedded for the rest."""
    from rag.chunking import passage_text

    chunks = [chunk for item in pending for chunk in item.chunks]
    known = {}
    if store is not None and store.manifest is not None and store.capabilities.raw_vectors:
        known = store.vectors_of([chunk.chunk_id for chunk in chunks])
    if settings.ray_address and pending:  # the same result, the missing vectors computed on Ray (and written there, for Milvus)
        from rag.store.ray_ingest import materialise_on_ray

        return materialise_on_ray(pending, store, model, settings, known, progress, show_progress, report)
    missing = [i for i, chunk in enumerate(chunks) if chunk.chunk_id not in known]
    computed = _embed([passage_text(chunks[i]) for i in missing], model, settings, progress, show_progress) if missing else None
    fresh = dict(zip(missing, computed)) if missing else {}
    report.embedded_chunks = len(missing)
    batches, row = [], 0
    for item in pending:
        vectors = []
        for chunk in item.chunks:
            vectors.append(fresh[row] if row in fresh else known[chunk.chunk_id])
            row += 1
        matrix = np.vstack(vectors).astype(np.float32) if vectors else np.zeros((0, model.dimension), np.float32)
        batches.append(FileBatch(item.entry, item.chunks, matrix))
    return batches


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


def _chunk_file(path: Path, source: str, digest: str, settings: Settings) -> tuple[FileEntry, list[Chunk]]:
    from rag.chunking import chunk_articles
    from rag.corpus import load_path, segment_document

    articles = []
    for document in load_path(path):
        found = segment_document(document)
        if document.page is not None:  # one document per article of a page: number them across the file
            for article in found:
                article.index = len(articles)
                articles.append(article)
        else:
            articles.extend(found)
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


def _fill_counts(report: IngestReport, manifest: Manifest) -> None:
    report.files = len(manifest.files)
    report.articles = manifest.article_count
    report.chunks = manifest.chunk_count


@contextmanager
def _closing(store):
    """Close the store's connection when the ingest ends (Milvus Lite lets one process open a database at a time)."""
    try:
        yield store
    finally:
        store.close()


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
