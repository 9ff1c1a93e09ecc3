"""Embedding speed per backend: passages/s, queries/s and single-question latency.

    python bench/bench_embedding.py [--variants torch onnx-fp32 onnx-int8] [--passages N] [--queries 50] [--repeat 2] [--batch-size 32]

Passages are the chunks of the bundled corpus exactly as ingest makes them; questions are
those of data/eval/questions.jsonl. "8 at once" is the time until the last of eight
questions asked at the same moment from eight threads is embedded (what a burst of eight
chat users costs the model), median over the rounds. Each variant (see Settings.embedding_variant) is loaded
once (an ONNX variant is exported first if it is not cached yet); the timed runs then
alternate between variants, and the fastest of ``--repeat`` runs counts, which damps the
noise of a shared machine. "agreement" is the cosine between a variant's passage vectors
and torch's (mean / lowest).
"""

from __future__ import annotations

import argparse
import threading
import time

import numpy as np

from rag.chunking import chunk_articles, passage_text
from rag.config import DEFAULT_EVAL_QUESTIONS, Settings
from rag.corpus import load_path, segment_document
from rag.embeddings import load_embeddings
from rag.evaluation.questions import load_questions

VARIANT_SETTINGS = {
    "torch": {"embedding_backend": "torch", "embedding_quantization": "none", "query_quantization": "none"},
    "onnx-fp32": {"embedding_backend": "onnx", "embedding_quantization": "none", "query_quantization": "none"},
    "onnx-int8": {"embedding_backend": "onnx", "embedding_quantization": "int8", "query_quantization": "none"},
    # the default: fp32 passages, questions by the int8 model one at a time (Settings.query_variant)
    "onnx-fp32+int8-queries": {"embedding_backend": "auto", "embedding_quantization": "none", "query_quantization": "int8"},
}


def eight_at_once(model, questions: list[str]) -> list[float]:
    """Seconds until the last of 8 questions, each asked from its own thread at the same time, is embedded."""
    walls = []
    for start in range(0, len(questions) - 7, 8):
        threads = [threading.Thread(target=model.encode_queries, args=([q],)) for q in questions[start : start + 8]]
        started = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        walls.append(time.perf_counter() - started)
    return walls


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--variants", nargs="+", choices=list(VARIANT_SETTINGS), default=list(VARIANT_SETTINGS))
    parser.add_argument("--passages", type=int, default=None, help="only the first N chunks (default: all)")
    parser.add_argument("--queries", type=int, default=50, help="dev questions encoded (default 50)")
    parser.add_argument("--repeat", type=int, default=2, help="timed runs per variant; the fastest counts")
    parser.add_argument("--batch-size", type=int, default=None, help="passages per model pass (default RAG_EMBEDDING_BATCH_SIZE)")
    args = parser.parse_args()

    settings = Settings.from_env().replace(embedding_batch_size=args.batch_size)
    articles = [a for doc in load_path(settings.corpus_dir) for a in segment_document(doc)]
    passages = [passage_text(c) for c in chunk_articles(articles, settings.chunk_size, settings.chunk_overlap)]
    passages = passages[: args.passages] if args.passages else passages
    questions = [q.question for q in load_questions(DEFAULT_EVAL_QUESTIONS)][: args.queries]

    models, load_seconds = {}, {}
    for variant in args.variants:
        started = time.perf_counter()
        models[variant] = load_embeddings(settings.replace(**VARIANT_SETTINGS[variant]))
        load_seconds[variant] = time.perf_counter() - started
        models[variant].encode_passages(passages[:4])  # warm-up
        models[variant].encode_queries(questions[:1])

    timings = {variant: {"passages": [], "queries": [], "single": [], "eight": []} for variant in models}
    vectors = {}
    for _ in range(args.repeat):
        for variant, model in models.items():
            started = time.perf_counter()
            vectors[variant] = model.encode_passages(passages, batch_size=settings.embedding_batch_size)
            timings[variant]["passages"].append(time.perf_counter() - started)
            started = time.perf_counter()
            model.encode_queries(questions, batch_size=settings.embedding_batch_size)
            timings[variant]["queries"].append(time.perf_counter() - started)
            single = []
            for question in questions:
                started = time.perf_counter()
                model.encode_queries([question])
                single.append(time.perf_counter() - started)
            timings[variant]["single"].append(single)
            timings[variant]["eight"].append(float(np.median(eight_at_once(model, questions))))

    print(f"{len(passages)} passages (corpus chunks, ≤ {settings.chunk_size} characters) · {len(questions)} questions · "
          f"batch {settings.embedding_batch_size} · best of {args.repeat}\n")
    print("| variant | model id | load (s) | passages/s | queries/s (batch) | one question p50 / p95 (ms) | 8 at once (ms) | agreement with torch |")
    print("|---|---|---|---|---|---|---|---|")
    for variant, model in models.items():
        t = timings[variant]
        single = min(t["single"], key=lambda runs: float(np.median(runs)))
        agreement = "–"
        if "torch" in vectors and variant != "torch":
            cosines = (vectors[variant] * vectors["torch"]).sum(axis=1)
            agreement = f"{cosines.mean():.4f} / {cosines.min():.4f}"
        print(
            f"| {variant} | {model.model_id} | {load_seconds[variant]:.1f} | {len(passages) / min(t['passages']):.1f} | "
            f"{len(questions) / min(t['queries']):.1f} | {1000 * np.percentile(single, 50):.0f} / "
            f"{1000 * np.percentile(single, 95):.0f} | {1000 * min(t['eight']):.0f} | {agreement} |"
        )


if __name__ == "__main__":
    main()
