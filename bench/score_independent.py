#!/usr/bin/env python3
"""Independent re-scoring of a `rag eval` run, to cross-check the headline metrics.

Deliberately separate from ``rag.evaluation``: it imports nothing from ``rag``, and
re-implements the definitions from docs/report.md in the plainest way, reading only

- the question file (key points, evidence quotes, types), and
- the run's per-question file ``questions.jsonl`` (retrieved chunk texts, the
  passages given to the generator, the answer, ``refused``, citation numbers, timings).

Usage::

    python bench/score_independent.py --questions data/eval/questions.jsonl \\
        --rows out/eval/questions.jsonl [--k 5] [--report out/eval/report.json]

Prints the recomputed metrics as JSON; with ``--report``, also compares them with the
report's figures and exits 1 when any differs by more than 1e-9.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
import unicodedata


def norm(text):
    """NFKC, then drop every whitespace character."""
    return "".join(unicodedata.normalize("NFKC", text or "").split())


def found(needle, haystack):
    needle = norm(needle)
    return needle != "" and needle in norm(haystack)


def average(values):
    values = [v for v in values if v is not None]
    if len(values) == 0:
        return None
    return sum(values) / len(values)


def pct(values, p):
    """Percentile with linear interpolation (statistics' 'inclusive' method)."""
    values = [v for v in values if v is not None]
    if not values:
        return None
    if len(values) == 1:
        return float(values[0])
    return statistics.quantiles(values, n=100, method="inclusive")[p - 1]


def read_jsonl(path):
    with open(path, encoding="utf-8-sig") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def score(questions, rows, k):
    by_id = {q["id"]: q for q in questions}
    hit1, hitk, rr, ctx_recall = [], [], [], []
    kp_recall, all_kp, refusal_ok, false_refusal, cite_ok = [], [], [], [], []
    lat = {"retrieval": [], "generation": [], "total": []}
    for row in rows:
        q = by_id[row["id"]]
        quotes = [e["quote"] for e in q["evidence"]]
        points = q["key_points"]
        unanswerable = q["type"] == "unanswerable"

        if quotes:
            texts = [c["text"] for c in row["retrieved"]][:k]
            first = 0
            for position in range(len(texts)):
                if any(found(quote, texts[position]) for quote in quotes):
                    first = position + 1
                    break
            hit1.append(1.0 if first == 1 else 0.0)
            hitk.append(1.0 if first > 0 else 0.0)
            rr.append(1.0 / first if first else 0.0)

        if points:
            ctx = [c["text"] for c in row["contexts"]]
            ctx_recall.append(sum(1 for p in points if any(found(p, t) for t in ctx)) / len(points))

        if row.get("answer") is not None:
            answer, refused = row["answer"], bool(row["refused"])
            if points:
                got = sum(1 for p in points if found(p, answer))
                kp_recall.append(got / len(points))
                all_kp.append(1.0 if got == len(points) else 0.0)
            if unanswerable:
                refusal_ok.append(1.0 if refused else 0.0)
            else:
                false_refusal.append(1.0 if refused else 0.0)
            markers = []
            for group in re.findall(r"\[([\d\s,，、]+)\]", answer):
                markers += [int(x) for x in re.findall(r"\d+", group)]
            if markers:
                listed = {c["n"] for c in row["citations"]} | {c["n"] for c in row["contexts"]}
                cite_ok.append(1.0 if set(markers) <= listed else 0.0)

        for name in lat:
            if name in (row.get("timings_ms") or {}):
                lat[name].append(row["timings_ms"][name])

    answered = any(r.get("answer") is not None for r in rows)
    return {
        "retrieval": {"hit@1": average(hit1), "hit@k": average(hitk), "mrr": average(rr), "context_key_point_recall": average(ctx_recall)},
        "answer": None if not answered else {
            "key_point_recall": average(kp_recall),
            "all_key_points_rate": average(all_kp),
            "refusal_accuracy": average(refusal_ok),
            "false_refusal_rate": average(false_refusal),
            "citation_validity": average(cite_ok),
        },
        "latency_ms": {name: {"p50": pct(v, 50), "p95": pct(v, 95)} for name, v in lat.items()},
    }


def differences(mine, report, path=""):
    """Every leaf of ``mine`` that differs from the same key in ``report``."""
    out = []
    for key, value in mine.items():
        other = report.get(key) if isinstance(report, dict) else None
        where = f"{path}.{key}" if path else key
        if isinstance(value, dict):
            out += differences(value, other or {}, where)
        elif (value is None) != (other is None) or (value is not None and abs(value - other) > 1e-9):
            out.append(f"{where}: independent {value} vs report {other}")
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--questions", required=True)
    parser.add_argument("--rows", required=True, help="questions.jsonl written by rag eval")
    parser.add_argument("--k", type=int, default=5)
    parser.add_argument("--report", help="report.json to compare against")
    args = parser.parse_args(argv)
    mine = score(read_jsonl(args.questions), read_jsonl(args.rows), args.k)
    print(json.dumps(mine, ensure_ascii=False, indent=2))
    if args.report:
        with open(args.report, encoding="utf-8") as handle:
            report = json.load(handle)
        if mine["answer"] is None:
            mine = {key: value for key, value in mine.items() if key != "answer"}
        diffs = differences(mine, report)
        for line in diffs:
            print(line, file=sys.stderr)
        print("agree" if not diffs else f"{len(diffs)} difference(s)", file=sys.stderr)
        return 1 if diffs else 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
