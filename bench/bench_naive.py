"""Side by side with the naive LangChain recipe, in one run on the same machine and texts.

    python bench/bench_naive.py                       # the bundled corpus and its dev set
    python bench/bench_naive.py --crud 500 --questions data/eval/crud_questions.jsonl

The naive recipe is the textbook one: raw files → ``RecursiveCharacterTextSplitter(500,
50)`` → ``HuggingFaceEmbeddings`` (the same multilingual-e5-small weights, with the e5
``passage:`` / ``query:`` prefixes, which the plain class cannot add by itself) →
``FAISS.from_documents`` → ``similarity_search``. Ours is ``rag ingest --rebuild`` into a
temporary folder, then ``Searcher.search`` in hybrid mode. Both load their model before the
clock starts, then time: the ingest, every question's search (p50/p95), and retrieval
quality (hit@1, MRR, hit@5: an evidence quote inside a retrieved chunk).

``--crud N`` uses the first N articles of ../shared/crud_news instead of the bundled
corpus (pass a question set about them; only questions whose quotes are in the subset count).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from crud_news import write_subset  # noqa: E402
from rag.config import DEFAULT_EMBEDDING_MODEL, DEFAULT_EVAL_QUESTIONS, Settings  # noqa: E402
from rag.embeddings.model import DEFAULT_MODEL_DIR_NAME  # noqa: E402
from rag.evaluation.metrics import first_hit_rank  # noqa: E402
from rag.evaluation.questions import contains, load_questions  # noqa: E402
from rag.retrieval import Searcher  # noqa: E402
from rag.store import ingest  # noqa: E402
from rag.store.local_store import LocalStore  # noqa: E402

K = 5


def naive_embeddings(model_dir: str):
    """``HuggingFaceEmbeddings`` over the same weights, adding the e5 prefixes."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # langchain-community announces its sunset on import
        from langchain_community.embeddings import HuggingFaceEmbeddings

    class E5HuggingFaceEmbeddings(HuggingFaceEmbeddings):
        def embed_documents(self, texts):
            return super().embed_documents([f"passage: {t}" for t in texts])

        def embed_query(self, text):
            return super().embed_documents([f"query: {text}"])[0]

    return E5HuggingFaceEmbeddings(model_name=model_dir, encode_kwargs={"normalize_embeddings": True, "batch_size": 32})


def build_naive(files: list[Path], embeddings):
    from langchain_core.documents import Document
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from langchain_community.vectorstores import FAISS

    from rag.evaluation.baselines import read_raw

    documents = [Document(page_content=read_raw(p), metadata={"source": p.name}) for p in files]
    chunks = RecursiveCharacterTextSplitter(chunk_size=500, chunk_overlap=50).split_documents(documents)
    return FAISS.from_documents(chunks, embeddings), len(chunks)


def quality_and_latency(search, questions) -> dict[str, float]:
    """hit@1, MRR, hit@5 and per-question search latency of ``search(question) -> texts``."""
    hit1 = hit5 = mrr = 0.0
    latencies = []
    for q in questions:
        started = time.perf_counter()
        texts = search(q.question)
        latencies.append(time.perf_counter() - started)
        rank = first_hit_rank(texts[:K], [e.quote for e in q.evidence])
        if rank:
            hit5 += 1
            mrr += 1 / rank
            hit1 += rank == 1
    n = len(questions)
    cuts = statistics.quantiles(latencies, n=100, method="inclusive")
    return {"hit@1": hit1 / n, "MRR": mrr / n, "hit@5": hit5 / n, "p50_ms": cuts[49] * 1000, "p95_ms": cuts[94] * 1000}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--questions", type=Path, default=DEFAULT_EVAL_QUESTIONS)
    parser.add_argument("--crud", type=int, help="use the first N CRUD news articles instead of the bundled corpus")
    args = parser.parse_args()

    settings = Settings.from_env()
    from rag.embeddings import load_embeddings

    ours_model = load_embeddings(settings)
    ours_model.encode_passages(["预热"])
    with tempfile.TemporaryDirectory() as tmp:
        corpus = write_subset(args.crud, Path(tmp) / "crud") if args.crud else settings.corpus_dir
        files = sorted(p for p in Path(corpus).rglob("*") if p.is_file() and p.suffix in (".txt", ".md"))
        corpus_text = "".join(p.read_text(encoding="utf-8", errors="replace") for p in files)
        questions = [q for q in load_questions(args.questions) if q.evidence and all(contains(corpus_text, e.quote) for e in q.evidence)]

        run = settings.replace(index_dir=Path(tmp) / "index", corpus_dir=Path(corpus), upload_dir=Path(tmp) / "none")
        started = time.perf_counter()
        report = ingest([Path(corpus)], run, rebuild=True, embeddings=ours_model, show_progress=True)
        ours_ingest = time.perf_counter() - started
        searcher = Searcher(LocalStore.open(run.index_dir), ours_model, fusion=run.fusion, dense_weight=run.dense_weight)
        ours = quality_and_latency(lambda q: [r.chunk.text for r in searcher.search(q, K, "hybrid")], questions)

        model_dir = str(settings.model_cache_dir / DEFAULT_MODEL_DIR_NAME) if settings.embedding_model == DEFAULT_EMBEDDING_MODEL else settings.embedding_model
        naive_model = naive_embeddings(model_dir)
        naive_model.embed_documents(["预热"])
        started = time.perf_counter()
        store, naive_chunks = build_naive(files, naive_model)
        naive_ingest = time.perf_counter() - started
        naive = quality_and_latency(lambda q: [d.page_content for d in store.similarity_search(q, k=K)], questions)

    print(f"\ncorpus: {corpus if args.crud else settings.corpus_dir} · {len(files)} files · {len(questions)} questions with evidence in it ({args.questions.name})\n")
    print("| recipe | chunks | ingest (s) | search p50 (ms) | search p95 (ms) | hit@1 | MRR | hit@5 |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    print(f"| ours (clean + segment + 400/100 chunks, hybrid) | {report.chunks} | {ours_ingest:.1f} | {ours['p50_ms']:.1f} | {ours['p95_ms']:.1f} | {ours['hit@1']:.3f} | {ours['MRR']:.3f} | {ours['hit@5']:.3f} |")
    print(f"| naive LangChain (500/50 splitter, HuggingFaceEmbeddings, FAISS) | {naive_chunks} | {naive_ingest:.1f} | {naive['p50_ms']:.1f} | {naive['p95_ms']:.1f} | {naive['hit@1']:.3f} | {naive['MRR']:.3f} | {naive['hit@5']:.3f} |")
    print(
        f"\nratios ours / naive: ingest time {ours_ingest / naive_ingest:.2f} · search p50 {ours['p50_ms'] / naive['p50_ms']:.2f} "
        f"· p95 {ours['p95_ms'] / naive['p95_ms']:.2f} · hit@1 {ours['hit@1'] - naive['hit@1']:+.3f} · hit@5 {ours['hit@5'] - naive['hit@5']:+.3f}"
    )


if __name__ == "__main__":
    main()
