"""Ingest speed on the bundled corpus: bare model encode time vs the whole pipeline.

    python bench/bench_ingest.py [--repeat 1]

The model is loaded first and shared, so both timings exclude model loading. "bare" encodes
exactly the passages the pipeline produces; "pipeline" is a full `ingest --rebuild` into a
temporary directory (load, clean, segment, chunk, embed, BM25, FAISS, atomic write).
A second "incremental" run on the unchanged corpus shows the no-op cost.

On a shared machine the encode time of two runs can differ by more than the whole
overhead, so the pipeline's own time inside the model is measured too: "everything else"
(pipeline minus that) over the bare encode time is the overhead that does not depend on
how busy the machine was during the encoding. The embedding backend follows the settings
(RAG_EMBEDDING_BACKEND, RAG_EMBEDDING_QUANTIZATION).
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


class TimedModel:
    """The embedding model, adding up the time spent in its ``encode_passages``."""

    def __init__(self, model):
        self.model = model
        self.seconds = 0.0

    def __getattr__(self, name):
        return getattr(self.model, name)

    def encode_passages(self, texts, **kwargs):
        started = time.perf_counter()
        try:
            return self.model.encode_passages(texts, **kwargs)
        finally:
            self.seconds += time.perf_counter() - started


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

    bare, pipeline, inside, noop = [], [], [], []
    for _ in range(args.repeat):
        started = time.perf_counter()
        model.encode_passages(texts, batch_size=settings.embedding_batch_size)
        bare.append(time.perf_counter() - started)
        with tempfile.TemporaryDirectory() as tmp:
            run_settings = settings.replace(index_dir=Path(tmp) / "index")
            timed = TimedModel(model)
            started = time.perf_counter()
            report = ingest(None, run_settings, rebuild=True, embeddings=timed)
            pipeline.append(time.perf_counter() - started)
            inside.append(timed.seconds)
            started = time.perf_counter()
            ingest(None, run_settings, embeddings=model)
            noop.append(time.perf_counter() - started)
    assert report.chunks == len(chunks), (report.chunks, len(chunks))

    b, p, n = min(bare), min(pipeline), min(noop)
    rest = min(total - encode for total, encode in zip(pipeline, inside))
    print(f"corpus: {settings.corpus_dir} · {len(articles)} articles · {len(chunks)} chunks · model {model.model_id} ({model.variant})\n")
    print("| step | seconds | chunks/s |")
    print("|---|---|---|")
    print(f"| bare model encode | {b:.1f} | {len(chunks) / b:.1f} |")
    print(f"| whole pipeline (ingest --rebuild) | {p:.1f} | {len(chunks) / p:.1f} |")
    print(f"| pipeline, everything but the model's encode | {rest:.2f} | – |")
    print(f"| re-ingest, unchanged corpus | {n:.2f} | – |")
    print(f"\npipeline overhead over bare encode: {100 * (p - b) / b:+.1f}% (whole runs), "
          f"{100 * rest / b:+.1f}% (everything but the encode, over the bare encode)")


if __name__ == "__main__":
    main()
