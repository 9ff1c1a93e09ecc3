"""Concurrency benchmark for the chat UI: N simultaneous gradio_client users.

    python bench/bench_concurrency.py                 # starts `python app.py` on a free port
    python bench/bench_concurrency.py --url http://127.0.0.1:7860   # an app already running
    python bench/bench_concurrency.py --users 8 --rounds 3

Each user is its own ``gradio_client.Client`` asking different questions through the
named ``/ask`` endpoint (the same pipeline the chat uses). Questions come from the dev
set, data/eval/questions.jsonl, or a built-in list when that file is absent.

After a warm-up, two phases on disjoint questions: one user asking one question after
another (the single-user baseline), then ``--users`` users at once. It checks that
every question is answered and none errors, and that the concurrent p95 latency stays
within ``--max-ratio`` × the single-user p95; prints a Markdown table; exits 1 when a
check fails.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
QUESTIONS_FILE = ROOT / "data" / "eval" / "questions.jsonl"
FALLBACK_QUESTIONS = [
    "太钢的碳中和目标是什么",
    "太钢“13460”绿色低碳发展模式的具体内容是什么",
    "太钢不锈钢低碳冶金技术路线图包括哪些技术路径",
    "盛更红到娄烦县调研了哪些帮扶产业项目",
    "中铝集团2024年在污染减排方面做了哪些工作",
    "李锋帆在基层企业从事什么工作",
    "东轻中厚板厂的生产现场有什么变化",
    "太钢驻村工作队的帮扶思路是什么",
    "中铝集团如何推进绿色低碳转型",
    "太钢党员志愿服务活动有哪些内容",
    "宝武的愿景是什么",
    "中铝集团的财务共享中心有哪些职能",
]


def load_questions(path: Path = QUESTIONS_FILE) -> tuple[list[str], str]:
    """The dev questions (data/eval/questions.jsonl, one JSON object with "question" per line)."""
    if path.exists():
        questions = []
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                record = json.loads(line) if line.strip() else None
            except json.JSONDecodeError:
                continue
            if isinstance(record, dict) and isinstance(record.get("question"), str) and record["question"].strip():
                questions.append(record["question"].strip())
        if questions:
            return list(dict.fromkeys(questions)), str(path.relative_to(ROOT))
    return FALLBACK_QUESTIONS, "built-in list"


@dataclass
class Run:
    users: int
    latencies: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    unanswered: list[str] = field(default_factory=list)
    refused: int = 0
    wall: float = 0.0

    @property
    def n(self) -> int:
        return len(self.latencies) + len(self.errors)

    def percentile(self, q: float) -> float:
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        if len(ordered) == 1:
            return ordered[0]
        return statistics.quantiles(ordered, n=100, method="inclusive")[int(q) - 1]


def ask_once(client, question: str, run: Run, lock: threading.Lock) -> None:
    started = time.perf_counter()
    try:
        result = client.predict(question=question, api_name="/ask")
    except Exception as exc:  # noqa: BLE001 — every failure counts as an error
        with lock:
            run.errors.append(f"{question}: {type(exc).__name__}: {exc}")
        return
    elapsed = time.perf_counter() - started
    with lock:
        run.latencies.append(elapsed)
        if not (isinstance(result, dict) and str(result.get("answer", "")).strip()):
            run.unanswered.append(question)
        elif result.get("refused"):
            run.refused += 1


def single_user(url: str, questions: list[str]) -> Run:
    from gradio_client import Client

    client = Client(url, verbose=False)
    run, lock = Run(users=1), threading.Lock()
    started = time.perf_counter()
    for question in questions:
        ask_once(client, question, run, lock)
    run.wall = time.perf_counter() - started
    return run


def concurrent_users(url: str, questions: list[str], users: int, rounds: int) -> Run:
    """``users`` clients at once; user ``i`` asks ``questions[i]``, ``questions[i + users]``, …"""
    from gradio_client import Client

    clients = [Client(url, verbose=False) for _ in range(users)]
    run, lock = Run(users=users), threading.Lock()
    barrier = threading.Barrier(users)

    def user(index: int) -> None:
        barrier.wait()
        for r in range(rounds):
            ask_once(clients[index], questions[(index + r * users) % len(questions)], run, lock)

    threads = [threading.Thread(target=user, args=(i,)) for i in range(users)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    run.wall = time.perf_counter() - started
    return run


def split_questions(questions: list[str], warmup: int, single: int, concurrent: int) -> tuple[list[str], list[str], list[str]]:
    """Disjoint question sets for warm-up, the single-user baseline and the concurrent phase.

    The chain caches per question (query vectors, question analysis), so a question asked
    twice would be answered faster the second time and flatter the phase that repeats it.
    With too few questions the sets wrap around (and the table says so).
    """
    needed = warmup + single + concurrent
    pool = [questions[i % len(questions)] for i in range(needed)]
    return pool[:warmup], pool[warmup : warmup + single], pool[warmup + single :]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_app(extra_env: dict[str, str]) -> tuple[subprocess.Popen, str, Path]:
    port = free_port()
    log = Path(tempfile.mkstemp(prefix="bench-app-", suffix=".log")[1])
    env = {**os.environ, "RAG_PORT": str(port), "RAG_HOST": "127.0.0.1", "GRADIO_ANALYTICS_ENABLED": "False", **extra_env}
    with log.open("w") as handle:
        process = subprocess.Popen([sys.executable, "app.py"], cwd=ROOT, env=env, stdout=handle, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        if process.poll() is not None:
            sys.exit(f"the app exited ({process.returncode}); log:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(f"{url}/gradio_api/info", timeout=5):
                return process, url, log
        except OSError:
            time.sleep(0.5)
    process.kill()
    sys.exit(f"the app did not start; log: {log}")


def stop_app(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def table(runs: list[Run]) -> str:
    lines = [
        "| users | n | p50 (s) | p95 (s) | errors | throughput (q/s) |",
        "|---:|---:|---:|---:|---:|---:|",
    ]
    for run in runs:
        throughput = run.n / run.wall if run.wall else float("nan")
        lines.append(
            f"| {run.users} | {run.n} | {run.percentile(50):.2f} | {run.percentile(95):.2f} | {len(run.errors)} | {throughput:.2f} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", help="an app already running (default: start python app.py on a free port)")
    parser.add_argument("--users", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=2, help="questions per concurrent user")
    parser.add_argument("--single", type=int, default=16, help="questions in the single-user baseline")
    parser.add_argument("--warmup", type=int, default=8, help="questions asked before measuring (not counted)")
    parser.add_argument("--max-ratio", type=float, default=3.0, help="allowed concurrent p95 / single-user p95")
    parser.add_argument("--json", type=Path, help="also write the numbers as JSON here")
    args = parser.parse_args(argv)

    questions, origin = load_questions()
    warm, solo, multi = split_questions(questions, args.warmup, args.single, args.users * args.rounds)
    repeats = len(questions) < args.warmup + args.single + args.users * args.rounds
    process = None
    if args.url:
        url = args.url.rstrip("/")
    else:
        process, url, log = start_app({})
        print(f"started app at {url} (log: {log})", file=sys.stderr)
    try:
        from gradio_client import Client

        warm_client = Client(url, verbose=False)
        for question in warm:
            warm_client.predict(question=question, api_name="/ask")
        baseline = single_user(url, solo)
        loaded = concurrent_users(url, multi, args.users, args.rounds)
    finally:
        if process is not None:
            stop_app(process)

    ratio = loaded.percentile(95) / baseline.percentile(95)
    print(
        f"questions: {origin} ({len(questions)}; {len(warm)} warm-up, {len(solo)} single-user, {len(multi)} concurrent"
        f"{', some repeated' if repeats else ', all different'}) · {os.cpu_count()} CPU cores"
    )
    print()
    print(table([baseline, loaded]))
    print()
    print(
        f"p95 with {args.users} users = {ratio:.2f} × single-user p95 "
        f"({loaded.percentile(95) / baseline.percentile(50):.2f} × single-user p50); "
        f"refusals: {baseline.refused + loaded.refused}"
    )
    problems = []
    for run in (baseline, loaded):
        problems += [f"error: {e}" for e in run.errors]
        problems += [f"no answer: {q}" for q in run.unanswered]
    if ratio > args.max_ratio:
        problems.append(f"p95 ratio {ratio:.2f} exceeds {args.max_ratio}")
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "questions": origin,
                    "cpu_count": os.cpu_count(),
                    "runs": [
                        {"users": r.users, "n": r.n, "p50": r.percentile(50), "p95": r.percentile(95),
                         "errors": len(r.errors), "wall_s": r.wall}
                        for r in (baseline, loaded)
                    ],
                    "p95_ratio": ratio,
                },
                indent=2,
            )
        )
    for problem in problems:
        print(f"FAIL {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
