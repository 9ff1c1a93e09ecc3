"""One ingest through Ray in a process of its own, in small batches, so that a test can kill it mid-way.

    python -m tests.store.ray_ingest_child SETTINGS_JSON PATH...

SETTINGS_JSON holds the fields of ``Settings`` to use (index_dir, store, milvus_uri, ...);
Ray is started on this machine. Batches of 4 rows make a five-file ingest many Ray tasks.
Prints ``embedded DONE of TOTAL rows`` (flushed) as embedded rows come back, and the report as
``report {json}`` when it finishes. Run from the repository root.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from rag.config import Settings
from rag.store import ingest
from rag.store import ray_ingest


def progress(stage: str, done: int, total: int) -> None:
    if stage == "embedding":
        print(f"embedded {done} of {total} rows", flush=True)


def main() -> int:
    fields = json.loads(sys.argv[1])
    settings = Settings.from_env().replace(**{k: Path(v) if k.endswith("_dir") else v for k, v in fields.items()})
    ray_ingest.BATCH_ROWS = ray_ingest.WRITE_ROWS = 4
    report = ingest([Path(p) for p in sys.argv[2:]], settings.replace(ray_address="local"), progress=progress)
    print("report " + json.dumps(report.to_json(), ensure_ascii=False), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
