"""Dense vectors in a FAISS inner-product index (vectors are L2-normalised, so IP = cosine)."""

from __future__ import annotations

from pathlib import Path

import faiss
import numpy as np

from rag.errors import StoreError

FILE_NAME = "dense.faiss"


class DenseIndex:
    """Exact inner-product search over normalised embeddings, stored in FAISS's own file format."""

    def __init__(self, index: faiss.Index):
        self.index = index

    @classmethod
    def build(cls, vectors: np.ndarray, dimension: int) -> "DenseIndex":
        index = faiss.IndexFlatIP(dimension)
        if len(vectors):
            index.add(np.ascontiguousarray(vectors, dtype=np.float32))
        return cls(index)

    @property
    def size(self) -> int:
        return int(self.index.ntotal)

    @property
    def dimension(self) -> int:
        return int(self.index.d)

    def vectors(self) -> np.ndarray:
        """All stored vectors, in insertion order (used to carry unchanged chunks into a new build)."""
        if self.size == 0:
            return np.zeros((0, self.dimension), dtype=np.float32)
        return self.index.reconstruct_n(0, self.size)

    def search(self, query_vector: np.ndarray, k: int) -> list[tuple[int, float]]:
        """Row numbers and cosine scores of the ``k`` nearest vectors, best first."""
        k = min(k, self.size)
        if k <= 0:
            return []
        scores, ids = self.index.search(np.ascontiguousarray(query_vector.reshape(1, -1), dtype=np.float32), k)
        return [(int(i), float(s)) for i, s in zip(ids[0], scores[0]) if i >= 0]

    def save(self, directory: Path) -> None:
        faiss.write_index(self.index, str(directory / FILE_NAME))

    @classmethod
    def load(cls, directory: Path) -> "DenseIndex":
        path = directory / FILE_NAME
        try:
            return cls(faiss.read_index(str(path)))
        except Exception as exc:  # FAISS raises RuntimeError with C++ text for any bad file
            raise StoreError(f"The vector index {path} is missing or corrupt. Rebuild it: rag ingest --rebuild") from exc
