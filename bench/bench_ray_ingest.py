"""`rag ingest --ray` against a local ingest: the same index, and what Ray adds per chunk.

    python bench/bench_ray_ingest.py compare REFERENCE_INDEX OTHER_INDEX [--questions FILE ...]
    python bench/bench_ray_ingest.py milvus-reference CORPUS_DIR LOCAL_INDEX milvus:URI:DIR
    python bench/bench_ray_ingest.py overhead CORPUS_DIR [--batch-rows 16 64 256] [--actors 2]
    python bench/bench_ray_ingest.py scaling CORPUS_DIR [--rounds 3] [--work DIR]

``compare``: both indexes must hold the same files. Prints whether they hold the same
chunk ids, the largest difference between their vectors, and how many questions get the
same top-5 chunk ids from both (hybrid search, the default). An index is named
``[milvus:URI:]DIR`` (a Milvus index on a server or Lite file, else the local store).

``milvus-reference``: a local (not Ray) ingest of CORPUS_DIR into a Milvus index, with the
vectors a local-store index of the same files already holds instead of the model (looked
up by passage text): the Milvus index a local ingest would build, without embedding again.

``overhead``: the chunks of CORPUS_DIR through the same Ray Data pipeline as ``ingest
--ray`` (sorted by length, ``map_batches`` over an actor pool, rows streamed back), but
with a stand-in model that returns zero vectors of the real shape: the time per chunk is
what Ray itself costs (scheduling, serialisation, transfers), to set against the model's.

``scaling``: in one run, rounds of three ingests of CORPUS_DIR, each into an empty local
index in a process of its own: a local ingest, Ray with 1 actor × all threads, Ray with one
actor per core × 1 thread, interleaved (A B C A B C …) so that a change in the machine's
load falls on all three alike. Prints each run's chunks/s over the whole ingest (plan,
chunk, Ray's start, embed, commit) and over its embedding after the first batch came back
(the steady rate, without the model's load and Ray's start), each with its ratio to the
local ingest of the same round, then the median ratios.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from rag.config import Settings  # noqa: E402


def settings_of(name: str) -> Settings:
    base = Settings.from_env()
    if name.startswith("milvus:"):
        uri, _, directory = name[len("milvus:"):].rpartition(":")
        return base.replace(store="milvus", milvus_uri=uri, index_dir=Path(directory))
    return base.replace(store="local", index_dir=Path(name))


def contents(settings: Settings) -> tuple[list[str], np.ndarray]:
    from rag.store.factory import open_store

    store = open_store(settings)
    try:
        ids = sorted(chunk.chunk_id for chunk in store.all_chunks())
        vectors = store.vectors_of(ids)
        return ids, np.vstack([vectors[i] for i in ids])
    finally:
        store.close()


def compare(args) -> None:
    from rag.retrieval import load_searcher

    reference, other = settings_of(args.reference), settings_of(args.other)
    ref_ids, ref_vectors = contents(reference)
    ids, vectors = contents(other)
    same_ids = ids == ref_ids
    print(f"chunks: {len(ref_ids)} / {len(ids)}; same ids: {same_ids}")
    if same_ids:
        cosines = (ref_vectors * vectors).sum(axis=1)
        print(f"vectors: max |difference| {np.abs(ref_vectors - vectors).max():.2e}, min cosine {cosines.min():.7f}")
    questions = []
    for path in args.questions:
        questions += [json.loads(line)["question"] for line in Path(path).read_text(encoding="utf-8").splitlines() if line.strip()]
    if not questions:
        return
    first, second = load_searcher(reference), load_searcher(other)
    same = 0
    for question in questions:
        a = [r.chunk.chunk_id for r in first.search(question, k=5)]
        b = [r.chunk.chunk_id for r in second.search(question, k=5)]
        same += a == b
    print(f"questions with the same top-5 chunk ids, in the same order: {same} / {len(questions)}")


class LookupModel:
    """The vectors of a built index, by passage text, in place of the model."""

    def __init__(self, settings: Settings):
        from rag.chunking import passage_text
        from rag.store.factory import open_store

        store = open_store(settings)
        chunks = store.all_chunks()
        vectors = store.vectors_of([c.chunk_id for c in chunks])
        self.model_id, self.dimension = store.manifest.embedding_model, store.manifest.dimension
        self.by_text = {passage_text(c): vectors[c.chunk_id] for c in chunks}
        store.close()

    def encode_passages(self, texts, **_):
        return np.vstack([self.by_text[t] for t in texts]).astype(np.float32)


def milvus_reference(args) -> None:
    from rag.store import ingest

    report = ingest([Path(args.corpus)], settings_of(args.target), embeddings=LookupModel(settings_of(args.local)))
    print(report.summary())


class ZeroModel:
    """Stands in for PassageEmbedder: the same input and output, no model."""

    def __init__(self, dimension: int):
        self.dimension = dimension

    def __call__(self, batch):
        return {"row": batch["row"], "vector": np.zeros((len(batch["row"]), self.dimension), np.float32)}


def overhead(args) -> None:
    import ray
    import ray.data

    from rag.chunking import passage_text
    from rag.store.ingestion import _chunk_file
    from rag.store.ray_ingest import connect

    settings = Settings.from_env()
    texts = []
    for path in sorted(Path(args.corpus).iterdir()):
        _entry, chunks = _chunk_file(path, path.name, "", settings)
        texts += [passage_text(chunk) for chunk in chunks]
    texts.sort(key=len)
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    connect(ray, settings.replace(ray_address="local"))
    ray.data.DataContext.get_current().enable_progress_bars = False
    print(f"{len(texts)} passages, {args.actors} actors")
    for rows in args.batch_rows:
        for attempt in range(2):  # the first run also starts the actors
            started = time.perf_counter()
            dataset = ray.data.from_items([{"row": i, "text": t} for i, t in enumerate(texts)]).map_batches(
                ZeroModel, fn_constructor_kwargs={"dimension": 384}, compute=ray.data.ActorPoolStrategy(size=args.actors),
                batch_size=rows, batch_format="numpy", num_cpus=1)
            count = sum(len(batch["row"]) for batch in dataset.iter_batches(batch_size=None, batch_format="numpy"))
            seconds = time.perf_counter() - started
            print(f"batch {rows:4d} rows, run {attempt + 1}: {seconds:6.2f} s for {count} chunks, "
                  f"{1000 * seconds / count:.2f} ms per chunk (wall, {args.actors} actors)")
    ray.shutdown()


SCALING_RUNS = {  # name: embedding actors on Ray (None: the local ingest)
    "local": None,
    "ray-1x{cores}": 1,
    "ray-{cores}x1": "{cores}",
}


def scaling_run(args) -> None:
    """One ingest of the scaling comparison, in this process: prints its report and timings as JSON."""
    from rag.store import ingest

    settings = Settings.from_env().replace(index_dir=args.index, store="local", ray_address=None, ray_actors=0)
    if args.actors:
        settings = settings.replace(ray_address="local", ray_actors=args.actors)
    seen = []  # (seconds since the ingest began, rows embedded), at each progress report

    def progress(stage, done, total):
        if stage == "embedding":
            seen.append((time.perf_counter() - started, done))

    started = time.perf_counter()
    report = ingest([args.corpus], settings, progress=progress)
    (t0, first), (t1, last) = seen[0], seen[-1]
    print(json.dumps({"chunks": report.embedded_chunks, "seconds": report.seconds,
                      "steady": (last - first) / (t1 - t0) if t1 > t0 else None}))


def scaling(args) -> None:
    if not args.corpus.is_dir():
        sys.exit(f"No such folder: {args.corpus}")
    if args.rounds < 1:
        sys.exit(f"--rounds must be at least 1 (got {args.rounds})")
    cores = os.cpu_count() or 1
    work = Path(args.work or tempfile.mkdtemp(prefix="ray-scaling-"))
    work.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0", "PYTHONPATH": str(ROOT)}
    print(f"{cores} cores; corpus {args.corpus}; {args.rounds} rounds", flush=True)
    table: dict[str, list[tuple[float, float, float, float]]] = {}  # name: (rate, ratio, steady, steady ratio) per round
    for round_no in range(1, args.rounds + 1):
        local = None
        for template, actors in SCALING_RUNS.items():
            name = template.format(cores=cores)
            index = work / f"r{round_no}-{name}"
            shutil.rmtree(index, ignore_errors=True)
            command = [sys.executable, str(Path(__file__).resolve()), "scaling-run", str(args.corpus), str(index)]
            if actors is not None:
                command += ["--actors", str(actors).format(cores=cores)]
            load_before = os.getloadavg()[0]
            done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
            load_after = os.getloadavg()[0]
            shutil.rmtree(index, ignore_errors=True)
            if done.returncode != 0:
                sys.exit(f"{name} failed ({done.returncode}): {(done.stderr.strip().splitlines() or [''])[-1]}")
            run = json.loads(done.stdout.strip().splitlines()[-1])
            rate, steady = run["chunks"] / run["seconds"], run["steady"] or float("nan")
            local = local or (rate, steady)
            row = (rate, rate / local[0], steady, steady / local[1])
            table.setdefault(name, []).append(row)
            print(f"round {round_no} {name:8s} {run['chunks']} chunks in {run['seconds']:.1f} s: {rate:.2f} chunks/s "
                  f"({row[1]:.3f} × local); embedding after the first batch {steady:.2f} chunks/s ({row[3]:.3f} × local); "
                  f"load average {load_before:.2f} -> {load_after:.2f}", flush=True)
    for name, rows in table.items():
        print(f"{name:8s} median ratio to local: whole ingest {statistics.median(r[1] for r in rows):.3f}, "
              f"embedding after the first batch {statistics.median(r[3] for r in rows):.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("compare")
    p.add_argument("reference")
    p.add_argument("other")
    p.add_argument("--questions", nargs="*", default=[])
    p = sub.add_parser("milvus-reference")
    p.add_argument("corpus")
    p.add_argument("local")
    p.add_argument("target")
    p = sub.add_parser("overhead")
    p.add_argument("corpus")
    p.add_argument("--batch-rows", type=int, nargs="*", default=[16, 64, 256])
    p.add_argument("--actors", type=int, default=2)
    p = sub.add_parser("scaling-run")  # one run of `scaling`, in a process of its own
    p.add_argument("corpus", type=Path)
    p.add_argument("index", type=Path)
    p.add_argument("--actors", type=int)
    p = sub.add_parser("scaling")
    p.add_argument("corpus", type=Path)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--work", help="where the indexes are built (default: a new temporary folder)")
    args = parser.parse_args()
    commands = {"compare": compare, "milvus-reference": milvus_reference, "overhead": overhead, "scaling": scaling,
                "scaling-run": scaling_run}
    commands[args.command](args)


if __name__ == "__main__":
    main()
