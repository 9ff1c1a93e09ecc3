"""The embedding model's cosine scale and the corpus's common characters, measured on the index itself.

Cosines mean different things under different models: under multilingual-e5 unrelated
Chinese passages sit near 0.75 and passages on one topic near 0.9; under bge or a
multilingual MiniLM both are far lower. So no cosine cut-off is a constant. The scale
is measured on each index from two samples of its own chunk vectors:

- *unrelated*: pairs of chunks from different articles (the median cosine);
- *related*: consecutive chunks of one article (the median cosine).

A cut-off is then a position on that scale (0 = unrelated, 1 = related), the same for
every model: ``scale.at(0.55)`` is the cosine 55 % of the way from one to the other.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from rag.records import Chunk
from rag.text.chars import is_cjk

SAMPLE_PAIRS = 2000  # pairs per sample: medians to about ±0.005, a few ms at any index size


@dataclass(frozen=True)
class CosineScale:
    unrelated: float  # median cosine of chunks from different articles
    related: float  # median cosine of consecutive chunks of one article

    def at(self, position: float) -> float:
        """The cosine at ``position`` between unrelated (0) and related (1)."""
        return self.unrelated + position * (self.related - self.unrelated)

    def position(self, cosine: float) -> float:
        """Where ``cosine`` sits on the scale (0 = unrelated, 1 = related), clipped to 0..1."""
        spread = max(self.related - self.unrelated, 1e-6)
        return float(min(1.0, max(0.0, (cosine - self.unrelated) / spread)))


def measure(vectors: np.ndarray, chunks: Sequence[Chunk], seed: int = 0) -> CosineScale | None:
    """The scale of an index's L2-normalised ``vectors`` (row i is ``chunks[i]``), or None when
    the index is too small to tell (fewer than two articles, or no article of two chunks)."""
    articles = [(c.source, c.article_index) for c in chunks]
    following = [i for i in range(len(chunks) - 1) if articles[i] == articles[i + 1]]
    if len(set(articles)) < 2 or not following:
        return None
    rng = np.random.default_rng(seed)
    a = rng.integers(0, len(chunks), SAMPLE_PAIRS * 2)
    b = rng.integers(0, len(chunks), SAMPLE_PAIRS * 2)
    apart = [(i, j) for i, j in zip(a.tolist(), b.tolist()) if articles[i] != articles[j]][:SAMPLE_PAIRS]
    near = rng.choice(following, size=min(SAMPLE_PAIRS, len(following)), replace=False)
    if not apart:
        return None
    i, j = np.array(apart).T
    unrelated = np.einsum("ij,ij->i", vectors[i], vectors[j])
    related = np.einsum("ij,ij->i", vectors[near], vectors[near + 1])
    return CosineScale(float(np.median(unrelated)), float(np.median(related)))


# A character in at least this share of an index's chunks says little on its own: 为, 工 and
# 上 are in most news text, 价 or 评 are not (measured: 0.11 to 0.83 across the five issues).
COMMON_CHARACTER_SHARE = 0.25


def common_characters(chunks: Sequence[Chunk], share: float = COMMON_CHARACTER_SHARE) -> frozenset[str]:
    """The CJK characters found in at least ``share`` of the chunks: too common for one shared
    character to make two words near forms of each other (员工 and 工业 share only 工)."""
    if not chunks:
        return frozenset()
    counts: Counter[str] = Counter()
    for chunk in chunks:
        counts.update(set(chunk.text))
    return frozenset(ch for ch, n in counts.items() if n >= share * len(chunks) and is_cjk(ch))
