"""BM25 over jieba tokens, using the `bm25s` library (sparse matrices, saved as NumPy/JSON, no pickle)."""

from __future__ import annotations

import json
from pathlib import Path

import bm25s
import numpy as np

from rag.errors import StoreError
from rag.store.tokenize import tokenize

DIR_NAME = "bm25"


class LexicalIndex:
    """Okapi BM25 scores for a query against every passage."""

    def __init__(self, model: bm25s.BM25 | None, size: int):
        self.model = model
        self.size = size

    @classmethod
    def build(cls, token_lists: list[list[str]]) -> "LexicalIndex":
        if not token_lists:
            return cls(None, 0)
        model = bm25s.BM25(k1=1.2, b=0.75)
        # An empty passage still needs a row, so it gets a placeholder token.
        model.index([tokens or ["\u2205"] for tokens in token_lists], show_progress=False)
        return cls(model, len(token_lists))

    def scores(self, query: str) -> np.ndarray:
        """BM25 score of every passage (row order), zeros when no query term is known."""
        if self.model is None:
            return np.zeros(0, dtype=np.float32)
        ids = self.model.get_tokens_ids(tokenize(query))
        if not ids:
            return np.zeros(self.size, dtype=np.float32)
        return np.asarray(self.model.get_scores_from_ids(ids), dtype=np.float32)

    def search(self, query: str, k: int) -> list[tuple[int, float]]:
        """Row numbers and BM25 scores of the ``k`` best passages with a positive score."""
        scores = self.scores(query)
        if not len(scores) or k <= 0:
            return []
        k = min(k, len(scores))
        top = np.argpartition(-scores, k - 1)[:k]
        top = top[np.argsort(-scores[top], kind="stable")]
        return [(int(i), float(scores[i])) for i in top if scores[i] > 0]

    def save(self, directory: Path) -> None:
        target = directory / DIR_NAME
        target.mkdir()
        (target / "size.json").write_text(json.dumps({"size": self.size}))
        if self.model is not None:
            self.model.save(str(target), show_progress=False)

    @classmethod
    def load(cls, directory: Path) -> "LexicalIndex":
        target = directory / DIR_NAME
        try:
            size = json.loads((target / "size.json").read_text())["size"]
            if size == 0:
                return cls(None, 0)
            model = bm25s.BM25.load(str(target), show_progress=False, verbosity=0)
        except Exception as exc:
            raise StoreError(f"The BM25 index {target} is missing or corrupt. Rebuild it: rag ingest --rebuild") from exc
        return cls(model, size)
