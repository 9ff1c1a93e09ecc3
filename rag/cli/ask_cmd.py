"""`rag ask QUESTION [-k N] [--llm extractive|openai] [--json]` and `rag ask --batch FILE [--json]`."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from rag.answer import GENERATORS
from rag.cli import add_common_options, add_filter_options, filter_settings
from rag.cli.search_cmd import prepare_all, print_notices, read_batch


def add_parser(sub) -> None:
    parser = sub.add_parser("ask", help="answer a question with cited sources")
    parser.add_argument("question", nargs="?", help="the question (Chinese)")
    parser.add_argument("-k", type=int, default=None, help="passages given to the generator (default 5, env RAG_TOP_K)")
    parser.add_argument("--mode", choices=["hybrid", "dense", "bm25"], default=None, help="retrieval mode (default hybrid)")
    parser.add_argument("--llm", dest="generator", choices=GENERATORS, default=None,
                        help="answer generator (default extractive, env RAG_GENERATOR); openai needs RAG_LLM_BASE_URL and RAG_LLM_MODEL; local needs llama-cpp-python and `rag model pull` (or RAG_LLM_GGUF)")
    parser.add_argument("--batch", type=Path, help="file of questions: one per line, or JSON Lines with a 'question' key")
    parser.add_argument("--json", action="store_true", help="print the answer as JSON (one object per line with --batch)")
    add_filter_options(parser)
    add_common_options(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace, settings) -> int:
    from rag.chain import AnswerPipeline
    from rag.errors import InputError, RagError

    if args.k is not None and args.k < 1:
        raise InputError(f"-k must be at least 1 (got {args.k}).")
    settings = settings.replace(top_k=args.k, retrieval_mode=args.mode, generator=args.generator)
    settings, _where = filter_settings(args, settings)  # a malformed date fails before anything loads
    if args.batch is None and not (args.question or "").strip():
        raise InputError("请输入问题 / Give a question, e.g. rag ask \"太钢的碳中和目标是什么\", or --batch FILE.")
    questions = read_batch(args.batch) if args.batch else [args.question]
    prepare_all(questions, settings.question_max_chars)  # unusable questions fail before the model loads
    if settings.generator == "openai":  # fail before the model and index load
        from rag.answer.llm import check_config

        check_config(settings)
    pipeline = AnswerPipeline(settings)  # model and index load once; every search uses the settings' filter
    if args.batch is None:
        answer = pipeline.invoke(questions[0])  # cleans and, when too long, cuts the question (answer.notices)
        print_notices(answer.notices)
        if args.json:
            print(json.dumps(answer.to_json(), ensure_ascii=False))
        else:
            print_answer(answer)
        return 0
    failed = 0
    for question in questions:  # each question succeeds or fails on its own
        try:
            answer = pipeline.invoke(question)
        except RagError as exc:
            failed += 1
            print(json.dumps({"question": question, "error": str(exc)}, ensure_ascii=False), flush=True)
            continue
        print_notices(answer.notices)
        print(json.dumps(answer.to_json(), ensure_ascii=False), flush=True)
    if failed:
        print(f"{failed} of {len(questions)} questions failed (their lines carry \"error\")", file=sys.stderr)
    return 1 if failed else 0


def print_answer(answer) -> None:
    """The answer, then the numbered sources it cites (or the related passages when refused)."""
    print(answer.answer)
    if answer.standalone_question:
        print(f"\n（按“{answer.standalone_question}”检索）")
    if answer.citations:
        print("\n来源 / sources:")
        for c in answer.citations:
            _print_passage(c.n, c.result)
    elif answer.contexts:
        print("\n相关资料（未引用）/ related passages (not cited):")
        for r in answer.contexts:
            _print_passage(r.rank, r)
    if answer.unsupported:
        print("\n未找到出处的句子 / sentences without a supporting passage:")
        for sentence in answer.unsupported:
            print(f"  - {sentence}")


def _print_passage(n: int, result) -> None:
    c = result.chunk
    meta = " · ".join(x for x in (c.source, f"第 {c.page} 版" if c.page else "", c.title or "", c.date or "") if x)
    snippet = " ".join(c.text.split())
    print(f"[{n}] {meta}")
    print(f"    {snippet[:120]}{'…' if len(snippet) > 120 else ''}")
