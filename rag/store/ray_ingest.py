"""Embed an ingest's new chunks on Ray (`rag ingest --ray [ADDRESS]`, env ``RAG_RAY_ADDRESS``).

Embedding is the slow step of an ingest (about 11 chunks/s on 2 CPU cores); everything
before it (hash, diff, clean, chunk) and the commit stay as in a local ingest
(rag/store/ingestion.py). Only :func:`materialise_on_ray` differs: the chunk texts the
index does not hold yet go through Ray Data, ``map_batches`` over a pool of actors that
each load the model once.

- The model: the ONNX export the driver already made (or found in its cache) is read once,
  put in Ray's object store, and written by each node's first actor into a temporary
  folder named after its digest; no worker exports or converts anything.
- Batches: rows are sorted by length (less padding), :data:`BATCH_ROWS` per Ray task; a
  task then costs seconds of model time against milliseconds of scheduling and
  serialisation (measured in docs/results.md).
- Writes: to Milvus *server* from writer actors, each file's rows under a version named
  after its content (:func:`resumable_version`), which the driver's commit then switches
  the manifest to. Everything else (the local store, whose FAISS files live on one disk,
  and Milvus Lite, which one process opens at a time) is written by the driver.
- Faults: Ray Data restarts a dead actor and retries its batch (``max_restarts=-1``,
  ``max_task_retries=-1`` are its defaults); a retried batch upserts the same row ids. A
  run that fails leaves the manifest as it was: for the local store nothing was written;
  in Milvus the rows written so far are found by the next run, which embeds only the rest.

Ray is an optional extra (``pip install 'rag-news-zh[scale]'``) and is imported only here.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Callable

import numpy as np

from rag.config import Settings
from rag.errors import InputError, StoreError
from rag.records import Chunk
from rag.store.base import FileBatch

INSTALL_HINT = "pip install 'rag-news-zh[scale]' (or: pip install 'ray[data]==2.60.0')"
BATCH_ROWS = 64  # passages per Ray task: about 6 s of model time on one core, against ~10 ms of Ray's own work
PASS_ROWS = 32  # passages per model pass inside a task (Settings.embedding_batch_size's default)
WRITE_ROWS = 256  # rows per writer call (Milvus's insert slice)
PACKAGE_ROOT = Path(__file__).resolve().parents[2]  # the directory holding rag/

Progress = Callable[[str, int, int], None]


def require_ray():
    """The ``ray`` module, or a one-line :class:`InputError` saying how to install it."""
    try:
        import ray
        import ray.data  # noqa: F401 - the part we use; a bare `pip install ray` lacks its dependencies
    except ImportError:
        raise InputError(f"--ray needs Ray Data, which is not installed. Install it: {INSTALL_HINT}") from None
    return ray


def materialise_on_ray(pending, store, model, settings: Settings, known: dict[str, np.ndarray],
                       progress: Progress | None, show_progress: bool, report) -> list[FileBatch]:
    """What :func:`rag.store.ingestion.materialise` returns, with the missing vectors computed on Ray.

    ``pending``: the chunked files; ``known``: vectors the store already holds, by chunk id.
    """
    directory = getattr(getattr(model, "model", None), "directory", None)
    if directory is None:
        raise InputError("--ray embeds with the model's ONNX export; set RAG_EMBEDDING_BACKEND=auto or onnx (not torch).")
    ray = require_ray()
    writers = store.name == "milvus" and not store.local_file  # a Milvus Lite file: one process at a time
    versions: dict[str, str] = {}
    written: dict[str, set[str]] = {}
    if writers:
        store.prepare(model.dimension)
        versions = {item.entry.source: resumable_version(item.entry, store.versions.get(item.entry.source), model, settings)
                    for item in pending}
        written = store.written_chunk_ids(sorted(set(versions.values())))

    jobs = []  # (source, position in file, chunk) of the chunks to embed
    for item in pending:
        source = item.entry.source
        done = written.get(versions.get(source), set())
        reused = []
        for position, chunk in enumerate(item.chunks):
            if chunk.chunk_id in done:
                continue
            if chunk.chunk_id in known:
                reused.append(chunk)
            else:
                jobs.append((source, position, chunk))
        if writers and reused:  # vectors the store already had, copied under the new version
            store.insert_rows(reused, np.vstack([known[c.chunk_id] for c in reused]), versions[source])
    report.embedded_chunks = len(jobs)

    fresh: dict[tuple[str, int], np.ndarray] = {}
    if jobs:
        started_here = connect(ray, settings)
        try:
            fresh = _run(ray, jobs, directory, model, settings, store if writers else None, versions, progress, show_progress)
        finally:
            if started_here:
                ray.shutdown()

    batches = []
    for item in pending:
        source = item.entry.source
        if writers:
            batches.append(FileBatch(item.entry, item.chunks, np.zeros((0, model.dimension), np.float32), written=versions[source]))
            continue
        rows = [fresh[(source, i)] if (source, i) in fresh else known[c.chunk_id] for i, c in enumerate(item.chunks)]
        matrix = np.vstack(rows).astype(np.float32) if rows else np.zeros((0, model.dimension), np.float32)
        batches.append(FileBatch(item.entry, item.chunks, matrix))
    return batches


def resumable_version(entry, live_version: str | None, model, settings: Settings) -> str:
    """The Milvus version id of a file's new chunks, named after what determines them.

    The same file content, chunking, processing code and model give the same id, so a run
    that failed after its writers inserted some rows leaves them where the next run looks
    (``MilvusStore.written_chunk_ids``). The file's live version is part of the name, so a
    rebuild of an unchanged file never writes over the rows searches are reading.
    """
    from rag.store.manifest import processing_fingerprint

    parts = [entry.source, entry.sha256, str(settings.chunk_size), str(settings.chunk_overlap),
             processing_fingerprint(), model.model_id, live_version or ""]
    return "r" + hashlib.sha256("\0".join(parts).encode("utf-8")).hexdigest()[:15]


# --- the Ray side ----------------------------------------------------------------------


def connect(ray, settings: Settings) -> bool:
    """Join the configured cluster ("local": start one on this machine); True when this call started Ray."""
    if ray.is_initialized():
        return False
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")  # an offline project: no usage report
    address = None if settings.ray_address in (None, "", "local") else settings.ray_address
    # The workers import this package from the driver's copy, so a cluster needs only the
    # dependencies installed (pip install 'rag-news-zh[scale,milvus]'), not this checkout.
    runtime_env = {"py_modules": [str(PACKAGE_ROOT / "rag")],
                   "env_vars": {"RAY_USAGE_STATS_ENABLED": "0"}}
    import logging

    for attempt in (1, 2):
        try:
            ray.init(address=address or "local", runtime_env=runtime_env, include_dashboard=False,
                     logging_level=logging.WARNING, log_to_driver=False)
            break
        except Exception as exc:  # noqa: BLE001 - Ray raises bare Exceptions; reported in one line
            ray.shutdown()
            # A local start waits 30 s (fixed in Ray) for its raylet; a loaded machine can miss
            # that once, so a local start is tried twice.
            if address or attempt == 2:
                where = f"the Ray cluster at {address}" if address else "a local Ray instance"
                raise StoreError(f"Cannot start or join {where}: {_short(exc)}") from None
            print("note: Ray did not start in time; trying once more", file=sys.stderr, flush=True)
    logging.getLogger("ray.data").setLevel(logging.WARNING)  # its per-run plan and log paths; our bar says enough
    return True


def _run(ray, jobs, directory: Path, model, settings: Settings, store, versions: dict[str, str],
         progress: Progress | None, show_progress: bool) -> dict[tuple[str, int], np.ndarray]:
    """Stream the jobs through the embedding actors (and the writers, for a Milvus server)."""
    import ray.data
    from tqdm import tqdm

    from rag.chunking import passage_text

    context = ray.data.DataContext.get_current()
    context.enable_progress_bars = False  # ours below counts the rows as they come back
    cpus = max(1, int(ray.cluster_resources().get("CPU", 1)))
    actors = settings.ray_actors or cpus
    threads = max(1, cpus // actors)  # ONNX Runtime threads per actor: the actors share the cores
    share = cpus / actors  # CPUs Ray reserves per actor; a fraction when there are more actors than cores
    package = ray.put(_read_export(Path(directory)))

    order = sorted(range(len(jobs)), key=lambda i: len(passage_text(jobs[i][2])))  # similar lengths batch together
    items = []
    for row in order:
        source, position, chunk = jobs[row]
        item = {"row": row, "text": passage_text(chunk)}
        if store is not None:  # the writers need the whole chunk
            item.update(version=versions[source], **{f"chunk_{k}": v for k, v in dataclasses.asdict(chunk).items()})
            item["chunk_title"], item["chunk_date"], item["chunk_newspaper"] = (
                chunk.title or "", chunk.date or "", chunk.newspaper or "")
            # Ray Data turns a column with None into NaN floats, and boxes into arrays: plain values here
            item["chunk_page"], item["chunk_bbox"] = chunk.page or 0, json.dumps(chunk.bbox)
        items.append(item)
    dataset = ray.data.from_items(items).map_batches(
        PassageEmbedder,
        fn_constructor_kwargs={"package": [package], "prefix": model.prefixes.passage, "threads": threads,
                               "keep_chunks": store is not None},
        compute=ray.data.ActorPoolStrategy(size=actors),
        batch_size=BATCH_ROWS,
        batch_format="numpy",
        num_cpus=min(share, threads),
    )
    if store is not None:
        dataset = dataset.map_batches(
            MilvusWriter,
            fn_constructor_kwargs={"settings": settings},
            compute=ray.data.ActorPoolStrategy(size=1),
            batch_size=WRITE_ROWS,
            batch_format="numpy",
            num_cpus=0,  # mostly waiting on Milvus; the cores are the embedders'
        )

    fresh: dict[tuple[str, int], np.ndarray] = {}
    bar = tqdm(total=len(jobs), desc=f"embedding on Ray ({actors} actors)", unit="chunk", file=sys.stderr,
               disable=not show_progress)
    done = 0
    for batch in dataset.iter_batches(batch_size=None, batch_format="numpy"):
        rows = batch["row"]
        if store is None:
            for row, vector in zip(rows, batch["vector"]):
                source, position, _chunk = jobs[int(row)]
                fresh[(source, position)] = np.asarray(vector, dtype=np.float32)
        done += len(rows)
        bar.update(len(rows))
        if progress:
            progress("embedding", done, len(jobs))
    bar.close()
    return fresh


class PassageEmbedder:
    """A Ray Data actor: loads the shipped ONNX export once, then embeds batch after batch."""

    def __init__(self, package: list, prefix: str, threads: int, keep_chunks: bool):
        import ray

        from rag.embeddings.onnx_backend import OnnxEncoder

        files = ray.get(package[0])
        self.encoder = OnnxEncoder(_unpack(files), threads=threads)
        self.prefix = prefix
        self.keep_chunks = keep_chunks

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        vectors = self.encoder.encode([str(t) for t in batch["text"]], prompt=self.prefix, batch_size=PASS_ROWS)
        out = {k: v for k, v in batch.items() if k != "text"} if self.keep_chunks else {"row": batch["row"]}
        out["vector"] = vectors
        return out


class MilvusWriter:
    """A Ray Data actor: inserts embedded chunks into a Milvus server, under their file's new version."""

    def __init__(self, settings: Settings):
        from rag.store.milvus_store import MilvusStore

        self.store = MilvusStore.connect(settings)

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        fields = [f.name for f in dataclasses.fields(Chunk)]
        by_version: dict[str, list[int]] = {}
        for i, version in enumerate(batch["version"]):
            by_version.setdefault(str(version), []).append(i)
        for version, rows in by_version.items():
            chunks = []
            for i in rows:
                values = {name: batch[f"chunk_{name}"][i] for name in fields}
                values = {k: (v.item() if hasattr(v, "item") else v) for k, v in values.items()}
                for name in ("title", "date", "newspaper"):
                    values[name] = values[name] or None
                values["page"], values["bbox"] = int(values["page"]) or None, json.loads(values["bbox"])
                chunks.append(Chunk(**values))
            self.store.insert_rows(chunks, np.asarray(batch["vector"][rows], dtype=np.float32), version)
        return {"row": batch["row"]}


# --- shipping the model ----------------------------------------------------------------


def _read_export(directory: Path) -> dict:
    """The export's files, as bytes, and a digest naming them (what goes into the object store once)."""
    files = {path.name: path.read_bytes() for path in sorted(directory.iterdir()) if path.is_file()}
    digest = hashlib.sha256()
    for name, data in files.items():
        digest.update(name.encode("utf-8") + b"\0" + hashlib.sha256(data).digest())
    return {"digest": digest.hexdigest()[:24], "files": files}


def _unpack(package: dict) -> Path:
    """The export written to this node's temporary folder (once per node: the first actor writes it)."""
    target = Path(tempfile.gettempdir()) / "rag-ray-models" / package["digest"]
    if target.is_dir():
        return target
    scratch = Path(tempfile.mkdtemp(prefix=f".{package['digest']}-", dir=target.parent if _mkdir(target.parent) else None))
    for name, data in package["files"].items():
        (scratch / name).write_bytes(data)
    try:
        scratch.rename(target)  # atomic: another actor either sees the whole folder or none
    except OSError:  # another actor of this node was first
        shutil.rmtree(scratch, ignore_errors=True)
    return target


def _mkdir(path: Path) -> bool:
    path.mkdir(parents=True, exist_ok=True)
    return True


def _short(exc: BaseException) -> str:
    """The first line of an exception's message."""
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
