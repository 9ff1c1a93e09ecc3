"""Ingest throughput as the corpus grows: the bundled corpus and subsets of the CRUD news articles.

    python bench/bench_scale_ingest.py [--sizes default 500 2000 all] [--bare-sample N] [--keep DIR]

For each corpus: a full ``ingest --rebuild`` into a temporary directory (load, clean,
segment, chunk, embed, FAISS, BM25, atomic write), timed, with its progress bar; then the
bare ``model.encode_passages`` on exactly the passages the pipeline embedded (same texts,
same batch size). "ratio" is pipeline time / bare encode time. ``--bare-sample N`` times
the bare encode on a fixed random sample of N of those passages and scales it by
passages / N (marked "sampled" in the table): for all 5,788 articles the bare encode
alone takes about as long as the ingest.

Sizes: ``default`` is the bundled corpus (``RAG_CORPUS_DIR``); a number is the first N
CRUD articles (``bench/crud_news.py``); ``all`` is every CRUD article. The model is
loaded once before the first run (not timed). Peak RSS is the process's peak so far
(sizes run in the order given, so list them smallest first). Index size is the bytes of
the built generation directory (manifest, chunks.jsonl, dense.faiss, bm25/) per chunk.
``--keep DIR`` keeps each built index in ``DIR/<size>`` (reusable by
``bench/bench_query_latency.py --index-dir``).
"""

from __future__ import annotations

import argparse
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from crud_news import CRUD_NEWS_DIR, write_subset  # noqa: E402
from rag.chunking import chunk_articles, passage_text  # noqa: E402
from rag.config import Settings  # noqa: E402
from rag.corpus import load_path, segment_document, supported_files  # noqa: E402
from rag.embeddings import load_embeddings  # noqa: E402
from rag.store import ingest  # noqa: E402
from rag.store.index_store import current_generation  # noqa: E402


def passages_of(folder: Path, settings: Settings) -> list[str]:
    """The passage texts ingest embeds for the files in ``folder`` (same steps as ingestion)."""
    texts = []
    for file in supported_files(folder):
        articles = [a for doc in load_path(file) for a in segment_document(doc)]
        texts += [passage_text(c) for c in chunk_articles(articles, settings.chunk_size, settings.chunk_overlap)]
    return texts


def time_bare_encode(model, texts: list[str], batch_size: int, sample: int | None, seed: int) -> tuple[float, bool]:
    """Seconds to encode ``texts``; with ``sample``, measured on that many and scaled up."""
    sampled = bool(sample) and sample < len(texts)
    if sampled:
        rows = np.random.default_rng(seed).choice(len(texts), size=sample, replace=False)
        texts_timed = [texts[i] for i in sorted(rows)]
    else:
        texts_timed = texts
    started = time.perf_counter()
    model.encode_passages(texts_timed, batch_size=batch_size, show_progress=True)
    seconds = time.perf_counter() - started
    return (seconds * len(texts) / len(texts_timed), sampled)


def directory_bytes(path: Path) -> dict[str, int]:
    sizes = {"dense.faiss": 0, "bm25": 0, "chunks.jsonl": 0, "total": 0}
    for file in path.rglob("*"):
        if file.is_file():
            size = file.stat().st_size
            sizes["total"] += size
            key = file.relative_to(path).parts[0]
            if key in sizes:
                sizes[key] += size
    return sizes


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", nargs="+", default=["default", "500"], help="default, a number of CRUD articles, or all")
    parser.add_argument("--crud-dir", type=Path, default=CRUD_NEWS_DIR)
    parser.add_argument("--bare-sample", type=int, default=None, help="time the bare encode on this many passages and scale up")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--keep", type=Path, default=None, help="keep each built index in DIR/<size>")
    args = parser.parse_args()

    settings = Settings.from_env()
    model = load_embeddings(settings)
    model.encode_passages(["预热。"] * 4)  # warm-up
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for size in args.sizes:
            if size == "default":
                folder = settings.corpus_dir
            else:
                folder = write_subset(None if size == "all" else int(size), Path(tmp) / f"crud-{size}", args.crud_dir)
            index_dir = (args.keep / size) if args.keep else Path(tmp) / f"index-{size}"
            run = settings.replace(index_dir=index_dir, upload_dir=Path(tmp) / "no-uploads")
            texts = passages_of(folder, settings)
            print(f"\n== {size}: {len(texts)} passages", flush=True)

            started = time.perf_counter()
            report = ingest([folder], run, rebuild=True, embeddings=model, show_progress=True)
            pipeline = time.perf_counter() - started
            assert report.chunks == len(texts), (report.chunks, len(texts))
            bare, sampled = time_bare_encode(model, texts, settings.embedding_batch_size, args.bare_sample, args.seed)
            disk = directory_bytes(current_generation(index_dir))
            chars = sum(len(t) for t in texts)
            rows.append((size, report.articles, len(texts), chars, pipeline, bare, sampled, peak_rss_mb(), disk))
            if not args.keep:
                shutil.rmtree(index_dir, ignore_errors=True)

    print(f"\nmodel {model.model_id} ({model.variant}) · chunk size {settings.chunk_size} / overlap {settings.chunk_overlap} · "
          f"batch {settings.embedding_batch_size}\n")
    print("| corpus | articles | chunks | chars | ingest s | chunks/s | chars/s | bare encode s | ingest / bare | peak RSS MB | index bytes/chunk (faiss · bm25 · chunks) |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for size, articles, chunks, chars, pipeline, bare, sampled, rss, disk in rows:
        name = "bundled corpus" if size == "default" else f"crud_news {size}"
        per = {k: v / max(chunks, 1) for k, v in disk.items()}
        bare_text = f"{bare:.1f}" + (f" (sampled {args.bare_sample})" if sampled else "")
        print(f"| {name} | {articles} | {chunks} | {chars} | {pipeline:.1f} | {chunks / pipeline:.1f} | {chars / pipeline:.0f} | "
              f"{bare_text} | {pipeline / bare:.2f} | {rss:.0f} | "
              f"{per['total']:.0f} ({per['dense.faiss']:.0f} · {per['bm25']:.0f} · {per['chunks.jsonl']:.0f}) |")


if __name__ == "__main__":
    main()
