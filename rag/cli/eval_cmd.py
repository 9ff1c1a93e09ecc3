"""`rag eval [--questions FILE] [-k N] [--compare] [--out DIR] [--json]`: score the assistant on a question set.

Writes report.json, report.md, eval_by_type.png, questions.jsonl and questions.csv to
``--out`` (default ``out/eval/`` under the current directory). ``--json`` prints the
report.json metrics on stdout; the progress bar and notes always go to stderr.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import shlex
import sys
from pathlib import Path

from rag.answer import GENERATORS
from rag.cli import add_common_options

DEFAULT_OUT = Path("out") / "eval"


def add_parser(sub) -> None:
    parser = sub.add_parser("eval", help="evaluate retrieval and answers on a question set; write a report")
    parser.add_argument("--questions", type=Path, default=None, help="question set, JSON Lines (default data/eval/questions.jsonl)")
    parser.add_argument("-k", "--k", dest="k", type=int, default=None, help="passages retrieved per question (default 5, env RAG_TOP_K)")
    parser.add_argument("--mode", choices=["hybrid", "dense", "bm25"], default=None, help="retrieval mode (default hybrid)")
    parser.add_argument("--llm", "--generator", dest="generator", choices=GENERATORS, default=None, help="answer generator (default: env RAG_GENERATOR or extractive)")
    parser.add_argument("--llm-base-url", default=None, help="OpenAI-compatible endpoint for the LLM judge and the openai generator (env RAG_LLM_BASE_URL)")
    parser.add_argument("--llm-model", default=None, help="model name at that endpoint (env RAG_LLM_MODEL); the API key is read from RAG_LLM_API_KEY")
    parser.add_argument("--no-judge", action="store_true", help="skip the LLM-judged faithfulness / correctness even when an LLM is configured")
    parser.add_argument("--retrieval-only", action="store_true", help="score retrieval only; do not generate answers")
    parser.add_argument("--compare", action="store_true", help="also score the baselines: BM25 only, dense only, hybrid, naive LangChain FAISS")
    parser.add_argument("--limit", type=int, default=None, help="only the first N questions (quick checks)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"output directory (default {DEFAULT_OUT}/)")
    parser.add_argument("--json", action="store_true", help="print the metrics (report.json) on stdout")
    add_common_options(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace, settings) -> int:
    from rag.config import DEFAULT_EVAL_QUESTIONS
    from rag.errors import InputError
    from rag.evaluation.questions import load_questions

    settings = settings.replace(top_k=args.k, retrieval_mode=args.mode, generator=args.generator,
                                llm_base_url=args.llm_base_url, llm_model=args.llm_model)
    if settings.top_k < 1:
        raise InputError(f"k must be at least 1 (got {settings.top_k}).")
    if args.limit is not None and args.limit < 1:
        raise InputError(f"--limit must be at least 1 (got {args.limit}).")
    path = display_path(args.questions or DEFAULT_EVAL_QUESTIONS)
    questions = load_questions(path)
    if not questions:
        raise InputError(f"{path}: the question set holds no questions.")
    questions = questions[: args.limit] if args.limit else questions

    # Libraries may print while loading models: keep stdout for the JSON alone.
    with contextlib.redirect_stdout(sys.stderr) if args.json else contextlib.nullcontext():
        report, paths = evaluate_to_dir(questions, settings, args, path)
    if args.json:
        print(json.dumps(report, ensure_ascii=False, indent=2))
    else:
        print_summary(report, paths)
    return 0


def evaluate_to_dir(questions, settings, args, questions_path: Path):
    """Run the evaluation, the optional baselines and judge, and write the outputs."""
    from rag.evaluation import judge as judge_mod
    from rag.evaluation.baselines import compare
    from rag.evaluation.report import write_report
    from rag.evaluation.runner import MemoSearcher, RunConfig, build_report, evaluate
    from rag.retrieval import load_searcher

    searcher = MemoSearcher(load_searcher(settings))
    pipeline, skipped_reason = (None, "answers were not generated (--retrieval-only)") if args.retrieval_only else load_pipeline(settings, searcher)
    if skipped_reason and not args.retrieval_only:
        print(f"note: answer metrics skipped: {skipped_reason}", file=sys.stderr)
    config = RunConfig(questions=str(questions_path), k=settings.top_k, mode=settings.retrieval_mode,
                       fusion=getattr(searcher, "fusion", None), dense_weight=getattr(searcher, "dense_weight", None),
                       sentence_weight=getattr(searcher, "sentence_weight", None),
                       generator=settings.generator if pipeline else None, answers=pipeline is not None,
                       index=searcher.store.stats())
    rows = evaluate(questions, searcher, pipeline, k=settings.top_k, mode=settings.retrieval_mode,
                    generator=args.generator, progress=True)
    if args.no_judge:
        judge_block, per_question = judge_mod.skipped("--no-judge"), {}
    else:
        judge_block, per_question = judge_mod.judge_rows(rows, settings)
    for row in rows:
        if row["id"] in per_question:
            row["judge"] = per_question[row["id"]]
    baselines = compare(questions, searcher, k=settings.top_k, corpus_dir=settings.corpus_dir) if args.compare else None
    report = build_report(rows, config, baselines=baselines, judge=judge_block, answers_skipped=skipped_reason)
    paths = write_report(report, rows, args.out, command=command_line(args, questions_path, settings.top_k))
    return report, paths


def load_pipeline(settings, searcher):
    """(the answer pipeline over ``searcher``, None), or (None, why answers cannot be evaluated)."""
    try:
        from rag.chain import AnswerPipeline
    except ModuleNotFoundError as exc:
        if exc.name != "rag.chain":
            raise
        return None, "the answer chain (rag.chain) is not installed"
    return AnswerPipeline(settings, searcher=searcher), None


def display_path(path: Path) -> Path:
    """``path`` relative to the current directory when it lies below it (for the report)."""
    try:
        return Path(path).resolve().relative_to(Path.cwd().resolve())
    except ValueError:
        return Path(path)


def command_line(args: argparse.Namespace, questions_path: Path, k: int) -> str:
    """A reproducible command for report.md (only the options that change the figures)."""
    parts = ["rag", "eval", "--questions", str(questions_path), "-k", str(k)]
    for flag, value in (("--mode", args.mode), ("--generator", args.generator), ("--limit", args.limit)):
        if value is not None:
            parts += [flag, str(value)]
    for flag, on in (("--retrieval-only", args.retrieval_only), ("--compare", args.compare)):
        if on:
            parts.append(flag)
    return shlex.join(parts)


def print_summary(report: dict, paths: dict) -> None:
    from rag.evaluation.report import fmt

    k = report["config"]["k"]
    r, a, c = report["retrieval"], report["answer"], report["counts"]
    intervals = report.get("intervals_95", {})

    def fmt_ci(part: str, name: str) -> str:  # the rate with its bootstrap 95 % interval
        value = (r if part == "retrieval" else a)[name]
        low_high = intervals.get(part, {}).get(name)
        return fmt(value) + (f" [{fmt(low_high[0])}–{fmt(low_high[1])}]" if low_high and value is not None else "")

    print(f"questions {c['questions']} ({c['answerable']} answerable, {c['unanswerable']} unanswerable) · k {k} · mode {report['config']['mode']}")
    print(f"retrieval: hit@1 {fmt_ci('retrieval', 'hit@1')} · hit@{k} {fmt_ci('retrieval', 'hit@k')} · MRR {fmt_ci('retrieval', 'mrr')} · "
          f"context key-point recall {fmt_ci('retrieval', 'context_key_point_recall')}   (95 % bootstrap intervals)")
    if a.get("skipped"):
        print(f"answers: skipped ({a['reason']})")
    else:
        print(f"answers: key-point recall {fmt_ci('answer', 'key_point_recall')} · all key points {fmt_ci('answer', 'all_key_points_rate')} · "
              f"refusal accuracy {fmt_ci('answer', 'refusal_accuracy')} · false refusals {fmt_ci('answer', 'false_refusal_rate')} · "
              f"citation validity {fmt_ci('answer', 'citation_validity')} · citation support {fmt_ci('answer', 'citation_support')}")
    judge = report["judge"]
    print("judge: " + (f"skipped ({judge['reason']})" if judge.get("skipped") else
                       f"faithfulness {fmt(judge['faithfulness'])} · answer correctness {fmt(judge['answer_correctness'])}"))
    if not report["baselines"].get("skipped"):
        for name, b in report["baselines"].items():
            print(f"baseline {name:16s} hit@1 {fmt(b['hit@1'])} · hit@{k} {fmt(b['hit@k'])} · MRR {fmt(b['mrr'])}")
    for name, path in paths.items():
        print(f"{name}: {path}")
