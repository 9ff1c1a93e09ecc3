"""中文新闻问答助手 — the Gradio chat UI.

    python app.py                      # http://127.0.0.1:7860
    python app.py --port 8080
    python app.py --listen-all         # reachable from other machines (set RAG_AUTH too)

Same as `rag serve`. Configuration: flags, or RAG_* environment variables (RAG_HOST,
RAG_PORT, RAG_AUTH="user:password", RAG_INDEX_DIR, RAG_UPLOAD_DIR, …). A missing index
is built on first start. The UI itself lives in rag/ui/.
"""

from __future__ import annotations

import argparse
import sys

from rag.cli import settings_from_args
from rag.cli.serve_cmd import add_serve_options, apply_serve_args
from rag.errors import RagError
from rag.ui import serve


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="中文新闻问答助手（Gradio 界面）")
    add_serve_options(parser)
    args = parser.parse_args(argv)
    try:
        settings, allow_remote = apply_serve_args(args, settings_from_args(args))
        # builds rag.ui.build_app(settings) and launches it, with the /v1 API on the same port
        serve(settings, allow_remote=allow_remote, open_knowledge_base=args.open_knowledge_base)
    except RagError as exc:
        print(f"错误 / error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
