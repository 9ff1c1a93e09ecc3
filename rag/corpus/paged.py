"""What paged formats (PDF, page images) need besides the file: limits, OCR switch, progress.

Loaders take only a path, so the ingest sets these for the files it reads::

    with reading(settings, progress):
        documents = load_path(path)

Outside such a block the defaults of :class:`~rag.config.Settings` (and its RAG_*
environment variables) apply.
"""

from __future__ import annotations

import contextvars
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

# page_progress(file name, page done, pages, how: "text" | "ocr" | "ocr (cached)")
PageProgress = Callable[[str, int, int, str], None]


@dataclass(frozen=True)
class PageLimits:
    max_pages: int = 500
    max_pixels: int = 50_000_000
    max_stream_bytes: int = 256 * 1024 * 1024
    ocr: bool = True
    ocr_cache: Path | None = None
    progress: PageProgress | None = None

    @classmethod
    def from_settings(cls, settings, progress: PageProgress | None = None) -> "PageLimits":
        return cls(
            max_pages=settings.max_pdf_pages,
            max_pixels=settings.max_image_pixels,
            max_stream_bytes=settings.max_pdf_stream_bytes,
            ocr=str(settings.ocr).strip().lower() not in ("off", "0", "false", "no"),
            ocr_cache=settings.cache_dir / "ocr",
            progress=progress,
        )


_current: contextvars.ContextVar[PageLimits | None] = contextvars.ContextVar("page_limits", default=None)


def current() -> PageLimits:
    limits = _current.get()
    if limits is None:
        from rag.config import Settings

        limits = PageLimits.from_settings(Settings.from_env())
    return limits


@contextmanager
def reading(settings, progress: PageProgress | None = None) -> Iterator[PageLimits]:
    token = _current.set(PageLimits.from_settings(settings, progress))
    try:
        yield _current.get()
    finally:
        _current.reset(token)


def report(name: str, done: int, total: int, how: str) -> None:
    progress = current().progress
    if progress is not None:
        progress(name, done, total, how)
