"""What the index says about itself: its cosine scale and its common characters."""

import numpy as np

from rag.records import Chunk
from rag.store.calibration import common_characters, measure
from rag.text.question import near


def chunk(text: str, article: int, n: int = 0) -> Chunk:
    return Chunk(f"c{article}-{n}", text, "paper.txt", article_index=article, position=n)


def test_the_scale_runs_from_other_articles_to_the_next_chunk_of_the_same_one():
    rng = np.random.default_rng(0)
    topics = rng.normal(size=(4, 16))
    chunks, vectors = [], []
    for article in range(4):
        for n in range(3):
            chunks.append(chunk("正文", article, n))
            vectors.append(topics[article] + 0.3 * rng.normal(size=16))
    vectors = np.array(vectors, dtype=np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    scale = measure(vectors, chunks)
    assert scale.related > scale.unrelated + 0.3
    assert scale.position(scale.at(0.35)) == 0.35
    assert measure(vectors[:3], chunks[:3]) is None  # one article: nothing to compare with


def test_common_characters_are_those_in_a_quarter_of_the_chunks():
    chunks = [chunk(text, i) for i, text in enumerate(["公司为员工服务", "工业发展为先", "工程建设为主", "售价上涨", "天气晴朗", "河水平稳", "大桥通车", "会议召开"])]
    common = common_characters(chunks)
    assert {"为", "工"} <= common and not {"价", "员"} & common
    # 员工 and 工业 share only the common 工; 售价 and 价格 share the distinctive 价
    assert not near("员工", "工业发展", common) and near("员工", "工业发展")
    assert near("价格", "售价上涨", common)
