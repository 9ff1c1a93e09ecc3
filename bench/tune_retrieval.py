"""Choose chunking and fusion defaults by measurement on question sets.

    python bench/tune_retrieval.py [--questions data/eval/questions.jsonl ...] \
        [--chunking 300/80 400/100 500/120] [--work-dir /tmp/rag-tune] [--without-titles]
    python bench/tune_retrieval.py --index /path/to/built/index --questions data/eval/crud_questions.jsonl

For each chunk size/overlap it builds (once, cached in --work-dir) an index of the bundled
corpus (or, with --index, takes an index already built, e.g. of a bigger archive), then scores every passage for every question with both dense and BM25 and prints
hit@1 / MRR / hit@5 for: dense, BM25, RRF (k=60), score fusion at several dense weights, and
score fusion followed by the best-sentence re-ranking (the default hybrid search) at several weights.
A hit is an evidence quote contained (whitespace-insensitive, NFKC) in a retrieved chunk.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from rag.config import DEFAULT_EVAL_QUESTIONS, Settings
from rag.evaluation.questions import contains, load_questions
from rag.retrieval import score_fusion, sentence_match_rerank
from rag.store import IndexStore, ingest


def rank_metrics(orders: list[np.ndarray], relevant: list[np.ndarray], k: int = 5) -> tuple[float, float, float]:
    hit1 = hitk = mrr = 0.0
    for order, rel in zip(orders, relevant):
        rank = next((i + 1 for i, row in enumerate(order[:k]) if rel[row]), None)
        if rank:
            hitk += 1
            mrr += 1 / rank
            hit1 += rank == 1
    n = len(orders)
    return hit1 / n, mrr / n, hitk / n


def rrf_order(dense: np.ndarray, lexical: np.ndarray, k: int = 60, depth: int = 50) -> np.ndarray:
    fused = np.zeros(len(dense))
    for scores in (dense, lexical):
        order = np.argsort(-scores, kind="stable")[:depth]
        order = [row for row in order if scores[row] > 0] if scores is lexical else order
        for rank, row in enumerate(order, start=1):
            fused[row] += 1 / (k + rank)
    return np.argsort(-fused, kind="stable")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--questions", nargs="+", type=Path, default=[DEFAULT_EVAL_QUESTIONS])
    parser.add_argument("--chunking", nargs="+", default=["300/80", "400/100", "500/120"])
    parser.add_argument("--weights", nargs="+", type=float, default=[0.4, 0.5, 0.55, 0.6, 0.7])
    parser.add_argument("--sentence-weights", nargs="+", type=float, default=[1.0, 2.0, 3.0],
                        help="weights of the best-sentence re-ranking after score fusion (dense weight from settings)")
    parser.add_argument("--work-dir", type=Path, default=Path("/tmp/rag-tune"))
    parser.add_argument("--index", type=Path, help="score this built index instead of building the bundled corpus")
    parser.add_argument("--without-titles", action="store_true",
                        help="build the indexes without the article title in front of each chunk (embedded and BM25 text)")
    args = parser.parse_args()
    if args.without_titles:  # what ingest embeds and indexes: the chunk text alone
        import rag.chunking

        rag.chunking.passage_text = lambda chunk: chunk.text
        args.work_dir = args.work_dir / "without-titles"

    questions = [q for path in args.questions for q in load_questions(path) if q.evidence]
    base = Settings.from_env()
    from rag.embeddings import load_embeddings

    model = load_embeddings(base)
    query_vectors = model.encode_queries([q.question for q in questions])
    print(f"{len(questions)} answerable questions from {', '.join(map(str, args.questions))}\n")
    print("| chunking | chunks | method | hit@1 | MRR | hit@5 |")
    print("|---|---|---|---|---|---|")
    for spec in ["index"] if args.index else args.chunking:
        if args.index:
            store = IndexStore.open(args.index)
            size, overlap = store.manifest.chunk_size, store.manifest.chunk_overlap
        else:
            size, overlap = (int(x) for x in spec.split("/"))
            settings = base.replace(index_dir=args.work_dir / f"index-{size}-{overlap}", chunk_size=size, chunk_overlap=overlap)
            ingest(None, settings, embeddings=model, show_progress=True)
            store = IndexStore.open(settings.index_dir)
        relevant = [np.array([any(contains(c.text, e.quote) for e in q.evidence) for c in store.chunks]) for q in questions]
        dense = [store.vectors @ v for v in query_vectors]
        lexical = [store.lexical.scores(q.question) for q in questions]
        methods = {
            "dense": [np.argsort(-d, kind="stable") for d in dense],
            "bm25": [np.argsort(-b, kind="stable") for b in lexical],
            "rrf k=60": [rrf_order(d, b) for d, b in zip(dense, lexical)],
        }
        for weight in args.weights:
            methods[f"score fusion w={weight}"] = [np.array([row for row, _ in score_fusion(d, b, weight)]) for d, b in zip(dense, lexical)]
        for sentence_weight in args.sentence_weights:  # the default hybrid: fusion, then the best sentence re-ranks the head
            methods[f"score fusion w={base.dense_weight} + best sentence ×{sentence_weight}"] = [
                np.array([row for row, _ in sentence_match_rerank(q.question, score_fusion(d, b, base.dense_weight, limit=50),
                                                                  store.chunks, sentence_weight)])
                for q, d, b in zip(questions, dense, lexical)
            ]
        for name, orders in methods.items():
            hit1, mrr, hit5 = rank_metrics(orders, relevant)
            print(f"| {size}/{overlap} | {len(store.chunks)} | {name} | {hit1:.3f} | {mrr:.3f} | {hit5:.3f} |")


if __name__ == "__main__":
    main()
