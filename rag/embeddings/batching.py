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
    def __init__(self, encode_batch: Callable[[list[str]], np.ndarray], max_batch: int = 32):
        self._encode_batch = encode_batch
        self._max_batch = max_batch
        self._pending: list[tuple[str, Future]] = []
        self._ready = threading.Condition()
        self._worker: threading.Thread | None = None

    def encode(self, text: str) -> np.ndarray:
        """The vector of ``text``, computed in a batch with whatever else is waiting."""
        future: Future = Future()
        with self._ready:
            self._pending.append((text, future))
            if self._worker is None or not self._worker.is_alive():
                self._worker = threading.Thread(target=self._run, name="query-batcher", daemon=True)
                self._worker.start()
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
