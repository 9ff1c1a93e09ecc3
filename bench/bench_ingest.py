"""Ingest speed on the bundled corpus: bare model encode time vs the whole pipeline.

    python bench/bench_ingest.py [--repeat 1]

The model is loaded first and shared, so both timings exclude model loading. "bare" encodes
exactly the passages the pipeline produces; "pipeline" is a full `ingest --rebuild` into a
temporary directory (load, clean, segment, chunk, embed, BM25, FAISS, atomic write).
A second "incremental" run on the unchanged corpus shows the no-op cost.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from rag.chunking import chunk_articles, passage_text
from rag.config import Settings
from rag.corpus import load_path, segment_document
from rag.embeddings import load_embeddings
from rag.store import ingest


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()

    settings = Settings.from_env()
    model = load_embeddings(settings)
    articles = [a for doc in load_path(settings.corpus_dir) for a in segment_document(doc)]
    chunks = chunk_articles(articles, settings.chunk_size, settings.chunk_overlap)
    texts = [passage_text(c) for c in chunks]
    model.encode_passages(texts[:8])  # warm-up

    bare, pipeline, noop = [], [], []
    for _ in range(args.repeat):
        started = time.perf_counter()
        model.encode_passages(texts, batch_size=settings.embedding_batch_size)
        bare.append(time.perf_counter() - started)
        with tempfile.TemporaryDirectory() as tmp:
            run_settings = settings.replace(index_dir=Path(tmp) / "index")
            started = time.perf_counter()
            report = ingest(None, run_settings, rebuild=True, embeddings=model)
            pipeline.append(time.perf_counter() - started)
            started = time.perf_counter()
            ingest(None, run_settings, embeddings=model)
            noop.append(time.perf_counter() - started)
    assert report.chunks == len(chunks), (report.chunks, len(chunks))

    b, p, n = min(bare), min(pipeline), min(noop)
    print(f"corpus: {settings.corpus_dir} · {len(articles)} articles · {len(chunks)} chunks · model {model.model_id}\n")
    print("| step | seconds | chunks/s |")
    print("|---|---|---|")
    print(f"| bare model encode | {b:.1f} | {len(chunks) / b:.1f} |")
    print(f"| whole pipeline (ingest --rebuild) | {p:.1f} | {len(chunks) / p:.1f} |")
    print(f"| re-ingest, unchanged corpus | {n:.2f} | – |")
    print(f"\npipeline overhead over bare encode: {100 * (p - b) / b:+.1f}%")


if __name__ == "__main__":
    main()
