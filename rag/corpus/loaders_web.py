"""Web pages (``.html``, ``.htm``) and Word documents (``.docx``), one article each.

An HTML page's article body, headline and date come from trafilatura, which drops the
navigation, footers and other boilerplate around it; a page with no article text is an
:class:`InputError`. A Word document's title is its core ``title`` property or its first
Title/Heading paragraph; its text is its paragraphs (and table cells), one per line.
"""

from __future__ import annotations

import re
from pathlib import Path

from rag.corpus.loaders import decode, read_bytes, register_loader
from rag.errors import InputError
from rag.records import SourceDocument

MIN_ARTICLE_CHARS = 20  # an extracted "article" with fewer non-space characters is none


def _enough(text: str) -> bool:
    return len(re.sub(r"\s+", "", text or "")) >= MIN_ARTICLE_CHARS


@register_loader(".html", ".htm")
def load_html(path: Path) -> list[SourceDocument]:
    """The article of a web page (body, title, date), without the page's boilerplate."""
    import trafilatura

    data = read_bytes(path)
    if not data.strip():
        return []
    text, encoding = decode(data, path.name)
    result = trafilatura.bare_extraction(text, with_metadata=True, include_comments=False, include_tables=True,
                                          favor_precision=True)
    found = result.as_dict() if result is not None and hasattr(result, "as_dict") else (result or {})
    body = found.get("text") or ""
    if not _enough(body):
        raise InputError(f"{path.name}: no article found in the page (only navigation or boilerplate, or no text)")
    title = (found.get("title") or "").strip() or None
    lines = [line.strip() for line in body.split("\n")]
    if title and title in lines[:12]:  # the headline: the body starts after it (what precedes is navigation)
        body = "\n".join(lines[lines.index(title) + 1 :])
        if not _enough(body):
            raise InputError(f"{path.name}: no article found in the page (a headline without text)")
    return [SourceDocument(source=path.name, text=body, title=title or _first_line(body), date=found.get("date"),
                           newspaper=(found.get("sitename") or None), encoding=encoding)]


def _first_line(text: str) -> str | None:
    first = text.strip().split("\n", 1)[0].strip()
    return first[:40] or None


@register_loader(".docx")
def load_docx(path: Path) -> list[SourceDocument]:
    """A Word document: its paragraphs and table cells in order, titled by its title."""
    import zipfile

    import docx
    from docx.opc.exceptions import OpcError

    if not path.is_file():
        raise InputError(f"Cannot read {path}: not a regular file.")
    try:
        document = docx.Document(str(path))
    except (zipfile.BadZipFile, KeyError, ValueError, OpcError) as exc:
        raise InputError(f"{path.name}: not a readable Word (.docx) document ({exc})") from None
    except OSError as exc:
        raise InputError(f"Cannot read {path}: {exc.strerror or exc}") from None
    title = (document.core_properties.title or "").strip() or None
    lines = []
    for paragraph in document.paragraphs:
        text = paragraph.text.strip()
        if not text:
            continue
        style = (paragraph.style.name if paragraph.style is not None else "") or ""
        if title is None and (style == "Title" or style.startswith("Heading")):
            title = text
            continue
        if title is not None and text == title and not lines:
            continue
        lines.append(text)
    for table in document.tables:
        for row in table.rows:
            cells = [c.text.strip() for c in row.cells if c.text.strip()]
            if cells:
                lines.append("，".join(dict.fromkeys(cells)))
    text = "\n".join(lines)
    if not text.strip():
        return []
    return [SourceDocument(source=path.name, text=text, title=title, encoding="docx")]
