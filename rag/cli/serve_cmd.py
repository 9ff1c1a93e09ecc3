"""`rag serve [--host H] [--port P] [--allow-remote | --listen-all]`: start the Gradio chat UI.

Listens on 127.0.0.1:7860 unless told otherwise (flags, or RAG_HOST / RAG_PORT).
Any non-loopback address needs ``--allow-remote``; ``--listen-all`` means
``--host 0.0.0.0 --allow-remote``. Set RAG_AUTH="user:password" to require a login.
"""

from __future__ import annotations

import argparse

from rag.cli import add_common_options


def add_serve_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default=None, help="address to listen on (env RAG_HOST, default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=None, help="port (env RAG_PORT, default 7860)")
    parser.add_argument(
        "--allow-remote",
        action="store_true",
        help="allow a non-loopback --host (the UI becomes reachable from other machines; consider RAG_AUTH)",
    )
    parser.add_argument("--listen-all", action="store_true", help="listen on all interfaces: --host 0.0.0.0 --allow-remote")
    parser.add_argument(
        "--open-knowledge-base",
        action="store_true",
        help="beyond localhost without RAG_AUTH, still let anyone who reaches the server upload, delete and re-index",
    )
    add_common_options(parser)


def add_parser(sub) -> None:
    parser = sub.add_parser("serve", help="start the Gradio chat UI (default http://127.0.0.1:7860)")
    add_serve_options(parser)
    parser.set_defaults(handler=run)


def apply_serve_args(args: argparse.Namespace, settings):
    """Settings with --host/--port applied; returns (settings, allow_remote)."""
    host = "0.0.0.0" if args.listen_all else args.host
    return settings.replace(host=host, port=args.port), bool(args.allow_remote or args.listen_all)


def run(args: argparse.Namespace, settings) -> int:
    from rag.ui import serve

    settings, allow_remote = apply_serve_args(args, settings)
    serve(settings, allow_remote=allow_remote, open_knowledge_base=args.open_knowledge_base)
    return 0
