"""Approximate FAISS indexes against exact search: recall@k, build time, query latency, size.

    python bench/bench_dense_index.py [--n 100000] [--vectors random|fitted|index] [--index-dir DIR]
                                      [--kinds hnsw ivf] [--ef 64 128 256] [--nprobe 16 32 64]

Vector sources (dimension 384 unless an index gives another):

* ``random``: isotropic random unit vectors. The worst case for any approximate index:
  in 384 dimensions every vector is almost equally far from every other, so the "nearest"
  neighbours are barely nearer than the rest. Real embeddings are not like that.
* ``fitted``: unit vectors drawn from a Gaussian with the mean and covariance of the real
  vectors in ``--index-dir`` (an index built by ``rag ingest``), as many as ``--n`` asks.
  Keeps the anisotropy of real embeddings, not their topic clusters.
* ``index``: the real vectors of ``--index-dir`` themselves (at most ``--n``).

Queries are ``--queries`` further vectors from the same source, left out of the index
(for ``index``: the last rows). Recall@k is the share of the exact top k (``IndexFlatIP``)
that the approximate index returns, averaged over queries; latency is one query at a
time, as a user's search runs. The exact flat index is timed too. ``ivf`` and ``hnsw``
are built exactly as ``rag.store.dense.DenseIndex`` builds them (its parameters), then
searched at each ``--nprobe`` / ``--ef``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import faiss
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from rag.store import dense  # noqa: E402


def unit(rows: np.ndarray) -> np.ndarray:
    return (rows / np.linalg.norm(rows, axis=1, keepdims=True)).astype(np.float32)


def real_vectors(index_dir: Path) -> np.ndarray:
    from rag.store import IndexStore

    return np.ascontiguousarray(IndexStore.open(index_dir).vectors, dtype=np.float32)


def make_vectors(source: str, n: int, queries: int, index_dir: Path | None, dim: int, seed: int) -> tuple[np.ndarray, np.ndarray, str]:
    rng = np.random.default_rng(seed)
    if source == "random":
        data = unit(rng.standard_normal((n + queries, dim), dtype=np.float32))
        return data[:n], data[n:], f"{n} random unit vectors, dim {dim}"
    if index_dir is None:
        raise SystemExit(f"--vectors {source} needs --index-dir (an index built by rag ingest)")
    real = real_vectors(index_dir)
    if source == "index":
        n = min(n, len(real) - queries)
        return real[:n], real[n : n + queries], f"{n} real vectors from {index_dir}"
    mean, cov = real.mean(axis=0), np.cov(real, rowvar=False)
    data = unit(rng.multivariate_normal(mean, cov, size=n + queries, method="eigh"))
    return data[:n], data[n:], f"{n} vectors from a Gaussian fitted to {len(real)} real vectors of {index_dir}"


def timed_search(index: faiss.Index, queries: np.ndarray, k: int) -> tuple[np.ndarray, float, float]:
    found, times = [], []
    for q in queries:
        started = time.perf_counter()
        _, ids = index.search(q.reshape(1, -1), k)
        times.append(time.perf_counter() - started)
        found.append(ids[0])
    return np.array(found), 1000 * float(np.percentile(times, 50)), 1000 * float(np.percentile(times, 95))


def recall(found: np.ndarray, truth: np.ndarray) -> float:
    return float(np.mean([len(set(f) & set(t)) / len(t) for f, t in zip(found, truth)]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=20_000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--vectors", choices=["random", "fitted", "index"], default="random")
    parser.add_argument("--index-dir", type=Path, default=None)
    parser.add_argument("--dim", type=int, default=384)
    parser.add_argument("-k", type=int, default=10)
    parser.add_argument("--kinds", nargs="+", choices=["hnsw", "ivf"], default=["ivf", "hnsw"])
    parser.add_argument("--ef", type=int, nargs="+", default=[64, 128, 256])
    parser.add_argument("--nprobe", type=int, nargs="+", default=[16, 32, 64])
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    data, queries, what = make_vectors(args.vectors, args.n, args.queries, args.index_dir, args.dim, args.seed)
    print(f"{what}; {len(queries)} queries; recall@{args.k} against exact search; faiss threads {faiss.omp_get_max_threads()}\n")

    started = time.perf_counter()
    flat = dense.build_faiss_index(data, data.shape[1], "flat")
    rows = [("flat (exact)", "–", time.perf_counter() - started, flat)]
    truth, p50, p95 = timed_search(flat, queries, args.k)
    results = [(rows[0][0], "–", rows[0][2], 1.0, p50, p95, len(faiss.serialize_index(flat)))]
    for kind in args.kinds:
        started = time.perf_counter()
        index = dense.build_faiss_index(data, data.shape[1], kind)
        seconds = time.perf_counter() - started
        size = len(faiss.serialize_index(index))
        for value in args.nprobe if kind == "ivf" else args.ef:
            dense.set_search_depth(index, value)
            found, p50, p95 = timed_search(index, queries, args.k)
            if kind == "ivf":
                name, label = f"ivf (nlist {index.nlist})", f"nprobe {value}"
            else:
                name, label = f"hnsw (M {dense.HNSW_M}, efConstruction {dense.HNSW_EF_CONSTRUCTION})", f"efSearch {value}"
            results.append((name, label, seconds, recall(found, truth), p50, p95, size))
        print(f"built {kind} in {seconds:.1f} s", flush=True)

    print(f"\n| index | search setting | build s | recall@{args.k} | p50 ms | p95 ms | bytes/vector |")
    print("|---|---|---|---|---|---|---|")
    for name, setting, seconds, rec, p50, p95, size in results:
        print(f"| {name} | {setting} | {seconds:.1f} | {rec:.3f} | {p50:.2f} | {p95:.2f} | {size / len(data):.0f} |")


if __name__ == "__main__":
    main()
