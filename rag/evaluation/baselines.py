"""Retrieval baselines for ``rag eval --compare``.

Four recipes are scored with the same retrieval metrics on the same questions:

- ``bm25``, ``dense``, ``hybrid``: our index searched in each mode (``Searcher``);
- ``langchain_naive``: the textbook LangChain recipe, for reference: the raw corpus
  files (no cleaning, no article segmentation) split with
  ``RecursiveCharacterTextSplitter(chunk_size=500, chunk_overlap=50)``, embedded with
  our ``EmbeddingModel`` (a LangChain ``Embeddings``; e5 ``passage:``/``query:``
  prefixes applied) into ``langchain_community.vectorstores.FAISS`` and searched with
  ``similarity_search(question, k)``.

Containment favours long chunks (a 500-character chunk holds a quote more often than
a shorter one), so each recipe also reports its mean context length
(``context_chars``: characters in the top k chunks) to show what its hits cost.
"""

from __future__ import annotations

import sys
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from rag.evaluation import metrics
from rag.evaluation.questions import QUESTION_TYPES, Question

MODES = ("bm25", "dense", "hybrid")
NAIVE_CHUNK_SIZE = 500
NAIVE_CHUNK_OVERLAP = 50

# A search function: (question, k) → chunk texts in rank order.
SearchFn = Callable[[str, int], list[str]]


def score_texts(questions: Sequence[Question], search: SearchFn, k: int, progress: bool = False, desc: str = "") -> list[dict[str, Any]]:
    """Per-question retrieval rows for one recipe (the retrieved chunks are the contexts)."""
    from tqdm import tqdm

    rows = []
    for question in tqdm(questions, desc=desc, unit="q", file=sys.stderr, disable=not progress):
        texts = search(question.question, k)[:k]
        row = metrics.score_question(question.key_points, [e.quote for e in question.evidence], question.answerable, texts, k, texts)
        row.update({"id": question.id, "type": question.type, "answerable": question.answerable, "context_chars": sum(map(len, texts))})
        rows.append(row)
    return rows


def summarize_recipe(rows: Sequence[dict[str, Any]], description: str, **extra: Any) -> dict[str, Any]:
    """Overall retrieval metrics, hit@k by question type, mean context length."""
    by_type = metrics.group_by(rows, "type", QUESTION_TYPES)
    return {
        "description": description,
        **metrics.aggregate_retrieval(rows),
        "context_chars": metrics.mean(r["context_chars"] for r in rows),
        "hit@k_by_type": {t: metrics.mean(r["retrieval"]["hit@k"] for r in members) for t, members in by_type.items()},
        **extra,
    }


def searcher_fn(searcher, mode: str) -> SearchFn:
    """Our ``Searcher`` in one mode, as a :data:`SearchFn`."""
    return lambda question, k: [r.chunk.text for r in searcher.search(question, k, mode)]


def read_raw(path: Path) -> str:
    """A corpus file's text as a naive loader would read it (UTF-8, else GB18030)."""
    raw = path.read_bytes()
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    return raw.decode("utf-8", errors="replace")


def naive_langchain_fn(files: Sequence[Path], embeddings, *, chunk_size: int = NAIVE_CHUNK_SIZE, chunk_overlap: int = NAIVE_CHUNK_OVERLAP) -> tuple[SearchFn, int]:
    """Build the naive LangChain FAISS store over raw files; return its search and chunk count."""
    from langchain_core.documents import Document
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # langchain-community announces its sunset on import
        from langchain_community.vectorstores import FAISS

    documents = [Document(page_content=read_raw(p), metadata={"source": p.name}) for p in files]
    splitter = RecursiveCharacterTextSplitter(chunk_size=chunk_size, chunk_overlap=chunk_overlap)
    chunks = splitter.split_documents(documents)
    store = FAISS.from_documents(chunks, embeddings)
    return (lambda question, k: [d.page_content for d in store.similarity_search(question, k=k)]), len(chunks)


def corpus_files(searcher, fallback_dir: Path) -> list[Path]:
    """The files the index was built from (from its manifest), else the corpus folder's."""
    files = [Path(f.path) for f in searcher.store.manifest.files.values() if Path(f.path).is_file()]
    if files:
        return sorted(set(files))
    return sorted(p for p in Path(fallback_dir).rglob("*") if p.suffix in (".txt", ".md") and p.is_file())


def fusion_text(searcher) -> str:
    """How the searcher fuses its two rankings, in words."""
    if getattr(searcher, "fusion", "rrf") == "rrf":
        return f"reciprocal-rank fusion (k={getattr(searcher, 'rrf_k', 60)})"
    return f"z-normalised score fusion (dense weight {getattr(searcher, 'dense_weight', 0.5)})"


def compare(questions: Sequence[Question], searcher, *, k: int, corpus_dir: Path, progress: bool = True) -> dict[str, Any]:
    """All four recipes' retrieval metrics, keyed by recipe name."""
    chunk_size = searcher.store.manifest.chunk_size
    out: dict[str, Any] = {}
    descriptions = {
        "bm25": f"BM25 only (jieba words + CJK bigrams), our {chunk_size}-char chunks",
        "dense": f"dense only ({getattr(searcher.embeddings, 'model_id', 'embeddings')}, FAISS inner product), our {chunk_size}-char chunks",
        "hybrid": f"BM25 + dense, {fusion_text(searcher)}, our {chunk_size}-char chunks",
    }
    for mode in MODES:
        rows = score_texts(questions, searcher_fn(searcher, mode), k, progress, f"compare {mode}")
        out[mode] = summarize_recipe(rows, descriptions[mode], chunks=searcher.store.count())
    files = corpus_files(searcher, corpus_dir)
    if progress:
        print(f"compare langchain_naive: splitting and embedding {len(files)} raw files …", file=sys.stderr)
    search, n_chunks = naive_langchain_fn(files, searcher.embeddings)
    rows = score_texts(questions, search, k, progress, "compare langchain_naive")
    out["langchain_naive"] = summarize_recipe(
        rows,
        f"raw files → RecursiveCharacterTextSplitter({NAIVE_CHUNK_SIZE}, overlap {NAIVE_CHUNK_OVERLAP}) → FAISS similarity_search",
        chunks=n_chunks,
    )
    return out
