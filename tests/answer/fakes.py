"""Test doubles for answering: synthetic passages, a tiny in-memory searcher, a toy embedding."""

from __future__ import annotations

import hashlib

import numpy as np

from rag.records import Chunk, SearchResult
from rag.text.features import bigrams

ROADMAP = (
    "本报讯（记者 薛 华）在日前召开的太钢高质量发展大调研成果发布会上，太钢正式发布了不锈钢低碳冶金技术路线图。"
    "路线图明确了太钢集团低碳发展的时序表和基于不锈钢产品冶炼的六大碳中和技术路径，为2025年实现降碳6%、"
    "2030年实现降碳16%、2035年实现降碳30%、2050年实现碳中和的目标，提供了科技和技术支撑。"
)
MODEL = (
    "在2022年5月份太钢集团相继发布了太钢集团碳达峰及降碳行动方案，确立了“13460”绿色低碳发展模式，"
    "即围绕“提高碳生产率”一个中心，统筹实施六大低碳发展路径，最终实现零碳目标。"
)
VISIT = (
    "本报讯 1 月 5日，新年伊始，太钢集团党委书记、董事长盛更红到娄烦县调研帮扶村产业项目情况，看望慰问太钢驻村工作队员。"
    "太钢工会主席孟永全，娄烦县县委书记李树忠、县长景博陪同调研。"
)
ZHUZHOU = "2024株洲“厂BA”篮球锦标赛鸣哨开赛，14支球队参赛。全国劳动模范、大国工匠易冉为揭幕战开球。"

PASSAGES = [
    ("000_a73fe32ef8bc3bea.txt", ROADMAP),
    ("000_a73fe32ef8bc3bea.txt", MODEL),
    ("000_a73fe32ef8bc3bea.txt", VISIT),
    ("004_a03633453cf80aeb.txt", ZHUZHOU),
]


def make_chunk(text: str, source: str = "000_a73fe32ef8bc3bea.txt", n: int = 0) -> Chunk:
    chunk_id = hashlib.sha1(f"{source}:{text}".encode()).hexdigest()[:16]
    return Chunk(chunk_id, text, source, title="测试标题", date="2023-01-06", position=n)


def make_results(texts, source: str = "000_a73fe32ef8bc3bea.txt") -> list[SearchResult]:
    """SearchResults ranked 1..n in the given order."""
    out = []
    for rank, item in enumerate(texts, start=1):
        src, text = item if isinstance(item, tuple) else (source, item)
        out.append(SearchResult(make_chunk(text, src, rank), 1.0 / rank, rank, {"dense": 0.9 - rank / 100}))
    return out


class ToyEmbeddings:
    """Deterministic bag-of-character-bigrams vectors (hashed into 256 dimensions), L2-normalised."""

    model_id = "toy"
    dimension = 256

    def _encode(self, texts):
        vectors = np.zeros((len(texts), self.dimension), dtype=np.float32)
        for row, text in enumerate(texts):
            for gram in bigrams(text):
                vectors[row, int(hashlib.md5(gram.encode()).hexdigest(), 16) % self.dimension] += 1.0
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        return vectors / np.maximum(norms, 1e-9)

    def encode_queries(self, texts):
        return self._encode(list(texts))

    def encode_passages(self, texts, **_):
        return self._encode(list(texts))


class ToySearcher:
    """Ranks the fixed passages by shared character bigrams with the query."""

    def __init__(self, passages=PASSAGES):
        self.passages = passages
        self.embeddings = ToyEmbeddings()
        self.queries: list[str] = []

    def search(self, query: str, k: int = 5, mode: str = "hybrid") -> list[SearchResult]:
        self.queries.append(query)
        q = bigrams(query)
        ranked = sorted(self.passages, key=lambda p: -len(q & bigrams(p[1])))
        results = make_results(ranked[:k])
        return results
