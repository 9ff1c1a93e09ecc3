"""The `rag` command: one sub-command per module in this package.

Each sub-command module exposes ``add_parser(subparsers)`` and ``run(args, settings) -> int``.
User errors (``RagError``) are printed as one clear line on stderr with a non-zero exit code.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from rag.config import EMBEDDING_BACKENDS, EMBEDDING_QUANTIZATIONS, Settings
from rag.errors import RagError

SUBCOMMANDS = ["ingest", "search", "ask", "eval", "serve", "model"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="rag", description="中文新闻问答助手 / Chinese news question answering with citations.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name in SUBCOMMANDS:
        try:
            module = importlib.import_module(f"rag.cli.{name}_cmd")
        except ModuleNotFoundError as exc:  # a sub-command not built yet
            if exc.name != f"rag.cli.{name}_cmd":
                raise
            continue
        module.add_parser(sub)
    return parser


def add_common_options(parser: argparse.ArgumentParser) -> None:
    """Options every sub-command accepts; they override RAG_* environment variables."""
    parser.add_argument("--index", dest="index_dir", default=None, help="index directory (env RAG_INDEX_DIR, default ./index)")
    parser.add_argument("--model", dest="embedding_model", default=None, help="embedding model: sentence-transformers name or path (env RAG_EMBEDDING_MODEL)")
    parser.add_argument("--cache-dir", dest="cache_dir", default=None, help="model cache directory (env RAG_CACHE_DIR)")
    parser.add_argument("--embedding-backend", choices=EMBEDDING_BACKENDS, default=None, help="auto (default: ONNX Runtime, else torch), onnx or torch (env RAG_EMBEDDING_BACKEND)")
    parser.add_argument("--embedding-quantization", choices=EMBEDDING_QUANTIZATIONS, default=None, help="int8: quantised ONNX model, onnx backend only (env RAG_EMBEDDING_QUANTIZATION)")
    parser.add_argument("--query-quantization", choices=EMBEDDING_QUANTIZATIONS, default=None, help="int8 (default): questions embedded by the int8 ONNX model against fp32 passages; none: by the passages' model (env RAG_QUERY_QUANTIZATION)")


def add_filter_options(parser: argparse.ArgumentParser) -> None:
    """Restrict the search to some articles (rag.store.filters); each overrides its RAG_* variable."""
    group = parser.add_argument_group("filters", "search only some articles (applied inside the search)")
    group.add_argument("--date-from", default=None, help="articles dated on or after this day, YYYY-MM-DD (env RAG_DATE_FROM)")
    group.add_argument("--date-to", default=None, help="articles dated on or before this day, YYYY-MM-DD (env RAG_DATE_TO)")
    group.add_argument("--paper", default=None, help="newspaper name(s), comma-separated, e.g. 株洲日报 (env RAG_PAPER)")
    group.add_argument("--source", default=None, help="source file name(s), comma-separated (env RAG_SOURCE)")


def filter_settings(args: argparse.Namespace, settings: Settings) -> tuple[Settings, object]:
    """The settings with the filter flags applied, and the checked SearchFilter (InputError on a bad date)."""
    settings = settings.replace(date_from=args.date_from, date_to=args.date_to, paper=args.paper, source=args.source)
    return settings, settings.search_filter()


def no_match_message(where) -> str:
    return f"没有符合筛选条件的文章 / no article matches the filter ({where.describe()}): nothing was searched."


def settings_from_args(args: argparse.Namespace) -> Settings:
    from pathlib import Path

    settings = Settings.from_env()
    overrides = {}
    for name in ("index_dir", "cache_dir"):
        value = getattr(args, name, None)
        if value is not None:
            overrides[name] = Path(value).expanduser()
    for name in ("embedding_model", "embedding_backend", "embedding_quantization", "query_quantization"):
        value = getattr(args, name, None)
        if value is not None:
            overrides[name] = value
    return settings.replace(**overrides)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        settings = settings_from_args(args)
        return int(args.handler(args, settings) or 0)
    except RagError as exc:
        print(f"错误 / error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
