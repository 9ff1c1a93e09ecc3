"""Concurrency benchmark for the chat UI: N simultaneous gradio_client users.

    python bench/bench_concurrency.py                 # starts `python app.py` on a free port
    python bench/bench_concurrency.py --url http://127.0.0.1:7860   # an app already running
    python bench/bench_concurrency.py --users 8 --repeats 5
    python bench/bench_concurrency.py --user-processes       # each concurrent user in its own process

Each user is its own ``gradio_client.Client`` asking different questions through the
named ``/ask`` endpoint (the same pipeline the chat uses). Questions come from the dev
set, data/eval/questions.jsonl, or a built-in list when that file is absent.

After a warm-up, two phases alternate ``--repeats`` times, each on questions not asked
before: one user asking one question after another (the single-user baseline), then
``--users`` users at once. Alternating spreads any other load on the machine over both
phases. It checks that every question is answered and none errors, and that the
concurrent p95 latency stays within ``--max-ratio`` × the single-user p95; prints a
Markdown table (with the server's CPU seconds per question when it started the server);
exits 1 when a check fails.

``--think S`` makes the concurrent users behave like people reading their answers: before
each question a user pauses a random 0–2·S seconds (S on average), so questions arrive
spread out instead of all in the same instant. Without it (the default) every round is a
burst of ``--users`` questions sent at once, the worst case.

Resolution: ``gradio_client`` looks for its answer every 50 ms, so the latencies it
reports come in steps of about 50 ms (an endpoint that only echoes takes 0.057 s). A
single answer that needs 45–55 ms on the server shows as 0.06 or 0.11 s, which moves the
ratio by almost 2× from one run to the next; compare several runs (docs/results.md).
"""

from __future__ import annotations

import argparse
import json
import os
import random
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
    cpu: float = 0.0  # server process CPU seconds (when the bench started the server)
    client_cpu: float = 0.0  # this process's CPU seconds (the gradio_client users)

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


@dataclass
class Outcome:
    question: str
    latency: float | None = None  # None when the call failed
    error: str | None = None
    answered: bool = False
    refused: bool = False


def timed_ask(client, question: str) -> Outcome:
    """Ask one question through ``/ask`` and time it; failures become an error, not an exception."""
    started = time.perf_counter()
    try:
        result = client.predict(question=question, api_name="/ask")
    except Exception as exc:  # noqa: BLE001 — every failure counts as an error
        return Outcome(question, error=f"{question}: {type(exc).__name__}: {exc}")
    answered = isinstance(result, dict) and bool(str(result.get("answer", "")).strip())
    return Outcome(question, time.perf_counter() - started, None, answered, answered and bool(result.get("refused")))


def record(run: Run, outcome: Outcome) -> None:
    if outcome.error:
        run.errors.append(outcome.error)
        return
    run.latencies.append(outcome.latency)
    if not outcome.answered:
        run.unanswered.append(outcome.question)
    run.refused += outcome.refused


def ask_once(client, question: str, run: Run, lock: threading.Lock) -> None:
    outcome = timed_ask(client, question)
    with lock:
        record(run, outcome)


def process_cpu(pid: int | None) -> float:
    """User + system CPU seconds of a process (0 when unknown)."""
    if pid is None:
        return 0.0
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return 0.0


def own_cpu() -> float:
    return time.process_time()


def single_user(client, questions: list[str], run: Run, pid: int | None) -> None:
    """One user, one question after another; adds to ``run``."""
    lock = threading.Lock()
    cpu, mine, started = process_cpu(pid), own_cpu(), time.perf_counter()
    for question in questions:
        ask_once(client, question, run, lock)
    run.wall += time.perf_counter() - started
    run.cpu += process_cpu(pid) - cpu
    run.client_cpu += own_cpu() - mine


def pauses(count: int, think: float, seed: int) -> list[float]:
    """Seconds a user waits before each of ``count`` questions: uniform in 0–2·think (all 0 without think time)."""
    rng = random.Random(seed)
    return [rng.uniform(0, 2 * think) if think > 0 else 0.0 for _ in range(count)]


def concurrent_users(clients, questions: list[str], run: Run, pid: int | None, think: float = 0.0) -> None:
    """All clients at once; user ``i`` asks ``questions[i]``, ``questions[i + users]``, …; adds to ``run``."""
    users, lock = len(clients), threading.Lock()
    barrier = threading.Barrier(users)
    waits = pauses(len(questions), think, seed=len(run.latencies))

    def user(index: int) -> None:
        barrier.wait()
        for position in range(index, len(questions), users):
            time.sleep(waits[position])
            ask_once(clients[index], questions[position], run, lock)

    threads = [threading.Thread(target=user, args=(i,)) for i in range(users)]
    cpu, mine, started = process_cpu(pid), own_cpu(), time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    run.wall += time.perf_counter() - started
    run.cpu += process_cpu(pid) - cpu
    run.client_cpu += own_cpu() - mine


# --- users as separate processes (--user-processes) ------------------------------------

_client = None


def _make_client(url: str) -> None:
    global _client
    from gradio_client import Client

    _client = Client(url, verbose=False, ssl_verify=False)


def _timed_ask(question: str, pause: float = 0.0) -> Outcome:
    """:func:`timed_ask` with this worker process's own client, after ``pause`` seconds."""
    time.sleep(pause)
    return timed_ask(_client, question)


def concurrent_user_processes(pool, users: int, questions: list[str], run: Run, pid: int | None, think: float = 0.0) -> None:
    """Like :func:`concurrent_users`, but each user is its own process (no shared client GIL)."""
    waits = pauses(len(questions), think, seed=len(run.latencies))
    cpu, started = process_cpu(pid), time.perf_counter()
    for outcome in pool.starmap(_timed_ask, zip(questions, waits), chunksize=1):
        record(run, outcome)
    run.wall += time.perf_counter() - started
    run.cpu += process_cpu(pid) - cpu


def split_questions(questions: list[str], sizes: list[int]) -> tuple[list[list[str]], bool]:
    """Disjoint consecutive question sets of the given sizes (wrapping around when too few).

    The chain caches per question (query vectors, question analysis), so a question asked
    twice is answered faster the second time and would flatter the phase that repeats it.
    """
    pool = [questions[i % len(questions)] for i in range(sum(sizes))]
    out, start = [], 0
    for size in sizes:
        out.append(pool[start : start + size])
        start += size
    return out, sum(sizes) > len(questions)


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
    try:
        wait_until_serving(url, process, log, timeout=600)
    except SystemExit:
        process.kill()
        raise
    return process, url, log


def wait_until_serving(url: str, process: subprocess.Popen, log: Path, timeout: float, poll: float = 0.5) -> None:
    """Return once the app answers ``/gradio_api/info``; exit with its log's tail if it stops or times out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            sys.exit(f"the app exited with code {process.returncode}:\n{log.read_text(errors='replace')[-3000:]}")
        try:
            with urllib.request.urlopen(f"{url}/gradio_api/info", timeout=5) as response:
                if response.status == 200:
                    return
        except OSError:  # URLError, connection refused or reset, timeouts
            pass
        time.sleep(poll)
    sys.exit(f"the app did not serve within {timeout:.0f} s:\n{log.read_text(errors='replace')[-3000:]}")


def wait_for_line(log: Path, text: str, timeout: float) -> None:
    """Wait until the app's log shows ``text`` (its background warm-up has finished)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if text in log.read_text(errors="replace"):
            return
        time.sleep(1)
    print(f"warning: '{text}' not seen in {log} after {timeout:.0f} s", file=sys.stderr)


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
        "| users | n | p50 (s) | p95 (s) | errors | throughput (q/s) | CPU s / question: server | clients |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for run in runs:
        throughput = run.n / run.wall if run.wall else float("nan")
        cpu = f"{run.cpu / run.n:.2f}" if run.cpu and run.n else "–"
        client = f"{run.client_cpu / run.n:.2f}" if run.n else "–"
        lines.append(
            f"| {run.users} | {run.n} | {run.percentile(50):.2f} | {run.percentile(95):.2f} | {len(run.errors)} "
            f"| {throughput:.2f} | {cpu} | {client} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", help="an app already running (default: start python app.py on a free port)")
    parser.add_argument("--users", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=1, help="questions per concurrent user in each repeat")
    parser.add_argument("--think", type=float, default=0.0, help="mean seconds a concurrent user pauses before each question (default 0: bursts)")
    parser.add_argument("--single", type=int, default=8, help="single-user questions in each repeat")
    parser.add_argument("--repeats", type=int, default=3, help="alternations of the single-user and concurrent phases")
    parser.add_argument("--warmup", type=int, default=8, help="questions asked before measuring (not counted)")
    parser.add_argument("--max-ratio", type=float, default=3.0, help="allowed concurrent p95 / single-user p95")
    parser.add_argument("--json", type=Path, help="also write the numbers as JSON here")
    parser.add_argument("--user-processes", action="store_true", help="run each concurrent user in its own process (default: threads of this one)")
    args = parser.parse_args(argv)

    questions, origin = load_questions()
    per_repeat = [args.single, args.users * args.rounds]
    sets, repeated = split_questions(questions, [args.warmup] + per_repeat * args.repeats)
    warm, phases = sets[0], sets[1:]
    process, pid = None, None
    if args.url:
        url = args.url.rstrip("/")
    else:
        process, url, log = start_app({})
        pid = process.pid
        print(f"started app at {url} (log: {log})", file=sys.stderr)
        wait_for_line(log, "sentence vectors ready", timeout=600)  # measure the steady state
    load_before = os.getloadavg()[0]
    baseline, loaded = Run(users=1), Run(users=args.users)
    try:
        from gradio_client import Client

        solo_client = Client(url, verbose=False, ssl_verify=False)
        pool = None
        if args.user_processes:
            import multiprocessing

            pool = multiprocessing.get_context("spawn").Pool(args.users, initializer=_make_client, initargs=(url,))
            pool.map(_timed_ask, warm[: args.users], chunksize=1)  # every worker connected and warm
        else:
            clients = [Client(url, verbose=False, ssl_verify=False) for _ in range(args.users)]
        for question in warm:
            solo_client.predict(question=question, api_name="/ask")
        # Alternate the phases, so that load from anything else on the machine falls on both.
        for repeat in range(args.repeats):
            single_user(solo_client, phases[2 * repeat], baseline, pid)
            if pool is not None:
                concurrent_user_processes(pool, args.users, phases[2 * repeat + 1], loaded, pid, args.think)
            else:
                concurrent_users(clients, phases[2 * repeat + 1], loaded, pid, args.think)
        if pool is not None:
            pool.close()
    finally:
        if process is not None:
            stop_app(process)
    load_after = os.getloadavg()[0]

    ratio = loaded.percentile(95) / baseline.percentile(95)
    print(
        f"questions: {origin} ({len(questions)}; {len(warm)} warm-up, then {args.repeats} × "
        f"({args.single} single-user + {args.users}×{args.rounds} concurrent"
        f"{f', think time {args.think:g} s' if args.think else ', in bursts'}), "
        f"{'some repeated' if repeated else 'all different'}) · {cpu_summary()} · "
        f"load average {load_before:.1f} → {load_after:.1f}"
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
                    "cpu": cpu_summary(),
                    "load_average": [load_before, load_after],
                    "runs": [
                        {"users": r.users, "n": r.n, "p50": r.percentile(50), "p95": r.percentile(95),
                         "errors": len(r.errors), "wall_s": r.wall, "server_cpu_s": r.cpu, "client_cpu_s": r.client_cpu,
                         "latencies": r.latencies}
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


def cpu_summary() -> str:
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:
        cores = os.cpu_count() or 0
    return f"{cores} CPU cores"


if __name__ == "__main__":
    sys.exit(main())
