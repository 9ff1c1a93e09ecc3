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

Every problem a user can cause (a missing, unreadable, empty, binary or undecodable
file, a bad JSONL line, an unsupported suffix, a FIFO) raises :class:`InputError`
naming the file. :func:`list_files`, which finds the files in a folder, never raises for
one bad entry (a symbolic link loop, a folder it cannot list): it lists it with the reason.
"""

from __future__ import annotations

import codecs
import errno
import json
import os
import re
import stat
from dataclasses import dataclass, field
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


@dataclass
class Listing:
    """What a scan of a file or folder found.

    ``files`` are the regular files with a supported suffix, sorted by path. ``skipped``
    holds the entries that look like corpus content but cannot be read as such (a broken or
    looping symbolic link, a FIFO, a linked folder, an unsupported named file), each with a
    one-line reason. ``unlisted`` are folders whose content could not be listed: what they
    hold is unknown, so an index keeps whatever it had from them.
    """

    files: list[Path] = field(default_factory=list)
    skipped: dict[Path, str] = field(default_factory=dict)
    unlisted: list[Path] = field(default_factory=list)


def list_files(path: Path) -> Listing:
    """Find the files :func:`load_path` would read under ``path``, and what was passed over.

    In a folder (searched recursively) hidden entries and files with unsupported suffixes
    are ignored. Symbolic links to files are read; symbolic links to folders are not
    followed (so a folder linked into itself cannot loop) and are reported instead.
    Never raises for a bad entry: every problem ends up in ``skipped``.
    """
    path = Path(path)
    listing = Listing()
    problem = _entry_problem(path, named=True)
    if problem == _FOLDER:
        _walk(path, listing)
    elif problem:
        listing.skipped[path] = problem
        if not path.exists() and not path.is_symlink():
            listing.unlisted.append(path)  # a missing root: say nothing about what it held
    else:
        listing.files.append(path)
    listing.files.sort()
    return listing


_FOLDER = "folder"  # _entry_problem's answer for a folder to walk into


def _entry_problem(path: Path, *, named: bool = False) -> str | None:
    """None for a readable corpus file, :data:`_FOLDER` for a folder to walk, else why it is skipped.

    A ``named`` path (given by the user, not found in a folder) must have a supported
    suffix and may itself be a symbolic link to a folder.
    """
    supported = path.suffix.lower() in _LOADERS
    try:
        info = path.stat()  # follows symbolic links
    except OSError as exc:
        if path.is_symlink():
            if exc.errno == errno.ELOOP:
                return "symbolic link loop (the link points, through other links, back to itself)"
            return f"broken symbolic link (its target {os.readlink(path)} does not exist)"
        return "does not exist" if isinstance(exc, FileNotFoundError) else f"cannot be read: {exc.strerror or exc}"
    if stat.S_ISDIR(info.st_mode):
        if path.is_symlink() and not named:
            return _linked_folder_problem(path)
        return _FOLDER
    if not supported:
        return f"unsupported file type '{path.suffix or '(none)'}'; supported: {', '.join(supported_suffixes())}"
    if not stat.S_ISREG(info.st_mode):
        return "not a regular file (a FIFO, socket or device); only plain files are read"
    return None


def _linked_folder_problem(link: Path) -> str:
    target = link.resolve()
    if target == link.parent.resolve() or target in link.parent.resolve().parents:
        return f"symbolic link loop (a link to the folder {target}, which contains it); not followed"
    return f"symbolic link to a folder ({target}); not followed: name that folder to ingest it"


def _walk(root: Path, listing: Listing) -> None:
    folders = [root]
    while folders:
        folder = folders.pop()
        try:
            with os.scandir(folder) as entries:
                names = [entry.name for entry in entries]
        except OSError as exc:
            listing.skipped[folder] = f"cannot list this folder: {exc.strerror or exc}"
            listing.unlisted.append(folder)
            continue
        for name in names:
            if name.startswith("."):
                continue  # hidden files and folders (.git, editor backups)
            path = folder / name
            supported = path.suffix.lower() in _LOADERS
            problem = _entry_problem(path)
            if problem == _FOLDER:
                folders.append(path)
            elif problem is None:
                listing.files.append(path)
            elif supported or path.is_dir():  # other files are not corpus content: ignored
                listing.skipped[path] = problem


def supported_files(path: Path) -> list[Path]:
    """The files :func:`load_path` would read: ``path`` itself, or a folder's files, sorted.

    In a folder (searched recursively) hidden files and folders and files with
    unsupported suffixes are skipped; an empty list is returned for a folder without
    any. A named file must exist, be a plain file and have a supported suffix.
    """
    path = Path(path)
    listing = list_files(path)
    if not path.exists():
        raise InputError(f"{path} does not exist.")
    if path in listing.unlisted:
        raise InputError(f"Cannot list {path}: {listing.skipped[path]}")
    if not path.is_dir() and path in listing.skipped:
        raise InputError(f"{path.name}: {listing.skipped[path]}.")
    return listing.files


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
        if not stat.S_ISREG(path.stat().st_mode):  # reading a FIFO would block forever
            raise InputError(f"Cannot read {path}: not a regular file.")
        return path.read_bytes()
    except OSError as exc:
        raise InputError(f"Cannot read {path}: {exc.strerror or exc}") from None


# Control characters that do not occur in text (everything below 0x20 except tab, line
# feed, vertical tab, form feed, carriage return and escape, plus DEL).
_CONTROL = re.compile("[\x00-\x08\x0e-\x1a\x1c-\x1f\x7f]")
BINARY_CONTROL_RATIO = 0.05  # more control characters than this: not a text file


def decode(data: bytes, name: str) -> tuple[str, str]:
    """Decode file bytes; returns ``(text, encoding)``.

    Tries, in order: a byte-order mark (UTF-8, UTF-16), strict UTF-8, UTF-8 cut off in
    the middle of its last character (that partial character is dropped), strict GB18030
    (a superset of GBK and GB2312, the usual legacy Chinese encodings), then
    charset-normalizer's best guess. Binary data (NUL bytes) and undecodable bytes are
    an error.
    """
    if data.startswith(codecs.BOM_UTF8):
        text, encoding = _strict(data[len(codecs.BOM_UTF8) :], "utf-8", name), "utf-8-sig"
    elif data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        text, encoding = _strict(data, "utf-16", name), "utf-16"
    elif b"\x00" in data:
        raise InputError(f"{name} is not a text file (it holds NUL bytes, as binary files such as images do).")
    else:
        text, encoding = _guess(data, name)
    return text, encoding


def check_not_binary(text: str, name: str) -> None:
    """Refuse decoded "text" that is mostly control characters: binary data without NUL bytes."""
    controls = len(_CONTROL.findall(text))
    if controls > BINARY_CONTROL_RATIO * max(len(text), 1):
        raise InputError(f"{name} is not a text file ({controls} of its {len(text)} characters are control characters).")


def _guess(data: bytes, name: str) -> tuple[str, str]:
    """Decode bytes without a byte-order mark (see :func:`decode`)."""
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError as exc:
        utf8_error = exc
    if _cut_short_utf8(data, utf8_error):
        return data[: utf8_error.start].decode("utf-8"), "utf-8"
    try:
        return data.decode("gb18030"), "gb18030"
    except UnicodeDecodeError:
        pass
    from charset_normalizer import from_bytes

    best = from_bytes(data).best()
    if best is None:
        raise InputError(
            f"Cannot decode {name}: not UTF-8 ({utf8_error.reason} at byte {utf8_error.start}) nor GB18030, "
            "and its encoding could not be detected. Save it as UTF-8."
        )
    return str(best), best.encoding


def _cut_short_utf8(data: bytes, error: UnicodeDecodeError) -> bool:
    """Whether ``data`` is UTF-8 text whose only flaw is a last character cut in two (a truncated file)."""
    return (
        error.reason == "unexpected end of data"
        and error.end == len(data)
        and len(data) - error.start < 4
        and not data[: error.start].isascii()  # other multi-byte characters decoded: it is UTF-8
    )


def _strict(data: bytes, encoding: str, name: str) -> str:
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as exc:
        if encoding == "utf-8" and _cut_short_utf8(data, exc):
            return data[: exc.start].decode("utf-8")
        raise InputError(f"Cannot decode {name} as {encoding}: {exc.reason} at byte {exc.start}.") from None


def normalize_newlines(text: str) -> str:
    """``\\r\\n`` and lone ``\\r`` become ``\\n``."""
    return text.replace("\r\n", "\n").replace("\r", "\n")


def read_text(path: Path) -> tuple[str, str]:
    """A text file's decoded content with normalised line endings, and its encoding."""
    text, encoding = decode(read_bytes(path), path.name)
    check_not_binary(text, path.name)
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


class JsonlRecordError(InputError):
    """One line of a JSON Lines file is unusable: which line, and what is wrong with it.

    ``problem`` is ``"json"`` (not JSON), ``"object"`` (not an object), ``"text"`` (no
    usable ``text``) or ``"field"`` (``detail`` names a field that is not a string), so
    that callers can word the message their own way (the UI does, in Chinese).
    """

    def __init__(self, name: str, line: int, problem: str, detail: str = ""):
        self.line, self.problem, self.detail = line, problem, detail
        reason = {
            "json": f"not valid JSON ({detail}).",
            "object": "expected a JSON object with a 'text' field.",
            "text": "missing or empty 'text'.",
            "field": f"'{detail}' must be a string.",
        }[problem]
        super().__init__(f"{name} line {line}: {reason}")


@dataclass(frozen=True)
class JsonlRecord:
    """One usable line of a JSON Lines file (optional fields stripped, empty ones None)."""

    line: int
    text: str
    title: str | None = None
    date: str | None = None
    source: str | None = None
    newspaper: str | None = None


def parse_jsonl(raw: str, name: str) -> list[JsonlRecord]:
    """The records of a JSON Lines text; the first bad line raises :class:`JsonlRecordError`."""
    records = []
    for number, line in enumerate(raw.split("\n"), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise JsonlRecordError(name, number, "json", exc.msg) from None
        if not isinstance(record, dict):
            raise JsonlRecordError(name, number, "object")
        text = record.get("text")
        if not isinstance(text, str) or not text.strip():
            raise JsonlRecordError(name, number, "text")
        fields = {}
        for key in ("title", "date", "source", "newspaper"):
            value = record.get(key)
            if value is not None and not isinstance(value, str):
                raise JsonlRecordError(name, number, "field", key)
            fields[key] = value.strip() if value and value.strip() else None
        records.append(JsonlRecord(number, text, **fields))
    return records


@register_loader(".jsonl")
def load_jsonl(path: Path) -> list[SourceDocument]:
    """One document per JSON line: ``text`` required; ``title``, ``date``, ``source``, ``newspaper`` optional.

    A record's source is its own ``source`` or ``<file name>#<line number>``.
    """
    raw, encoding = read_text(path)
    return [
        SourceDocument(
            source=record.source or f"{path.name}#{record.line}",
            text=normalize_newlines(record.text),
            title=record.title,
            date=record.date,
            newspaper=record.newspaper,
            encoding=encoding,
        )
        for record in parse_jsonl(raw, path.name)
    ]
