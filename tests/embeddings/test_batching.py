"""Questions asked at the same time share a model pass, and each gets its own vector."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from rag.embeddings.batching import MicroBatcher


def ask_at_once(batcher: MicroBatcher, texts: list[str]) -> dict[str, np.ndarray]:
    """Each text from its own thread, all started together; text -> its vector."""
    results: dict[str, np.ndarray] = {}
    threads = [threading.Thread(target=lambda t=t: results.__setitem__(t, batcher.encode(t))) for t in texts]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def test_parallel_requests_are_batched_and_answered_in_order():
    calls: list[list[str]] = []

    def encode(texts):
        calls.append(list(texts))
        time.sleep(0.05)  # a model pass takes a while; others queue meanwhile
        return np.array([[len(t), i] for i, t in enumerate(texts)], dtype=np.float32)

    batcher = MicroBatcher(encode)
    texts = ["一" * n for n in range(1, 9)]
    results = ask_at_once(batcher, texts)

    assert {t: int(v[0]) for t, v in results.items()} == {t: len(t) for t in texts}
    assert sum(len(c) for c in calls) == 8 and len(calls) < 8  # fewer passes than questions


def test_one_text_a_pass_on_several_workers():
    calls: list[list[str]] = []
    running, most = [0], [0]
    lock = threading.Lock()

    def encode(texts):
        with lock:
            calls.append(list(texts))
            running[0] += 1
            most[0] = max(most[0], running[0])
        time.sleep(0.05)
        with lock:
            running[0] -= 1
        return np.array([[len(t)] for t in texts], dtype=np.float32)

    batcher = MicroBatcher(encode, max_batch=1, workers=2)
    texts = ["一" * n for n in range(1, 7)]
    results = ask_at_once(batcher, texts)

    assert {t: int(v[0]) for t, v in results.items()} == {t: len(t) for t in texts}
    assert all(len(c) == 1 for c in calls) and len(calls) == 6
    assert most[0] == 2  # two passes at a time, never more


def test_a_failed_pass_raises_in_every_waiting_caller():
    def encode(texts):
        raise RuntimeError("model exploded")

    with pytest.raises(RuntimeError, match="exploded"):
        MicroBatcher(encode).encode("问题")


@pytest.mark.integration
def test_batched_query_vectors_match_direct_encoding(embeddings):
    question = "太钢的碳中和目标是什么"
    direct = embeddings._encode([question], embeddings.prefixes.query, 32, False, embeddings.query_model)[0]
    assert float(np.dot(embeddings.encode_queries([question])[0], direct)) > 0.9999
