"""Share one forward pass between questions that arrive at the same time.

When several users ask at once (the UI serves them in parallel threads), encoding their
questions one by one costs one model pass each. ``MicroBatcher`` hands each single text to
a worker thread that encodes everything waiting in one batch. It never waits on purpose:
a lone question is encoded at once; questions arriving while a batch runs form the next.
"""

from __future__ import annotations

import threading
from concurrent.futures import Future
from typing import Callable

import numpy as np


class MicroBatcher:
    """``workers`` threads, each encoding up to ``max_batch`` waiting texts per pass.

    One worker with batches (the default) suits a model whose pass uses every core. A
    model that must see one text at a time (``max_batch=1``, e.g. the int8 question
    encoder, see model.py) runs single-threaded passes on one worker per core instead.
    """

    def __init__(self, encode_batch: Callable[[list[str]], np.ndarray], max_batch: int = 32, workers: int = 1):
        self._encode_batch = encode_batch
        self._max_batch = max_batch
        self._pending: list[tuple[str, Future]] = []
        self._ready = threading.Condition()
        self._workers: list[threading.Thread] = []
        self._worker_count = max(1, workers)

    def encode(self, text: str) -> np.ndarray:
        """The vector of ``text``, computed in a batch with whatever else is waiting."""
        future: Future = Future()
        with self._ready:
            self._pending.append((text, future))
            self._workers = [worker for worker in self._workers if worker.is_alive()]
            while len(self._workers) < self._worker_count:
                worker = threading.Thread(target=self._run, name="query-batcher", daemon=True)
                worker.start()
                self._workers.append(worker)
            self._ready.notify()
        return future.result()

    def _run(self) -> None:
        while True:
            with self._ready:
                while not self._pending:
                    self._ready.wait()
                batch, self._pending = self._pending[: self._max_batch], self._pending[self._max_batch :]
            try:
                vectors = self._encode_batch([text for text, _ in batch])
            except BaseException as exc:  # noqa: BLE001 - handed to the callers
                for _, future in batch:
                    future.set_exception(exc)
                continue
            for (_, future), vector in zip(batch, vectors):
                future.set_result(vector)
