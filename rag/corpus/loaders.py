"""Read corpus files into :class:`SourceDocument` records.

One loader function per format, registered by file suffix::

    @register_loader(".txt")
    def load_text(path: Path) -> list[SourceDocument]: ...

:func:`load_path` takes a file or a folder and dispatches on the suffix. To support a
new format (PDF, DOCX, HTML), add a module holding one decorated loader function,
e.g. ``rag/corpus/loaders_pdf.py``::

    from rag.corpus.loaders import document_from_text, register_loader

    @register_loader(".pdf")
    def load_pdf(path):
        text = extract_text_somehow(path)  # keep line breaks: cleaning relies on them
        return document_from_text(path, text, encoding="pdf")

and import it in ``rag/corpus/__init__.py`` so that it registers itself.

Every problem a user can cause (a missing, unreadable, empty or undecodable file, a
bad JSONL line, an unsupported suffix) raises :class:`InputError` naming the file.
"""

from __future__ import annotations

import codecs
import json
import re
from pathlib import Path
from typing import Callable

from rag.errors import InputError
from rag.records import SourceDocument

Loader = Callable[[Path], list[SourceDocument]]

_LOADERS: dict[str, Loader] = {}


def register_loader(*suffixes: str) -> Callable[[Loader], Loader]:
    """Register the decorated function as the loader for files with these suffixes."""

    def decorate(fn: Loader) -> Loader:
        for suffix in suffixes:
            _LOADERS[suffix.lower()] = fn
        return fn

    return decorate


def supported_suffixes() -> list[str]:
    """The file suffixes a loader is registered for, e.g. ``['.jsonl', '.md', '.txt']``."""
    return sorted(_LOADERS)


# --- finding files -----------------------------------------------------------------------


def _is_hidden(path: Path, root: Path) -> bool:
    return any(part.startswith(".") for part in path.relative_to(root).parts)


def supported_files(path: Path) -> list[Path]:
    """The files :func:`load_path` would read: ``path`` itself, or a folder's files, sorted.

    In a folder (searched recursively) hidden files and folders and files with
    unsupported suffixes are skipped; an empty list is returned for a folder without
    any. A named file must exist and have a supported suffix.
    """
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path} does not exist.")
    if path.is_dir():
        try:
            return sorted(
                p
                for p in path.rglob("*")
                if p.is_file() and p.suffix.lower() in _LOADERS and not _is_hidden(p, path)
            )
        except OSError as exc:
            raise InputError(f"Cannot list {path}: {exc.strerror or exc}") from None
    if path.suffix.lower() not in _LOADERS:
        raise InputError(
            f"{path.name}: unsupported file type '{path.suffix or '(none)'}'; "
            f"supported: {', '.join(supported_suffixes())}."
        )
    return [path]


def load_path(path: Path) -> list[SourceDocument]:
    """Load a file, or every supported file in a folder (recursively, in sorted order).

    A named empty file is an error; empty files found in a folder are skipped.
    """
    path = Path(path)
    files = supported_files(path)
    if path.is_file():
        documents = _load_file(path)
        if not documents:
            raise InputError(f"{path.name} is empty.")
        return documents
    if not files:
        raise InputError(f"{path} holds no supported files ({', '.join(supported_suffixes())}).")
    documents = []
    for file in files:
        documents.extend(_load_file(file))
    return documents


def _load_file(path: Path) -> list[SourceDocument]:
    return _LOADERS[path.suffix.lower()](path)


# --- reading and decoding ----------------------------------------------------------------


def read_bytes(path: Path) -> bytes:
    """The file's bytes, or an :class:`InputError` saying why they cannot be read."""
    try:
        return path.read_bytes()
    except OSError as exc:
        raise InputError(f"Cannot read {path}: {exc.strerror or exc}") from None


def decode(data: bytes, name: str) -> tuple[str, str]:
    """Decode file bytes; returns ``(text, encoding)``.

    Tries, in order: a byte-order mark (UTF-8, UTF-16), strict UTF-8, strict GB18030
    (a superset of GBK and GB2312, the usual legacy Chinese encodings), then
    charset-normalizer's best guess. Binary data and undecodable bytes are an error.
    """
    if data.startswith(codecs.BOM_UTF8):
        return _strict(data[len(codecs.BOM_UTF8) :], "utf-8", name), "utf-8-sig"
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return _strict(data, "utf-16", name), "utf-16"
    if b"\x00" in data:
        raise InputError(f"{name} looks like a binary file, not text.")
    for encoding in ("utf-8", "gb18030"):
        try:
            return data.decode(encoding), encoding
        except UnicodeDecodeError:
            pass
    from charset_normalizer import from_bytes

    best = from_bytes(data).best()
    if best is None:
        raise InputError(f"Cannot decode {name}: not UTF-8 or GB18030, and its encoding could not be detected.")
    return str(best), best.encoding


def _strict(data: bytes, encoding: str, name: str) -> str:
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as exc:
        raise InputError(f"Cannot decode {name} as {encoding}: {exc.reason} at byte {exc.start}.") from None


def normalize_newlines(text: str) -> str:
    """``\\r\\n`` and lone ``\\r`` become ``\\n``."""
    return text.replace("\r\n", "\n").replace("\r", "\n")


def read_text(path: Path) -> tuple[str, str]:
    """A text file's decoded content with normalised line endings, and its encoding."""
    text, encoding = decode(read_bytes(path), path.name)
    return normalize_newlines(text), encoding


def document_from_text(
    path: Path, text: str, *, encoding: str = "utf-8", title: str | None = None
) -> list[SourceDocument]:
    """One document for a whole file, or none if the file holds only whitespace."""
    if not text.strip():
        return []
    return [SourceDocument(source=path.name, text=text, title=title, encoding=encoding)]


# --- formats -----------------------------------------------------------------------------


@register_loader(".txt")
def load_text(path: Path) -> list[SourceDocument]:
    """A plain-text file (e.g. a newspaper issue extracted from PDF) is one document."""
    text, encoding = read_text(path)
    return document_from_text(path, text, encoding=encoding)


# Markdown syntax, each replaced by the text it marks up.
_MD_FENCE = re.compile(r"^\s*(```|~~~).*$", re.MULTILINE)  # code fence lines
_MD_RULE = re.compile(r"^\s*([-*_])(\s*\1){2,}\s*$", re.MULTILINE)  # horizontal rules
_MD_HEADING = re.compile(r"^\s{0,3}#{1,6}\s+(.*?)\s*#*\s*$", re.MULTILINE)  # "## 标题" -> "标题"
_MD_QUOTE = re.compile(r"^\s{0,3}>\s?", re.MULTILINE)  # "> 引文" -> "引文"
_MD_IMAGE = re.compile(r"!\[([^\]]*)\]\([^)]*\)")  # ![alt](src) -> alt
_MD_LINK = re.compile(r"\[([^\]]+)\]\([^)]*\)")  # [text](url) -> text
_MD_EMPHASIS = re.compile(r"(\*\*|__|\*|_|~~)(?=\S)(.+?)(?<=\S)\1")  # **b** *i* __b__ ~~s~~ -> text
_MD_CODE = re.compile(r"`([^`]+)`")  # `code` -> code
_MD_FIRST_HEADING = re.compile(r"^\s{0,3}#\s+(.+?)\s*#*\s*$", re.MULTILINE)


def strip_markdown(text: str) -> str:
    """Plain text from Markdown: markup removed, the marked-up text kept."""
    text = _MD_FENCE.sub("", text)
    text = _MD_RULE.sub("", text)
    text = _MD_HEADING.sub(r"\1", text)
    text = _MD_QUOTE.sub("", text)
    text = _MD_IMAGE.sub(r"\1", text)
    text = _MD_LINK.sub(r"\1", text)
    text = _MD_CODE.sub(r"\1", text)
    return _MD_EMPHASIS.sub(r"\2", text)


@register_loader(".md", ".markdown")
def load_markdown(path: Path) -> list[SourceDocument]:
    """A Markdown file is one document: its plain text, titled by its first ``#`` heading.

    ``text`` is the plain text after removing markup (offsets refer to it).
    """
    raw, encoding = read_text(path)
    first = _MD_FIRST_HEADING.search(raw)
    title = strip_markdown(first.group(1)).strip() if first else None
    return document_from_text(path, strip_markdown(raw), encoding=encoding, title=title or None)


@register_loader(".jsonl")
def load_jsonl(path: Path) -> list[SourceDocument]:
    """One document per JSON line: ``text`` required; ``title``, ``date``, ``source``, ``newspaper`` optional.

    A record's source is its own ``source`` or ``<file name>#<line number>``.
    """
    raw, encoding = read_text(path)
    documents = []
    for number, line in enumerate(raw.split("\n"), start=1):
        if not line.strip():
            continue
        where = f"{path.name} line {number}"
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise InputError(f"{where}: not valid JSON ({exc.msg}).") from None
        if not isinstance(record, dict):
            raise InputError(f"{where}: expected a JSON object with a 'text' field.")
        text = record.get("text")
        if not isinstance(text, str) or not text.strip():
            raise InputError(f"{where}: missing or empty 'text'.")
        fields = {}
        for key in ("title", "date", "source", "newspaper"):
            value = record.get(key)
            if value is not None and not isinstance(value, str):
                raise InputError(f"{where}: '{key}' must be a string.")
            fields[key] = value.strip() if value and value.strip() else None
        documents.append(
            SourceDocument(
                source=fields["source"] or f"{path.name}#{number}",
                text=normalize_newlines(text),
                title=fields["title"],
                date=fields["date"],
                newspaper=fields["newspaper"],
                encoding=encoding,
            )
        )
    return documents
