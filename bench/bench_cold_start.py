"""Cold start: from ``python app.py`` to the first answer through the app's HTTP API.

    python bench/bench_cold_start.py [--index index] [--repeat 3] [--after-warm-up]

Each run starts ``python app.py`` on a free port as a user would, on a copy of ``--index``
(so nothing is written to the real one), and times, from the moment the process is
started:

* "serving": the HTTP server answers (``/gradio_api/info``); by then the app has loaded
  the model and the index (``rag.ui.server.preload``);
* "first answer": a ``gradio_client.Client`` has connected and ``/ask`` has answered the
  canonical question;
* "first latency": how long that first ``/ask`` itself took;
* "second answer": the latency of the next question (a warm process), for comparison.

The app pre-computes sentence vectors in a background thread once it serves, so the first
answers share the CPU with that work. ``--after-warm-up`` waits until it has finished
(the app logs "sentence vectors ready") before asking, so "first latency" shows only what
the first question still costs over the second. The first run may also read the model from disk
while later runs find it in the page cache; the table shows every run.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench_concurrency import ROOT, free_port, stop_app, wait_for_line, wait_until_serving

QUESTIONS = ("太钢的碳中和目标是什么", "中铝集团2024年在污染减排方面做了哪些工作")


def cold_start(index: Path, work: Path, timeout: float, after_warm_up: bool = False) -> dict[str, float]:
    from gradio_client import Client

    shutil.copytree(index, work / "index", ignore=shutil.ignore_patterns(".lock", ".gen-*"))
    port = free_port()
    env = {
        **os.environ,
        "RAG_INDEX_DIR": str(work / "index"),
        "RAG_UPLOAD_DIR": str(work / "uploads"),
        "RAG_FEEDBACK_PATH": str(work / "feedback.jsonl"),
        "RAG_HOST": "127.0.0.1",
        "RAG_PORT": str(port),
        "GRADIO_ANALYTICS_ENABLED": "False",
        "PYTHONUNBUFFERED": "1",
    }
    env.pop("RAG_AUTH", None)
    url = f"http://127.0.0.1:{port}"
    log = work / "app.log"
    started = time.perf_counter()
    with log.open("w", encoding="utf-8") as handle:
        process = subprocess.Popen([sys.executable, "app.py"], cwd=ROOT, env=env, stdout=handle, stderr=subprocess.STDOUT)
    try:
        wait_until_serving(url, process, log, timeout, poll=0.1)  # starts timed to 0.1 s
        serving = time.perf_counter() - started
        if after_warm_up:
            wait_for_line(log, "sentence vectors ready", timeout)
        client = Client(url, verbose=False)
        asked = time.perf_counter()
        first = client.predict(question=QUESTIONS[0], api_name="/ask")
        first_answer = time.perf_counter() - started
        first_latency = time.perf_counter() - asked
        asked = time.perf_counter()
        client.predict(question=QUESTIONS[1], api_name="/ask")
        second = time.perf_counter() - asked
    finally:
        stop_app(process)
    if first.get("refused") or not first.get("citations"):
        raise SystemExit(f"the first answer was not a cited answer: {first}")
    return {"serving": serving, "first answer": first_answer, "first latency": first_latency, "second answer": second}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--index", type=Path, default=ROOT / "index", help="a built index (copied, never changed)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--timeout", type=float, default=600)
    parser.add_argument("--after-warm-up", action="store_true", help="ask only once the sentence-vector warm-up has finished")
    args = parser.parse_args()
    if not (args.index / "CURRENT").exists():
        raise SystemExit(f"no index in {args.index}: build it first (rag ingest)")

    runs = []
    for number in range(1, args.repeat + 1):
        with tempfile.TemporaryDirectory() as tmp:
            runs.append(cold_start(args.index, Path(tmp), args.timeout, args.after_warm_up))
        print(f"run {number}: " + " · ".join(f"{k} {v:.2f} s" for k, v in runs[-1].items()), flush=True)

    waited = ", asking after the warm-up" if args.after_warm_up else ""
    print(f"\nindex {args.index} · {args.repeat} cold starts of `python app.py`{waited}\n")
    print("| run | serving s | first answer s (from start) | first answer's latency s | second answer s |")
    print("|---|---|---|---|---|")
    for number, run in enumerate(runs, start=1):
        print(
            f"| {number} | {run['serving']:.1f} | {run['first answer']:.1f} | {run['first latency']:.2f} "
            f"| {run['second answer']:.2f} |"
        )


if __name__ == "__main__":
    main()
