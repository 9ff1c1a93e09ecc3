"""One ingest in a process of its own that stops for good at a chosen step of the store's commit.

    python -m tests.store.interrupted_ingest SETTINGS_JSON PATH... --hang-at STAGE

SETTINGS_JSON holds the fields of ``Settings`` to use (index_dir, store, milvus_uri, ...).
The stores call ``commit_stage(name)`` between the steps of a commit (rag/store/base.py);
here the first call named STAGE prints ``stage STAGE`` (flushed) and sleeps, so the test
can kill the process at exactly that point. Run from the repository root.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from rag.config import Settings
from rag.store import ingest


def hang_at(stage: str):
    def commit_stage(name: str) -> None:
        print(f"reached {name}", flush=True)
        if name == stage:
            print(f"stage {name}", flush=True)
            time.sleep(3600)

    return commit_stage


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("settings")
    parser.add_argument("paths", nargs="+", type=Path)
    parser.add_argument("--hang-at", required=True)
    args = parser.parse_args()
    fields = json.loads(args.settings)
    settings = Settings.from_env().replace(**{k: Path(v) if k.endswith("_dir") else v for k, v in fields.items()})
    import rag.store.local_store as local_store

    local_store.commit_stage = hang_at(args.hang_at)
    if settings.store == "milvus":
        import rag.store.milvus_store as milvus_store

        milvus_store.commit_stage = hang_at(args.hang_at)
    report = ingest(args.paths, settings)
    print("report " + json.dumps(report.to_json(), ensure_ascii=False), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
