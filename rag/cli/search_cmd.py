"""`rag search QUERY [-k 5] [--mode hybrid|dense|bm25] [--json]` and `rag search --batch FILE`."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from rag.cli import add_common_options, add_filter_options, filter_settings, no_match_message


def add_parser(sub) -> None:
    parser = sub.add_parser("search", help="retrieve passages for a query")
    parser.add_argument("query", nargs="?", help="the query (Chinese)")
    parser.add_argument("-k", type=int, default=None, help="number of results (default 5, env RAG_TOP_K)")
    parser.add_argument("--mode", choices=["hybrid", "dense", "bm25"], default=None, help="retrieval mode (default hybrid)")
    parser.add_argument("--fusion", choices=["score", "rrf"], default=None, help="how hybrid mode fuses the rankings (default score, env RAG_FUSION)")
    parser.add_argument("--batch", type=Path, help="file of questions: one per line, or JSON Lines with a 'question' key")
    parser.add_argument("--json", action="store_true", help="print JSON")
    add_filter_options(parser)
    add_common_options(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace, settings) -> int:
    from rag.errors import InputError
    from rag.retrieval import load_searcher

    settings = settings.replace(top_k=args.k, retrieval_mode=args.mode, fusion=args.fusion)
    settings, where = filter_settings(args, settings)  # a malformed date fails before anything loads
    if args.batch is None and not (args.query or "").strip():
        raise InputError("请输入问题 / Give a query, e.g. rag search \"太钢的碳中和目标是什么\", or --batch FILE.")
    queries = read_batch(args.batch) if args.batch else [args.query]
    prepared = prepare_all(queries, settings.question_max_chars)  # unusable queries fail before the model loads
    searcher = load_searcher(settings)
    if not where.is_empty and not searcher.matching(where):
        print(no_match_message(where), file=sys.stderr)
    for item in prepared:
        print_notices(item.notices)
        query = item.text
        results = searcher.search(query, settings.top_k, settings.retrieval_mode, where)
        if args.json or args.batch:
            print(json.dumps({"query": query, "results": [r.to_json() for r in results]}, ensure_ascii=False), flush=True)
        else:
            print_results(query, results)
    return 0


def read_batch(path: Path) -> list[str]:
    """Questions from a plain-text file (one per line) or JSON Lines with a ``question`` key."""
    from rag.corpus.loaders import read_text
    from rag.errors import InputError

    text, _encoding = read_text(path)  # the corpus loader's encoding detection and errors
    questions = []
    for number, line in enumerate(text.splitlines(), start=1):
        line = line.strip()
        if not line:
            continue
        if line.startswith("{"):
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                raise InputError(f"{path}, line {number}: invalid JSON ({exc.msg}).") from None
            question = record.get("question") if isinstance(record, dict) else None
            if not isinstance(question, str) or not question.strip():
                raise InputError(f"{path}, line {number}: no non-empty 'question' string.")
            questions.append(question.strip())
        else:
            questions.append(line)
    if not questions:
        raise InputError(f"{path} holds no questions.")
    return questions


def prepare_all(questions: list[str], max_chars: int) -> list:
    """Each question cleaned and cut to ``max_chars`` (``PreparedQuestion``s); the first unusable one is an error."""
    from rag.answer.question_input import prepare_question
    from rag.errors import InputError

    prepared = []
    for number, question in enumerate(questions, start=1):
        try:
            prepared.append(prepare_question(question, max_chars))
        except InputError as exc:
            if len(questions) == 1:
                raise
            raise InputError(f"question {number}: {exc}") from None
    return prepared


def print_notices(notices) -> None:
    """Changes made to a question (e.g. it was cut), on stderr so JSON output stays clean."""
    for notice in notices:
        print(f"注意 / note: {notice}", file=sys.stderr)


def print_results(query: str, results) -> None:
    print(f"查询 / query: {query}\n")
    for r in results:
        c = r.chunk
        meta = " · ".join(x for x in (c.source, f"第 {c.page} 版" if c.page else "", c.title or "", c.date or "") if x)
        print(f"[{r.rank}] {r.score:.4f}  {meta}")
        snippet = " ".join(c.text.split())
        print(f"    {snippet[:200]}{'…' if len(snippet) > 200 else ''}\n")
