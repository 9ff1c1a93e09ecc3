"""The store backends side by side on the same work: local (FAISS + bm25s), Milvus Lite, a real Milvus 2.3.5 server.

    python bench/bench_store.py [--sizes 10000 100000] [--queries 50] [--backends local lite server]
                                [--crud-dir DIR] [--seed 0]

Each size is one index written through the store seam (``store.commit``, as ``rag ingest``
commits, with the vectors computed beforehand so that the embedding model is not what is
timed), then opened again and searched through ``Searcher`` as the app searches:

* rows: CRUD news chunks (``bench/crud_news.py``: 14,071 chunks of 5,788 articles, their
  real dates), relabelled with unique ids, in "files" of 1,000 chunks. Beyond 14,071 (100k)
  the texts are repeated in shuffled order, so BM25 sees real text and real term statistics.
* vectors: random unit vectors of dimension 384 (the default model's), for every row and
  every question. Embedding 100k chunks takes hours on two cores; the index work is the same,
  the dense scores are meaningless (so hybrid rankings are BM25-led: compare times, not hits).
* questions: the first 30 characters of ``--queries`` chunks drawn at random (seeded), so
  BM25 has real terms to match.

Per backend and size, two child processes (so that one backend's memory does not count for
the next): ``write`` commits every row (chunks/s of the store write; for Milvus also the
wait until its HNSW index covers every row), ``search`` opens the index as the app does
(the dense score statistics included) and times ``Searcher.search`` (k=5) per question,
one at a time: dense, hybrid, and both under a narrow date filter (one day, about 3% of
the rows). Memory: RSS growth over each phase, summed over every process involved (this
one, Milvus Lite's server, the Milvus server). The real 2.3.5 server (started here, from
the ``milvus`` wheel) has no BM25, so it is measured dense only. The local store searches
exactly below 50,000 chunks (FAISS flat) and with HNSW from there (``RAG_DENSE_APPROXIMATE_FROM``).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from crud_news import CRUD_NEWS_DIR, crud_files  # noqa: E402
from rag.config import Settings  # noqa: E402

DIMENSION = 384
FILE_ROWS = 1000
NARROW_DAY = "2023-08-01"
BACKENDS = ("local", "lite", "server")


class RandomQueries:
    """Stands in for the embedding model: a fixed random unit vector per question."""

    model_id = "bench/random-unit-384"
    dimension = DIMENSION
    variant = "random"

    def encode_queries(self, texts, **_):
        out = []
        for text in texts:
            seed = int.from_bytes(text.encode("utf-8")[:16].ljust(16, b"\0"), "little") % (2**32)
            v = np.random.default_rng(seed).standard_normal(DIMENSION).astype(np.float32)
            out.append(v / np.linalg.norm(v))
        return np.array(out, dtype=np.float32)

    def encode_passages(self, texts, **_):
        return self.encode_queries(texts)


# --- the rows ------------------------------------------------------------------------------


def base_chunks(crud_dir: Path, settings: Settings):
    from rag.chunking import chunk_articles
    from rag.corpus import articles_from_path

    chunks = []
    for file in crud_files(crud_dir):
        chunks += chunk_articles(articles_from_path(file), settings.chunk_size, settings.chunk_overlap)
    return chunks


def rows_for(size: int, chunks, seed: int):
    """``size`` chunks with ids c0000000…: the first ones, then shuffled copies of all of them."""
    order, rows, rng = list(range(len(chunks))), [], random.Random(seed)
    while len(rows) < size:
        if rows:
            rng.shuffle(order)
        rows += [chunks[i] for i in order[: size - len(rows)]]
    return [replace(chunk, chunk_id=f"c{n:07d}", file=f"bench_{n // FILE_ROWS:04d}.txt") for n, chunk in enumerate(rows)]


def vectors_for(size: int, seed: int) -> np.ndarray:
    rows = np.random.default_rng(seed).standard_normal((size, DIMENSION), dtype=np.float32)
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def questions_for(chunks, count: int, seed: int) -> list[str]:
    rng = random.Random(seed + 1)
    return [chunk.text[:30] for chunk in rng.sample(chunks, count)]


def change_set(rows, vectors, settings: Settings):
    from rag.store.base import ChangeSet, FileBatch
    from rag.store.manifest import FileEntry, Manifest, processing_fingerprint

    batches = []
    for start in range(0, len(rows), FILE_ROWS):
        part = rows[start : start + FILE_ROWS]
        entry = FileEntry(part[0].file, str(CRUD_NEWS_DIR), f"{start:064x}", len({c.source for c in part}), len(part))
        batches.append(FileBatch(entry, part, vectors[start : start + FILE_ROWS]))
    manifest = Manifest(embedding_model=RandomQueries.model_id, dimension=DIMENSION, chunk_size=settings.chunk_size,
                        chunk_overlap=settings.chunk_overlap, model_setting=settings.embedding_model,
                        embedding_variant=settings.embedding_variant, processing=processing_fingerprint(),
                        files={b.entry.source: b.entry for b in batches},
                        built_at=datetime.now(timezone.utc).isoformat(timespec="seconds"))
    return ChangeSet(manifest, batches)


# --- memory --------------------------------------------------------------------------------


def rss_kb(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def descendants(pid: int) -> list[int]:
    out = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            children = [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            continue
        for child in children:
            out += [child, *descendants(child)]
    return out


def involved_rss_mb(server_pid: int | None) -> float:
    pids = {os.getpid(), *descendants(os.getpid())}
    if server_pid:
        pids.add(server_pid)
    return sum(rss_kb(pid) for pid in pids) / 1024


# --- one phase in a child process ------------------------------------------------------------


def settings_for(backend: str, size: int, work: Path, uri: str | None) -> Settings:
    settings = Settings.from_env().replace(index_dir=work / f"{backend}_{size}", upload_dir=work / "uploads")
    if backend == "local":
        return settings.replace(store="local")
    if backend == "lite":
        return settings.replace(store="milvus", milvus_uri=str(work / f"lite_{size}.db"))
    return settings.replace(store="milvus", milvus_uri=uri)


def wait_for_index(store, total: int, limit: float = 900) -> float:
    """Seconds until Milvus reports its vector index covering every row (flushed first)."""
    started = time.perf_counter()
    store.client.flush(store.chunks_name)
    while time.perf_counter() - started < limit:
        info = store.client.describe_index(store.chunks_name, "vector")
        indexed, pending = int(info.get("indexed_rows", total)), int(info.get("pending_index_rows", 0))
        if indexed >= total and not pending:
            break
        time.sleep(0.5)
    return time.perf_counter() - started


def phase_write(args, settings: Settings) -> dict:
    from rag.store.factory import open_store
    from rag.store.tokenize import tokenize

    tokenize("预热")  # jieba's dictionary, loaded before the baseline
    rows = rows_for(args.size, base_chunks(args.crud_dir, settings), args.seed)
    changes = change_set(rows, vectors_for(args.size, args.seed), settings)
    settings.index_dir.mkdir(parents=True, exist_ok=True)
    before = involved_rss_mb(args.server_pid)
    store = open_store(settings, create=True)
    started = time.perf_counter()
    store.commit(changes)
    write = time.perf_counter() - started
    indexed = wait_for_index(store, args.size) if store.name == "milvus" else 0.0
    after = involved_rss_mb(args.server_pid)
    store.close()
    return {"write_s": write, "chunks_per_s": args.size / write, "index_wait_s": indexed, "write_rss_mb": after - before}


def phase_search(args, settings: Settings) -> dict:
    from rag.retrieval import Searcher
    from rag.store.factory import open_store
    from rag.store.filters import SearchFilter
    from rag.store.tokenize import tokenize

    tokenize("预热")
    chunks = base_chunks(args.crud_dir, settings)
    questions = questions_for(chunks, args.queries, args.seed)
    rows = rows_for(args.size, chunks, args.seed)
    narrow = SearchFilter.build(NARROW_DAY, NARROW_DAY)
    share = sum(c.date == NARROW_DAY for c in rows) / len(rows)
    del chunks, rows
    model = RandomQueries()
    before = involved_rss_mb(args.server_pid)
    started = time.perf_counter()
    store = open_store(settings)
    searcher = Searcher(store, model, dense_weight=settings.dense_weight, sentence_weight=settings.sentence_weight)
    searcher.score_moments()  # what the app computes once at start
    open_s = time.perf_counter() - started
    modes = ["dense"] if args.backend == "server" else ["dense", "hybrid"]
    searcher.search(questions[-1], 5, modes[-1])  # warm-up
    times, tops = {}, {}
    for label, where in (("", None), ("filtered ", narrow)):
        for mode in modes:
            spent, found = [], []
            for question in questions:
                t = time.perf_counter()
                results = searcher.search(question, 5, mode, where)
                spent.append(time.perf_counter() - t)
                found.append([r.chunk.chunk_id for r in results])
            times[label + mode], tops[label + mode] = spent, found
    rss = involved_rss_mb(args.server_pid) - before
    matching = store.count(narrow)
    store.close()
    return {"open_s": open_s, "search_rss_mb": rss, "times": times, "tops": tops, "narrow_share": share,
            "narrow_matching": matching}


def child_main(args) -> None:
    settings = settings_for(args.backend, args.size, args.work, args.uri)
    result = phase_write(args, settings) if args.phase == "write" else phase_search(args, settings)
    if args.phase == "search" and args.backend != "local":
        from rag.store.milvus_store import MilvusStore

        if args.drop:  # the last phase: free the server's memory for the next size
            store = MilvusStore.connect(settings)
            for name in (store.chunks_name, store.files_name):
                store.client.drop_collection(name)
            store.close()
    print("RESULT " + json.dumps(result))


# --- the parent: run every phase, print the tables --------------------------------------------


def run_phase(args, backend: str, size: int, phase: str, work: Path, server) -> dict:
    command = [sys.executable, __file__, "--child", phase, "--backend", backend, "--size", str(size),
               "--work", str(work), "--queries", str(args.queries), "--seed", str(args.seed),
               "--crud-dir", str(args.crud_dir)]
    if backend == "server":
        command += ["--uri", server.uri, "--server-pid", str(server.process.pid)]
    if phase == "search":
        command += ["--drop"]
    print(f"== {size} chunks, {backend}: {phase}", flush=True)
    done = subprocess.run(command, cwd=ROOT, stdout=subprocess.PIPE, text=True)
    lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    if done.returncode or not lines:
        raise SystemExit(f"{backend} {size} {phase} failed (exit {done.returncode}): {done.stdout[-2000:]}")
    return json.loads(lines[-1][len("RESULT "):])


def ms(seconds: list[float]) -> str:
    values = 1000 * np.asarray(seconds)
    return f"{np.percentile(values, 50):.1f} / {np.percentile(values, 95):.1f}"


def p50(seconds: list[float]) -> float:
    return float(np.percentile(seconds, 50))


def overlap(a: list[list[str]], b: list[list[str]]) -> float:
    return float(np.mean([len(set(x) & set(y)) / max(len(x), 1) for x, y in zip(a, b)]))


def report(results: dict, args, server_version: str) -> None:
    print(f"\n{args.queries} questions, k=5 · random unit vectors (dim {DIMENSION}) · CRUD news texts · "
          f"p50 / p95 in ms · narrow filter: date {NARROW_DAY} only\n")
    sizes = sorted({size for size, _ in results})
    for size in sizes:
        row = {backend: results[(size, backend)] for backend in BACKENDS if (size, backend) in results}
        share = next(iter(row.values()))["narrow_share"]
        print(f"### {size} chunks (narrow filter: {share:.1%} of rows)\n")
        names = {"local": "local (FAISS + bm25s)", "lite": "Milvus Lite", "server": f"Milvus {server_version} server"}
        print("| | " + " | ".join(names[b] for b in row) + (" | Lite ÷ local |" if "lite" in row and "local" in row else " |"))
        print("|---|" + "---|" * len(row) + ("---|" if "lite" in row and "local" in row else ""))

        def line(label, cell, ratio=None):
            cells = [cell(r) for r in row.values()]
            extra = ""
            if ratio and "lite" in row and "local" in row:
                extra = f" {ratio(row['lite'], row['local']):.2f} |"
            elif "lite" in row and "local" in row:
                extra = " |"
            print(f"| {label} | " + " | ".join(cells) + " |" + extra)

        line("store write, chunks/s", lambda r: f"{r['chunks_per_s']:.0f}", lambda a, b: a["chunks_per_s"] / b["chunks_per_s"])
        line("write s (+ wait for index s)", lambda r: f"{r['write_s']:.1f}" + (f" (+{r['index_wait_s']:.1f})" if r["index_wait_s"] else ""))
        line("open s (incl. dense statistics)", lambda r: f"{r['open_s']:.1f}", lambda a, b: a["open_s"] / b["open_s"])
        for mode in ("dense", "hybrid", "filtered dense", "filtered hybrid"):
            line(mode, lambda r, m=mode: ms(r["times"][m]) if m in r["times"] else "–",
                 lambda a, b, m=mode: p50(a["times"][m]) / p50(b["times"][m]))
        line("RSS + MB, write", lambda r: f"{r['write_rss_mb']:.0f}")
        line("RSS + MB, open + search", lambda r: f"{r['search_rss_mb']:.0f}")
        if "local" in row:
            for backend in row:
                if backend != "local":
                    same = {m: overlap(row[backend]["tops"][m], row["local"]["tops"][m]) for m in row[backend]["tops"]}
                    print(f"\n{names[backend]}: top-5 shared with local: "
                          + ", ".join(f"{m} {v:.0%}" for m, v in same.items()))
        print()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000],
                        help="index sizes in chunks (100,000 takes several minutes per backend on two cores)")
    parser.add_argument("--backends", nargs="+", choices=BACKENDS, default=list(BACKENDS))
    parser.add_argument("--queries", type=int, default=50)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--crud-dir", type=Path, default=CRUD_NEWS_DIR)
    # a child process: one phase of one backend at one size
    parser.add_argument("--child", choices=("write", "search"), dest="phase", help=argparse.SUPPRESS)
    parser.add_argument("--backend", choices=BACKENDS, help=argparse.SUPPRESS)
    parser.add_argument("--size", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--work", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--uri", help=argparse.SUPPRESS)
    parser.add_argument("--server-pid", type=int, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--drop", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.phase:
        child_main(args)
        return

    results, server, version = {}, None, "2.3.5"
    with tempfile.TemporaryDirectory(prefix="bench_store_") as tmp:
        work = Path(tmp)
        try:
            if "server" in args.backends:
                from tests.store.milvus_server import MilvusProcess

                started = time.perf_counter()
                server = MilvusProcess(work / "milvus-server")
                server.start()
                version = server.version
                print(f"Milvus {version} server serving at {server.uri} after {time.perf_counter() - started:.0f} s", flush=True)
            for size in args.sizes:
                for backend in args.backends:  # in the order given
                    result = run_phase(args, backend, size, "write", work, server)
                    result.update(run_phase(args, backend, size, "search", work, server))
                    results[(size, backend)] = result
                    print(f"   {backend}: {result['chunks_per_s']:.0f} chunks/s, dense p50 "
                          f"{1000 * p50(result['times']['dense']):.1f} ms", flush=True)
        except KeyboardInterrupt:  # Ctrl-C: report what was measured so far
            print("interrupted: the tables below hold the backends measured so far", flush=True)
        finally:
            if server is not None:
                server.stop()
    report(results, args, version)


if __name__ == "__main__":
    main()
