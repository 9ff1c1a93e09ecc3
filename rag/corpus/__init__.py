"""The corpus: load files, clean PDF-extracted text, split issues into articles.

``load_path`` reads files into :class:`~rag.records.SourceDocument` records
(:mod:`rag.corpus.loaders`); ``segment_document`` cleans an issue and splits it into
:class:`~rag.records.Article` records (:mod:`rag.corpus.segment`, using the repairs
in :mod:`rag.corpus.clean`).
"""

from __future__ import annotations

from pathlib import Path

from rag.corpus.loaders import load_path, register_loader, supported_files
from rag.corpus import loaders_pdf, loaders_web  # noqa: F401  (register .pdf, page images, .html, .docx)
from rag.corpus.segment import segment_document
from rag.records import Article

__all__ = ["articles_from_path", "load_path", "register_loader", "segment_document", "supported_files"]


def articles_from_path(path: Path) -> list[Article]:
    """Every article of every document under ``path`` (a file or a folder)."""
    return [article for document in load_path(Path(path)) for article in segment_document(document)]
