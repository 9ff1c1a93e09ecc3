"""Query latency and memory at 1k, 10k and 100k chunks: dense, BM25, hybrid, and a whole answer.

    python bench/bench_query_latency.py [--sizes 1000 10000 100000] [--index-dir DIR | --embed N]
                                        [--queries 50] [--keep DIR]

Each size is a real index on disk, written the way ``rag ingest`` writes one, then loaded
the way the app loads one (``load_searcher``: FAISS and BM25 read from disk, once):

* rows: CRUD news chunks (``bench/crud_news.py``; 14,071 chunks from 5,788 articles).
  Beyond that (100k) the chunk texts are repeated in shuffled order ("texts repeated"), so
  BM25 sees real text with real term statistics.
* vectors: the real embeddings of those chunks, taken from ``--index-dir`` (an index of
  the CRUD news, e.g. ``bench/bench_scale_ingest.py --sizes all --keep DIR`` →
  ``DIR/all``; its chunks are then the rows too) or computed here for the first
  ``--embed`` chunks (default 10,000: about 20 minutes on two CPU cores). Where there are
  not enough real vectors (always at 100k) the index holds random unit vectors of the
  model's dimension ("random" in the table): the index part costs the same, the dense
  scores are meaningless.

Questions are the first ``--queries`` of ``data/eval/questions.jsonl``, each run once
per measurement after a warm-up. "index part" times ``Searcher.search`` with the
question's vector computed beforehand; "with embedding" is the same call as the app
makes it, embedding the question first. "ask" is ``AnswerPipeline.invoke`` (retrieve,
extractive answer with sentence embeddings, citation check). A second table splits
hybrid search (score fusion) into its parts. Memory: RSS growth from loading the index
and running the first query (the model is loaded before), and bytes on disk per chunk.
Timings on a shared machine are noisy; p95 over 50 questions is a rough figure.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from crud_news import CRUD_NEWS_DIR, crud_files  # noqa: E402
from rag.chain import AnswerPipeline  # noqa: E402
from rag.chunking import chunk_articles, passage_text  # noqa: E402
from rag.config import DEFAULT_EVAL_QUESTIONS, Settings  # noqa: E402
from rag.corpus import articles_from_path  # noqa: E402
from rag.embeddings import load_embeddings  # noqa: E402
from rag.records import Chunk  # noqa: E402
from rag.retrieval import load_searcher, score_fusion  # noqa: E402
from rag.store import IndexStore  # noqa: E402
from rag.store.index_store import current_generation  # noqa: E402
from rag.store.local_store import write_generation as _write_generation  # noqa: E402  (writes a build exactly as ingest does)
from rag.store.manifest import FileEntry, Manifest, processing_fingerprint  # noqa: E402
from rag.store.tokenize import tokenize  # noqa: E402


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def percentiles(seconds: list[float]) -> str:
    ms = 1000 * np.asarray(seconds)
    return f"{np.percentile(ms, 50):.1f} / {np.percentile(ms, 95):.1f}"


def one_blas_thread(fn):
    """Run ``fn`` with NumPy's BLAS limited to one thread (threadpoolctl, installed with sentence-transformers)."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1, user_api="blas"):
        return fn()


def timed(fn, items) -> list[float]:
    out = []
    for item in items:
        started = time.perf_counter()
        fn(item)
        out.append(time.perf_counter() - started)
    return out


# --- the rows of each index --------------------------------------------------------------


def base_rows(settings: Settings, index_dir: Path | None, crud_dir: Path) -> tuple[list[Chunk], np.ndarray | None]:
    """CRUD news chunks with their real vectors (from ``index_dir``), or without vectors."""
    if index_dir is not None:
        store = IndexStore.open(index_dir)
        return store.chunks, np.asarray(store.vectors, dtype=np.float32)
    chunks = []
    for file in crud_files(crud_dir):
        file_chunks = chunk_articles(articles_from_path(file), settings.chunk_size, settings.chunk_overlap)
        for chunk in file_chunks:
            chunk.file = file.name
        chunks += file_chunks
    return chunks, None


def rows_for(size: int, chunks: list[Chunk], seed: int) -> tuple[list[Chunk], bool]:
    """``size`` chunks: the first ones, then copies of all of them in shuffled order."""
    if size <= len(chunks):
        return chunks[:size], False
    order = list(range(len(chunks)))
    rows = list(chunks)
    rng = random.Random(seed)
    while len(rows) < size:
        rng.shuffle(order)
        copy_number = len(rows) // len(chunks)
        for i in order[: size - len(rows)]:
            rows.append(replace(chunks[i], chunk_id=f"{chunks[i].chunk_id}-{copy_number}"))
    return rows, True


def vectors_for(size: int, real: np.ndarray | None, dimension: int, seed: int) -> tuple[np.ndarray, str]:
    if real is not None and len(real) >= size:
        return real[:size], "real"
    rows = np.random.default_rng(seed).standard_normal((size, dimension)).astype(np.float32)
    return rows / np.linalg.norm(rows, axis=1, keepdims=True), "random"


def write_index(index_dir: Path, chunks: list[Chunk], vectors: np.ndarray, model, settings: Settings) -> float:
    manifest = Manifest(
        embedding_model=model.model_id,
        dimension=model.dimension,
        chunk_size=settings.chunk_size,
        chunk_overlap=settings.chunk_overlap,
        model_setting=settings.embedding_model,
        processing=processing_fingerprint(),
        files={"crud_news": FileEntry("crud_news", str(CRUD_NEWS_DIR), "", 0, len(chunks))},
        built_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
    )
    index_dir.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    _write_generation(index_dir, manifest, chunks, vectors, settings.dense_approximate_from)
    return time.perf_counter() - started


# --- measuring ---------------------------------------------------------------------------


def measure(settings: Settings, model, questions: list[str], warmup: str) -> dict:
    before = rss_mb()
    started = time.perf_counter()
    searcher = load_searcher(settings, reload=True)
    load_seconds = time.perf_counter() - started
    searcher.search(warmup, 5, "hybrid")  # also reads the vectors out of FAISS once (kept)
    rss = rss_mb() - before

    vectors = {q: model.encode_queries([q])[0] for q in questions}
    embed = timed(lambda q: model.encode_queries([q]), questions)
    with_embedding = {mode: timed(lambda q: searcher.search(q, 5, mode), questions) for mode in ("dense", "hybrid")}

    searcher._query_vector = vectors.__getitem__  # the index part: the question's vector is ready
    index_part = {mode: timed(lambda q: searcher.search(q, 5, mode), questions) for mode in ("dense", "bm25", "hybrid")}
    store = searcher.store
    scores = {q: (store.vectors @ vectors[q], store.lexical.scores(q)) for q in questions}
    weight = searcher.dense_weight
    parts = {
        "dense scores (matrix · vector)": timed(lambda q: store.vectors @ vectors[q], questions),
        "dense scores, BLAS on 1 thread": timed(lambda q: one_blas_thread(lambda: store.vectors @ vectors[q]), questions),
        "BM25 scores (tokenize + sparse sum)": timed(lambda q: store.lexical.scores(q), questions),
        "score fusion (z-scores, top 50)": timed(lambda q: score_fusion(*scores[q], weight, limit=50), questions),
        "score fusion sorting every row (before)": timed(lambda q: score_fusion(*scores[q], weight)[:50], questions),
        "FAISS search (dense mode, top 50)": timed(lambda q: store.dense.search(vectors[q], 50), questions),
    }
    declined = None
    exact_top = searcher.exact_top(5)
    if searcher.pools_candidates:  # what hybrid search does over an approximate index
        searcher.score_moments()  # computed once, as the server does at start
        pooled = lambda q: searcher._pooled(q, vectors[q], 5, None, {}, require_exact=True)  # noqa: E731  (pools, then candidate_score_fusion)
        parts["score fusion over a candidate pool (approximate index)"] = timed(pooled, questions)
        declined = sum(pooled(q) is None for q in questions)
    del searcher._query_vector

    pipeline = AnswerPipeline(settings, searcher=searcher)
    pipeline.invoke(warmup)
    ask = timed(pipeline.invoke, questions)
    generation = current_generation(settings.index_dir)
    disk = sum(f.stat().st_size for f in generation.rglob("*") if f.is_file())
    return {
        "load_s": load_seconds, "rss_mb": rss, "disk_per_chunk": disk / len(store.chunks), "kind": store.dense.describe(),
        "embed": embed, "index_part": index_part, "with_embedding": with_embedding, "ask": ask, "parts": parts,
        "pool_declined": declined, "exact_top": exact_top,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000, 100000])
    parser.add_argument("--index-dir", type=Path, default=None, help="an index of CRUD news chunks: real texts and vectors")
    parser.add_argument("--embed", type=int, default=10_000,
                        help="without --index-dir: embed this many chunks for real vectors (0: random vectors only)")
    parser.add_argument("--crud-dir", type=Path, default=CRUD_NEWS_DIR)
    parser.add_argument("--queries", type=int, default=50)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--keep", type=Path, default=None,
                        help="keep each built index in DIR/<size>; one already there is reused, not rebuilt")
    args = parser.parse_args()

    settings = Settings.from_env()
    model = load_embeddings(settings)
    lines = DEFAULT_EVAL_QUESTIONS.read_text(encoding="utf-8").splitlines()
    all_questions = [json.loads(line)["question"] for line in lines if line.strip()]
    warmup, questions = all_questions[-1], all_questions[: args.queries]

    tokenize("预热")  # loads jieba's dictionary now, so it does not count as index memory
    chunks, real = base_rows(settings, args.index_dir, args.crud_dir)
    to_build = [size for size in args.sizes if not (args.keep and (args.keep / str(size) / "CURRENT").exists())]
    embeddable = [size for size in to_build if size <= min(args.embed, len(chunks))]
    if real is None and embeddable:
        count = max(embeddable)  # the smaller sizes use the first rows of these
        print(f"embedding {count} CRUD news chunks for real vectors", flush=True)
        real = model.encode_passages([passage_text(c) for c in chunks[:count]],
                                     batch_size=settings.embedding_batch_size, show_progress=True)
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for size in args.sizes:
            index_dir = (args.keep or Path(tmp)) / str(size)
            about = index_dir / "bench_rows.json"  # what the rows are, beside the index
            if size in to_build:
                rows, repeated = rows_for(size, chunks, args.seed)
                vectors, source = vectors_for(size, real, model.dimension, args.seed)
                print(f"== {size} chunks: writing the index ({source} vectors)", flush=True)
                build = write_index(index_dir, rows, vectors, model, settings)
                about.write_text(json.dumps({"vectors": source, "repeated": repeated}))
            else:  # kept by an earlier run with --keep
                print(f"== {size} chunks: reusing {index_dir}", flush=True)
                build, kept = float("nan"), json.loads(about.read_text())
                source, repeated = kept["vectors"], kept["repeated"]
            result = measure(settings.replace(index_dir=index_dir), model, questions, warmup)
            results.append((size, source, repeated, build, result))

    print(f"\n{len(questions)} questions · model {model.model_id} ({model.variant}) · p50 / p95 in ms\n")
    print("| chunks | vectors | texts | dense index | write s | load s | RSS +MB | disk bytes/chunk | query embedding "
          "| dense: index part | dense: with embedding | BM25 | hybrid: index part | hybrid: with embedding | ask |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for size, source, repeated, build, r in results:
        print(f"| {size} | {source} | {'repeated' if repeated else 'real'} | {r['kind']} | {build:.1f} | {r['load_s']:.1f} "
              f"| {r['rss_mb']:.0f} | {r['disk_per_chunk']:.0f} | {percentiles(r['embed'])} "
              f"| {percentiles(r['index_part']['dense'])} | {percentiles(r['with_embedding']['dense'])} "
              f"| {percentiles(r['index_part']['bm25'])} | {percentiles(r['index_part']['hybrid'])} "
              f"| {percentiles(r['with_embedding']['hybrid'])} | {percentiles(r['ask'])} |")
    print("\nhybrid search, part by part (p50 / p95 ms):\n")
    print("| part | " + " | ".join(f"{size} chunks" for size, *_ in results) + " |")
    print("|---|" + "---|" * len(results))
    for part in dict.fromkeys(part for *_, r in results for part in r["parts"]):
        print(f"| {part} | " + " | ".join(percentiles(r["parts"][part]) if part in r["parts"] else "–" for *_, r in results) + " |")
    for size, *_, r in results:
        if r["pool_declined"] is not None:
            print(f"\n{size} chunks: the candidate pool could not vouch for the top {r['exact_top']} of {r['pool_declined']} of "
                  f"{len(questions)} questions (those score every chunk instead)")


if __name__ == "__main__":
    main()
