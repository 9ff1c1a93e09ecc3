"""One ingest in a process of its own, slowed down so that tests can kill it or race it.

    python -m tests.store.slow_ingest INDEX_DIR PATH... [--delay SECONDS] [--hang-while-writing]

Embeds with the deterministic bag-of-bigrams embedder of ``tests/store/conftest.py``
(the same model id, so its index is compatible with the in-process tests), sleeping
``--delay`` seconds per embedding call. It prints, flushed, one line per stage:

    embedding <n> passages        when an embedding call starts
    writing                       with --hang-while-writing: the new build is half written; then it sleeps
    report <json>                 the IngestReport at the end

Run from the repository root (``tests`` must be importable).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from rag.config import Settings
from rag.store import ingest
from rag.store.lexical import LexicalIndex
from tests.store.conftest import CountingBigramEmbeddings


class SlowEmbeddings(CountingBigramEmbeddings):
    def __init__(self, delay: float):
        super().__init__()
        self.delay = delay

    def encode_passages(self, texts, **kwargs):
        print(f"embedding {len(texts)} passages", flush=True)
        time.sleep(self.delay)
        return super().encode_passages(texts, **kwargs)


def hang_while_writing(self, directory: Path) -> None:
    """Stands in for LexicalIndex.save: the chunks and vectors of the new build are on disk, BM25 never comes."""
    print("writing", flush=True)
    time.sleep(3600)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("index_dir", type=Path)
    parser.add_argument("paths", nargs="+", type=Path)
    parser.add_argument("--delay", type=float, default=0.0)
    parser.add_argument("--hang-while-writing", action="store_true")
    args = parser.parse_args()
    if args.hang_while_writing:
        LexicalIndex.save = hang_while_writing
    settings = Settings(
        index_dir=args.index_dir,
        upload_dir=args.index_dir / "no-uploads",
        embedding_model=CountingBigramEmbeddings.model_id,
    )
    report = ingest(args.paths, settings, embeddings=SlowEmbeddings(args.delay), show_progress=True)
    print("report " + json.dumps(report.to_json(), ensure_ascii=False), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
