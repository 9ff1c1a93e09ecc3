"""Answer latency and quality over a question set, through the real chain.

    python bench/bench_answer.py [--questions data/eval/questions.jsonl] [--llm extractive|openai|local] [-k 5]
                                 [--limit N] [--stream] [--show]

Loads the model and index once (not timed), answers one warm-up question, then every
question once, and prints p50/p95 of the chain's own timings (retrieve, generate,
total) plus the answer metrics of ``rag.evaluation.metrics``: key-point recall over
answerable questions, refusals of unanswerable ones, false refusals, citation validity
and support. ``--stream`` answers through the streaming path and adds the time to the
first shown token (what a chat user waits for). ``--show`` prints each answer; ``--json
FILE`` writes the rows.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from rag.answer import GENERATORS  # noqa: E402
from rag.chain import AnswerPipeline  # noqa: E402
from rag.config import DEFAULT_EVAL_QUESTIONS, Settings  # noqa: E402
from rag.evaluation import metrics  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--questions", type=Path, default=DEFAULT_EVAL_QUESTIONS)
    parser.add_argument("--llm", dest="generator", choices=GENERATORS, default=None)
    parser.add_argument("--limit", type=int, default=None, help="only the first N questions")
    parser.add_argument("--stream", action="store_true", help="answer by streaming; time the first token")
    parser.add_argument("-k", type=int, default=None)
    parser.add_argument("--index", type=Path, default=None)
    parser.add_argument("--show", action="store_true", help="print every answer")
    parser.add_argument("--json", type=Path, help="write per-question rows to this file")
    args = parser.parse_args(argv)

    settings = Settings.from_env().replace(generator=args.generator, top_k=args.k, index_dir=args.index)
    questions = [json.loads(line) for line in args.questions.read_text(encoding="utf-8").splitlines() if line.strip()]
    questions = questions[: args.limit] if args.limit else questions

    started = time.perf_counter()
    pipeline = AnswerPipeline(settings)
    pipeline.invoke(questions[0]["question"])  # warm-up: first jieba/posseg use, lazy imports
    print(f"loaded model + index + warm-up in {time.perf_counter() - started:.1f} s; {len(questions)} questions, "
          f"generator {settings.generator}, k={settings.top_k}\n")

    rows = []
    for q in questions:
        answer = streamed(pipeline, q) if args.stream else pipeline.invoke(q["question"], q.get("history") or ())
        passages = {r.rank: r.chunk.text for r in answer.contexts}
        scores = metrics.score_answer(answer.answer, answer.refused, q.get("key_points") or [], q["type"] != "unanswerable", passages)
        rows.append({"id": q["id"], "type": q["type"], "question": q["question"], "answer": answer.answer,
                     "refused": answer.refused, "unsupported": answer.unsupported, "timings_ms": answer.timings_ms, **scores})
        if args.show:
            mark = "REFUSED " if answer.refused else ""
            print(f"{q['id']} [{q['type']}] {q['question']}\n  {mark}{answer.answer}\n  missing: {scores['missing_key_points']}\n")

    print(f"{'timing (ms)':<12}{'p50':>9}{'p95':>9}")
    for name in ("retrieve", "generate", "first_token", "total"):
        values = [r["timings_ms"][name] for r in rows if name in r["timings_ms"]]
        if not values:
            continue
        print(f"{name:<12}{metrics.percentile(values, 50):>9.1f}{metrics.percentile(values, 95):>9.1f}")

    answerable = [r for r in rows if r["type"] != "unanswerable"]
    unanswerable = [r for r in rows if r["type"] == "unanswerable"]
    supported = sum(r["supported_sentences"] for r in rows)
    cited = sum(r["cited_sentences"] for r in rows)
    summary = {
        "key_point_recall (answerable)": metrics.mean(r["key_point_recall"] for r in answerable),
        "all_key_points_rate": metrics.mean(r["all_key_points"] for r in answerable),
        "refused (unanswerable)": metrics.mean(r["refused"] for r in unanswerable),
        "false refusals (answerable)": metrics.mean(r["refused"] for r in answerable),
        "citation validity": metrics.mean(r["citation_valid"] for r in rows if r["citation_valid"] is not None),
        "citation support": metrics.ratio(supported, cited),
        "answers with unsupported sentences": metrics.mean(bool(r["unsupported"]) for r in rows),
    }
    print()
    for name, value in summary.items():
        print(f"{name:<38}{'n/a' if value is None else f'{value:.3f}'}")
    print(f"{'questions (answerable / unanswerable)':<38}{len(answerable)} / {len(unanswerable)}; cited sentences {cited}")
    if args.json:
        args.json.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n", encoding="utf-8")
    return 0


def streamed(pipeline: AnswerPipeline, q: dict):
    """The answer through the streaming path, with ``timings_ms["first_token"]``: from the
    question to the first text shown (a refusal counts as text)."""
    started, first = time.perf_counter(), None
    answer = None
    for part in pipeline.stream(q["question"], q.get("history") or ()):
        if isinstance(part, str):
            if part and first is None:
                first = (time.perf_counter() - started) * 1000
        else:
            answer = part
    answer.timings_ms["first_token"] = first if first is not None else answer.timings_ms["total"]
    return answer


if __name__ == "__main__":
    sys.exit(main())
