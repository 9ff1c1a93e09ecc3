"""Mean and spread of the dense scores of every chunk for any query, from two sums kept per index."""

from __future__ import annotations

import math

import numpy as np


class ScoreMoments:
    """Mean and spread of the dense scores of *all* passages for any query, without computing them.

    Score fusion z-normalises each method's scores over every passage. For the dense
    scores ``s = X·q`` (X: the n passage vectors, q: the query vector) those statistics
    follow from two sums kept once per index: the mean is ``q·μ`` and the variance
    ``qᵀ(XᵀX/n)q − (q·μ)²``, where ``μ`` is the mean passage vector. That is a 384 × 384
    product per query instead of a pass over 100,000 vectors.
    """

    BLOCK = 8192  # rows converted to float64 at a time

    def __init__(self, vectors: np.ndarray):
        n, dimension = vectors.shape
        total = np.zeros(dimension)
        second = np.zeros((dimension, dimension))
        for start in range(0, n, self.BLOCK):
            block = np.asarray(vectors[start : start + self.BLOCK], dtype=np.float64)
            total += block.sum(axis=0)
            second += block.T @ block
        self.mean = total / max(n, 1)
        self.second = second / max(n, 1)

    def mean_std(self, query_vector: np.ndarray) -> tuple[float, float]:
        q = np.asarray(query_vector, dtype=np.float64)
        mean = float(q @ self.mean)
        variance = float(q @ self.second @ q) - mean * mean
        return mean, math.sqrt(max(variance, 0.0))
