"""Bare embedding throughput: passages per second through ``EmbeddingModel.encode_passages``.

    python bench/bench_embedding.py [--passages 200] [--chars 260] [--batch-size 16 32 64] [--repeat 1]

Passages are fixed-size slices of the bundled corpus (data/corpus/*.txt), about the size
of a real chunk. Model loading and a short warm-up are excluded from the timings.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from rag.config import Settings
from rag.embeddings import load_embeddings


def corpus_slices(corpus_dir: Path, count: int, chars: int) -> list[str]:
    """Up to ``count`` slices of ``chars`` characters from the corpus files.

    Slices follow each other; when that gives too few, they overlap by half.
    """
    texts = [" ".join(p.read_text(encoding="utf-8").split()) for p in sorted(corpus_dir.glob("*.txt"))]
    for step in (chars, chars // 2):
        slices = [t[i : i + chars] for t in texts for i in range(0, len(t) - chars + 1, max(step, 1))]
        if len(slices) >= count:
            break
    return slices[:count]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--passages", type=int, default=200)
    parser.add_argument("--chars", type=int, default=260)
    parser.add_argument("--batch-size", type=int, nargs="+", default=[32])
    parser.add_argument("--repeat", type=int, default=1, help="runs per batch size; the fastest counts")
    args = parser.parse_args()

    settings = Settings.from_env()
    started = time.perf_counter()
    model = load_embeddings(settings)
    load_seconds = time.perf_counter() - started
    texts = corpus_slices(settings.corpus_dir, args.passages, args.chars)
    if not texts:
        raise SystemExit(f"no text found in {settings.corpus_dir}/*.txt")
    model.encode_passages(texts[:4])  # warm-up

    print(f"model {model.model_id} · device {settings.embedding_device} · loaded in {load_seconds:.1f} s")
    print(f"{len(texts)} passages of {args.chars} characters\n")
    print("| batch size | seconds | passages/s |")
    print("|---|---|---|")
    for batch_size in args.batch_size:
        best = float("inf")
        for _ in range(args.repeat):
            started = time.perf_counter()
            model.encode_passages(texts, batch_size=batch_size)
            best = min(best, time.perf_counter() - started)
        print(f"| {batch_size} | {best:.1f} | {len(texts) / best:.1f} |")


if __name__ == "__main__":
    main()
