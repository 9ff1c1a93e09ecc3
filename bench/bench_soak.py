"""Load and soak test: many questions from concurrent gradio_client users against the app.

    python bench/bench_soak.py                      # 500 questions, 8 users, starts `python app.py`
    python bench/bench_soak.py --questions 2000 --users 8
    python bench/bench_soak.py --url http://127.0.0.1:7860   # an app already running (no RSS figures)

The questions are every distinct question of the question sets in data/eval/ (the
five-issue dev and holdout sets and the CRUD-news sets, whose answers are not in the
default index and so exercise refusals), made up to ``--questions`` distinct strings
with polite variants ("请问…"), in a fixed shuffled order. Users take the next question from a shared list until
it is empty.

While it runs, the server's resident memory (RSS, from /proc) is sampled every 50 ms
together with the number of questions answered so far. It prints the error count, p50
and p95 latency, throughput, and peak RSS while the first 100 and the last 100
questions were answered; exits 1 when any question errors or the peak RSS grows by more
than ``--max-growth`` (10 %) between those two windows.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from bench_concurrency import ROOT, start_app, stop_app, timed_ask, wait_for_line

QUESTION_FILES = sorted((ROOT / "data" / "eval").glob("*.jsonl"))
VARIANTS = ("{q}", "请问{q}", "{q}？请简要回答。", "我想了解：{q}")


def question_pool(count: int) -> list[str]:
    """``count`` distinct questions: the question sets' questions, then variants of them."""
    base: list[str] = []
    for path in QUESTION_FILES:
        for line in path.read_text(encoding="utf-8").splitlines():
            record = json.loads(line) if line.strip() else {}
            question = str(record.get("question", "")).strip().rstrip("？?")
            if question:
                base.append(question)
    base = list(dict.fromkeys(base))
    random.Random(0).shuffle(base)  # mix the sets, so the first and last windows ask alike
    pool = [variant.format(q=q) for variant in VARIANTS for q in base]
    if len(pool) < count:
        sys.exit(f"only {len(pool)} distinct questions available; ask for at most that many")
    return pool[:count]


def rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


@dataclass
class Soak:
    latencies: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    refused: int = 0
    rss: list[tuple[int, int]] = field(default_factory=list)  # (questions done, RSS bytes)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def done(self) -> int:
        return len(self.latencies) + len(self.errors)

    def percentile(self, q: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))] if ordered else float("nan")

    def peak_rss(self, first: int, last: int) -> int:
        """Peak RSS while questions number ``first`` … ``last - 1`` were being answered."""
        return max((rss for done, rss in self.rss if first <= done < last), default=0)


def user(client, questions: list[str], soak: Soak) -> None:
    while True:
        with soak.lock:
            if not questions:
                return
            question = questions.pop()
        outcome = timed_ask(client, question)
        with soak.lock:
            if outcome.error or not outcome.answered:  # an empty answer counts as an error here
                soak.errors.append(outcome.error or f"{question}: empty answer")
            else:
                soak.latencies.append(outcome.latency)
                soak.refused += outcome.refused


def sample_rss(pid: int, soak: Soak, stop: threading.Event) -> None:
    while not stop.is_set():
        try:
            rss = rss_bytes(pid)
        except OSError:
            return
        soak.rss.append((soak.done, rss))
        stop.wait(0.05)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", help="an app already running (default: start python app.py on a free port)")
    parser.add_argument("--questions", type=int, default=500)
    parser.add_argument("--users", type=int, default=8)
    parser.add_argument("--window", type=int, default=100, help="questions in the first and last RSS windows")
    parser.add_argument("--max-growth", type=float, default=0.10, help="allowed growth of peak RSS, first → last window")
    args = parser.parse_args(argv)

    questions = question_pool(args.questions)
    process = None
    if args.url:
        url, pid = args.url.rstrip("/"), None
    else:
        process, url, log = start_app({})
        pid = process.pid
        print(f"started app at {url} (log: {log})", file=sys.stderr)
        wait_for_line(log, "sentence vectors ready", timeout=600)
    soak, stop = Soak(), threading.Event()
    try:
        from gradio_client import Client

        clients = [Client(url, verbose=False, ssl_verify=False) for _ in range(args.users)]
        sampler = threading.Thread(target=sample_rss, args=(pid, soak, stop), daemon=True) if pid else None
        if sampler:
            sampler.start()
        todo = list(reversed(questions))  # users pop from the end: questions go out in order
        started = time.perf_counter()
        threads = [threading.Thread(target=user, args=(c, todo, soak)) for c in clients]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        wall = time.perf_counter() - started
        stop.set()
    finally:
        if process is not None:
            stop_app(process)

    n, window = soak.done, args.window
    print(f"{n} questions ({len(set(questions))} distinct) · {args.users} concurrent users · {wall:.0f} s\n")
    print("| errors | p50 (s) | p95 (s) | throughput (q/s) | refused |")
    print("|---:|---:|---:|---:|---:|")
    print(f"| {len(soak.errors)} | {soak.percentile(50):.2f} | {soak.percentile(95):.2f} | {n / wall:.2f} | {soak.refused} |")
    problems = [f"error: {e}" for e in soak.errors[:20]]
    if pid:
        first, last = soak.peak_rss(0, window), soak.peak_rss(n - window, n + 1)
        growth = (last - first) / first if first else float("nan")
        print(
            f"\npeak RSS: first {window} questions {first / 2**20:.0f} MiB · last {window} "
            f"{last / 2**20:.0f} MiB · growth {100 * growth:+.1f}% (limit {100 * args.max_growth:.0f}%)"
        )
        if not first or growth > args.max_growth:
            problems.append(f"peak RSS grew {100 * growth:.1f}% (limit {100 * args.max_growth:.0f}%)")
    for problem in problems:
        print(f"FAIL {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
