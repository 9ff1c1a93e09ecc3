"""Dense vectors in a FAISS inner-product index (vectors are L2-normalised, so IP = cosine).

The index type depends on the number of vectors (following the FAISS wiki's
"Guidelines to choose an index"):

* below ``Settings.dense_approximate_from`` (50,000) vectors: ``IndexFlatIP``, exact
  search; one query scans every vector (about 40 ms at 100,000 vectors on two cores);
* from there on: ``IndexHNSWFlat`` (inner product, M=32, efConstruction=200,
  efSearch=128), approximate search in about a millisecond. At equal query time it
  finds more of the exact top 10 than ``IndexIVFFlat`` (4·√n lists), which builds ten
  times faster; every ingest rebuilds the index from the stored vectors, so the HNSW
  build (about 3 minutes for 100,000 vectors on two cores) is paid on each change of a
  large index. Measurements: docs/results.md ("Scale"), ``bench/bench_dense_index.py``.

All types keep the full float32 vectors, so :meth:`DenseIndex.vectors` returns them
exactly (ingestion carries unchanged chunks into the next build with them; hybrid search
scores every passage with them). For the flat and HNSW types that is a read-only view of
FAISS's own storage, not a second copy: 154 MB less at 100,000 vectors. The file is
FAISS's own format (``faiss.write_index``), which records the type; no pickle.
"""

from __future__ import annotations

import math
from pathlib import Path

import faiss
import numpy as np

from rag.errors import StoreError

FILE_NAME = "dense.faiss"

APPROXIMATE_KIND = "hnsw"  # the type used from Settings.dense_approximate_from on: "hnsw" or "ivf"
IVF_LISTS_PER_SQRT_N = 4  # nlist = 4·√n, the low end of the wiki's 4·√n … 16·√n
IVF_MIN_POINTS_PER_LIST = 39  # k-means wants at least 39 training points per list
IVF_NPROBE = 64  # lists scanned per query (IVF is built only for comparison, see the docstring)
HNSW_M = 32  # neighbours per node
HNSW_EF_CONSTRUCTION = 200
HNSW_EF_SEARCH = 128


def build_faiss_index(vectors: np.ndarray, dimension: int, kind: str) -> faiss.Index:
    """A FAISS inner-product index of ``kind`` ("flat", "ivf" or "hnsw") holding ``vectors``, row i = id i."""
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    if kind == "flat":
        index = faiss.IndexFlatIP(dimension)
    elif kind == "hnsw":
        index = faiss.IndexHNSWFlat(dimension, HNSW_M, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
    elif kind == "ivf":
        lists = max(1, min(int(IVF_LISTS_PER_SQRT_N * math.sqrt(len(vectors))), len(vectors) // IVF_MIN_POINTS_PER_LIST))
        index = faiss.IndexIVFFlat(faiss.IndexFlatIP(dimension), dimension, lists, faiss.METRIC_INNER_PRODUCT)
        index.cp.spherical = True  # centroids on the unit sphere, like the vectors
        index.train(vectors)
        index.make_direct_map()  # so stored vectors can be read back by row
    else:
        raise ValueError(f"unknown dense index kind {kind!r}")
    if len(vectors):
        index.add(vectors)
    set_search_depth(index)
    return index


def kind_of(index: faiss.Index) -> str:
    """"flat", "ivf" or "hnsw"."""
    if isinstance(index, faiss.IndexHNSW):
        return "hnsw"
    if isinstance(index, faiss.IndexIVF):
        return "ivf"
    return "flat"


def set_search_depth(index: faiss.Index, depth: int | None = None) -> None:
    """Set how much an approximate index searches: nprobe (IVF) or efSearch (HNSW); defaults above."""
    if kind_of(index) == "ivf":
        index.nprobe = depth or IVF_NPROBE
    elif kind_of(index) == "hnsw":
        index.hnsw.efSearch = depth or HNSW_EF_SEARCH


def describe(index: faiss.Index) -> str:
    """The index type with its parameters, e.g. ``ivf (nlist 894, nprobe 32)``."""
    kind = kind_of(index)
    if kind == "ivf":
        return f"ivf (nlist {index.nlist}, nprobe {index.nprobe})"
    if kind == "hnsw":
        return f"hnsw (M {HNSW_M}, efConstruction {index.hnsw.efConstruction}, efSearch {index.hnsw.efSearch})"
    return "flat (exact)"


class DenseIndex:
    """Inner-product search over normalised embeddings, stored in FAISS's own file format."""

    def __init__(self, index: faiss.Index):
        self.index = index

    @classmethod
    def build(cls, vectors: np.ndarray, dimension: int, *, approximate_from: int | None = None) -> "DenseIndex":
        """Exact below ``approximate_from`` vectors (always, for None), :data:`APPROXIMATE_KIND` from there on."""
        approximate = approximate_from is not None and len(vectors) > 0 and len(vectors) >= approximate_from
        kind = APPROXIMATE_KIND if approximate else "flat"
        return cls(build_faiss_index(vectors, dimension, kind))

    @property
    def size(self) -> int:
        return int(self.index.ntotal)

    @property
    def dimension(self) -> int:
        return int(self.index.d)

    @property
    def kind(self) -> str:
        return kind_of(self.index)

    def describe(self) -> str:
        return describe(self.index)

    def vectors(self) -> np.ndarray:
        """All stored vectors, in insertion order, read-only (see the module docstring)."""
        if self.size == 0:
            return np.zeros((0, self.dimension), dtype=np.float32)
        storage = _flat_storage(self.index)
        if storage is None:  # IVF: gathered from its lists
            return self.index.reconstruct_n(0, self.size)
        raw = faiss.rev_swig_ptr(storage.get_xb(), self.size * self.dimension)
        return np.asarray(_FaissMemory(self.index, raw.__array_interface__["data"][0], (self.size, self.dimension)))

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
            index = faiss.read_index(str(path))
        except Exception as exc:  # FAISS raises RuntimeError with C++ text for any bad file
            raise StoreError(f"The vector index {path} is missing or corrupt. Rebuild it: rag ingest --rebuild") from exc
        set_search_depth(index)  # this version's search settings, whatever the file recorded
        return cls(index)


def _flat_storage(index: faiss.Index) -> faiss.IndexFlat | None:
    """The flat array of vectors inside a flat or HNSW index (None for other types)."""
    if isinstance(index, faiss.IndexFlat):
        return index
    if isinstance(index, faiss.IndexHNSW):
        storage = faiss.downcast_index(index.storage)
        return storage if isinstance(storage, faiss.IndexFlat) else None
    return None


class _FaissMemory:
    """float32 memory owned by a FAISS index, shown to NumPy read-only.

    The array made from it keeps this object, and so the index, alive: the memory cannot
    be freed while any view of it is in use.
    """

    def __init__(self, index: faiss.Index, address: int, shape: tuple[int, int]):
        self.index = index
        self.__array_interface__ = {"version": 3, "shape": shape, "typestr": "<f4", "data": (address, True)}
