"""The Gradio chat UI: ``build_app(settings)`` makes the Blocks, ``serve(settings)`` checks and launches.

Submodules: ``render`` (answers/sources → escaped HTML), ``chat`` (options → streamed
answers), ``knowledge_base`` (upload checks, ingest, delete), ``feedback`` (vote log),
``layout`` (the Blocks), ``server`` (start-up). Gradio is imported only when needed, so
the pure modules stay cheap to import and test.
"""

from __future__ import annotations

__all__ = ["build_app", "serve"]


def __getattr__(name: str):
    if name == "build_app":
        from rag.ui.layout import build_app

        return build_app
    if name == "serve":
        from rag.ui.server import serve

        return serve
    raise AttributeError(name)
