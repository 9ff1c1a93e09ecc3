"""The knowledge base behind the UI: validate and save uploads, ingest, delete, re-index.

Upload rules (checked before anything touches the index):

- type: the suffix is ``.txt``, ``.md``, ``.jsonl``, ``.html``/``.htm`` and the bytes decode as
  text (UTF-8 or GB18030, no NUL bytes; a ``.jsonl`` file holds one JSON object per line),
  or ``.pdf``, ``.docx``, ``.png``, ``.jpg``/``.jpeg``, ``.tif``/``.tiff`` and the file starts
  as that format does (what is inside is checked by the ingest, which says why a file failed);
- size: at most ``Settings.upload_max_bytes``, and not empty;
- name: reduced to a safe base name (no directories, no leading dots, only letters,
  digits, Chinese characters, ``_``, ``-`` and ``.``), saved inside ``Settings.upload_dir``.

Every change ends by reloading the shared searcher, so new documents are searchable at
once. Changes are serialised: one knowledge-base operation at a time per process (the
store's file lock also guards against a CLI ingest running beside the UI).
"""

from __future__ import annotations

import os
import re
import threading
import unicodedata
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from rag.config import Settings
from rag.corpus.loaders import JsonlRecordError, decode, parse_jsonl
from rag.errors import InputError
from rag.text.chars import CJK

ALLOWED_SUFFIXES = (".txt", ".md", ".jsonl", ".html", ".htm", ".pdf", ".docx", ".png", ".jpg", ".jpeg", ".tif", ".tiff")
# binary formats: the bytes a file of that type starts with
MAGIC = {
    ".pdf": (b"%PDF",),
    ".docx": (b"PK\x03\x04",),
    ".png": (b"\x89PNG\r\n\x1a\n",),
    ".jpg": (b"\xff\xd8\xff",),
    ".jpeg": (b"\xff\xd8\xff",),
    ".tif": (b"II*\x00", b"MM\x00*"),
    ".tiff": (b"II*\x00", b"MM\x00*"),
}
FORMAT_NAMES = {".pdf": "PDF", ".docx": "Word 文档", ".png": "PNG 图片", ".jpg": "JPEG 图片", ".jpeg": "JPEG 图片",
                ".tif": "TIFF 图片", ".tiff": "TIFF 图片"}
MAX_STEM_CHARS = 80

# progress(fraction, description) — the UI adapts this to gr.Progress
ProgressFn = Callable[[float, str], None]

_kb_lock = threading.Lock()

# letters and digits (ASCII), CJK ideographs (incl. extension A and compatibility), _ - .
_UNSAFE = re.compile(f"[^0-9A-Za-z_\\-.{CJK}]+")


class UploadRejected(InputError):
    """An uploaded file that breaks a rule; the message says which, in Chinese."""


# --- pure checks ---------------------------------------------------------------------


def safe_filename(name: str) -> str:
    """A file name that is safe to create inside the upload folder.

    Only the base name is kept (``/`` and ``\\`` both separate directories), characters
    other than letters, digits, Chinese characters, ``_``, ``-`` and ``.`` become ``_``,
    runs of dots collapse (no ``..``), leading and trailing dots/underscores/dashes go,
    and the suffix is lower-cased. An empty result becomes ``upload``.
    """
    name = unicodedata.normalize("NFKC", name or "")
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if ch.isprintable())
    stem, dot, suffix = name.rpartition(".")
    if not dot:
        stem, suffix = name, ""
    suffix = re.sub(r"[^0-9a-z]", "", suffix.lower())
    stem = _UNSAFE.sub("_", stem)
    stem = re.sub(r"\.{2,}", ".", stem)
    stem = re.sub(r"_{2,}", "_", stem)
    stem = stem.strip("._- ")[:MAX_STEM_CHARS].rstrip("._- ")
    if not stem:
        stem = "upload"
    return f"{stem}.{suffix}" if suffix else stem


def check_name(name: str) -> str:
    """The safe name for an upload, or ``UploadRejected`` when its type is not allowed."""
    safe = safe_filename(name)
    suffix = Path(safe).suffix
    if suffix not in ALLOWED_SUFFIXES:
        raise UploadRejected(f"{safe}：不支持的文件类型（仅支持 {' / '.join(ALLOWED_SUFFIXES)}）")
    return safe


def check_size(name: str, size: int, max_bytes: int) -> None:
    if size <= 0:
        raise UploadRejected(f"{name}：文件为空")
    if size > max_bytes:
        raise UploadRejected(f"{name}：文件过大（{_human(size)}），上限为 {_human(max_bytes)}")


def decode_text(name: str, data: bytes) -> str:
    """Decode an upload as text (UTF-8 with or without BOM, GB18030, or a detected encoding), or reject it."""
    if b"\x00" in data:
        raise UploadRejected(f"{name}：不是文本文件（含有二进制内容）")
    try:
        text, _encoding = decode(data, name)  # the same detection the corpus loader uses
    except InputError:
        raise UploadRejected(f"{name}：无法识别文本编码（请使用 UTF-8 或 GBK/GB18030）") from None
    controls = sum(1 for ch in text if unicodedata.category(ch) == "Cc" and ch not in "\t\n\r\f")
    if controls > max(2, len(text) // 100):
        raise UploadRejected(f"{name}：不是文本文件（控制字符过多）")
    if not text.strip():
        raise UploadRejected(f"{name}：文件没有文字内容")
    return text


JSONL_PROBLEMS = {
    "json": "不是合法的 JSON（{detail}）",
    "object": "应为 JSON 对象",
    "text": "缺少正文：每行都需要非空的 \"text\" 字段",
    "field": "字段 \"{detail}\" 应为字符串",
}


def check_jsonl(name: str, text: str) -> None:
    """The loader's own record checks (rag/corpus/loaders.parse_jsonl), worded in Chinese."""
    try:
        parse_jsonl(text, name)
    except JsonlRecordError as exc:
        problem = JSONL_PROBLEMS[exc.problem].format(detail=exc.detail)
        raise UploadRejected(f"{name}：第 {exc.line} 行{problem}") from None


def validate_upload(name: str, data: bytes, max_bytes: int) -> str:
    """Run every upload check on an original file name and its bytes; return the safe name."""
    safe = check_name(name)
    check_size(safe, len(data), max_bytes)
    suffix = Path(safe).suffix
    if suffix in MAGIC:
        if not data.lstrip()[:1024].startswith(MAGIC[suffix]) and not (suffix == ".pdf" and b"%PDF-" in data[:1024]):
            raise UploadRejected(f"{safe}：不是 {FORMAT_NAMES[suffix]}（文件内容与扩展名不符）")
        return safe
    text = decode_text(safe, data)
    if safe.endswith(".jsonl"):
        check_jsonl(safe, text)
    return safe


def _human(size: int) -> str:
    if size >= 1024 * 1024:
        return f"{size / 1024 / 1024:.1f} MB"
    if size >= 1024:
        return f"{size / 1024:.1f} KB"
    return f"{size} B"


def _inside(path: Path, folder: Path) -> bool:
    try:
        path.resolve().relative_to(folder.resolve())
        return True
    except (ValueError, OSError):
        return False


# --- saving --------------------------------------------------------------------------


def target_path(safe_name: str, settings: Settings, indexed: dict[str, str]) -> Path:
    """Where to save an upload: ``upload_dir/<safe_name>``, renamed when it would clash.

    Re-uploading a file of the same name replaces the earlier upload (the index sees a
    changed file). A name already used by a document that lives elsewhere (the bundled
    corpus, a CLI ingest) gets a ``_2``, ``_3``… suffix: source names must be unique.
    """
    upload_dir = settings.upload_dir
    stem, suffix = Path(safe_name).stem, Path(safe_name).suffix
    taken = {name for name, path in indexed.items() if path and not _inside(Path(path), upload_dir)}
    if settings.corpus_dir.is_dir():
        taken |= {p.name for p in settings.corpus_dir.rglob("*") if p.is_file()}
    candidate, n = safe_name, 1
    while candidate in taken:
        n += 1
        candidate = f"{stem}_{n}{suffix}"
    target = (upload_dir / candidate).resolve()
    if not _inside(target, upload_dir) or target.parent != upload_dir.resolve():
        raise UploadRejected(f"{safe_name}：非法的文件名")
    return target


def _write_atomic(target: Path, data: bytes) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    temp = target.parent / f".{target.name}.{uuid.uuid4().hex[:8]}.part"
    try:
        temp.write_bytes(data)
        os.replace(temp, target)
    finally:
        if temp.exists():
            temp.unlink()


# --- operations ----------------------------------------------------------------------


@dataclass
class KBResult:
    """What one knowledge-base operation did, for the status line."""

    saved: list[str] = field(default_factory=list)
    rejected: list[str] = field(default_factory=list)  # messages
    report: object | None = None  # rag.store.IngestReport
    removed_file: bool = False

    def message(self) -> str:
        lines = []
        report = self.report
        if self.saved:
            lines.append(f"✅ 已加入：{'、'.join(self.saved)}")
        if report is not None and getattr(report, "failed", None):
            for name, error in report.failed.items():
                lines.append(f"❌ {name}：未加入（{error}）")
        lines += [f"❌ {message}" for message in self.rejected]
        if report is not None:
            lines.append(
                f"索引：{report.files} 个文档 · {report.chunks} 个段落"
                f"（新嵌入 {report.embedded_chunks} 段，用时 {report.seconds:.1f} 秒）"
            )
        return "\n\n".join(lines) if lines else "没有可处理的文件。"  # one Markdown paragraph each


def indexed_files(settings: Settings) -> dict[str, str]:
    """Source name → file path for every document in the index (empty when none)."""
    from rag.store.factory import read_manifest

    manifest = read_manifest(settings)
    return {} if manifest is None else {name: entry.path for name, entry in manifest.files.items()}


def add_documents(files: list[Path], settings: Settings, progress: ProgressFn | None = None) -> KBResult:
    """Validate uploaded files, save the good ones into the upload folder, ingest them."""
    from rag.store import ingest

    result = KBResult()
    with _kb_lock:
        accepted: list[tuple[Path, bytes]] = []
        indexed = indexed_files(settings)
        for file in files:
            file = Path(file)
            original = file.name
            try:
                safe = check_name(original)
                size = file.stat().st_size
                check_size(safe, size, settings.upload_max_bytes)  # before reading it all
                data = file.read_bytes()
                safe = validate_upload(original, data, settings.upload_max_bytes)
                target = target_path(safe, settings, indexed)
            except UploadRejected as exc:
                result.rejected.append(str(exc))
                continue
            except OSError as exc:
                result.rejected.append(f"{original}：无法读取（{exc.strerror}）")
                continue
            if any(t == target for t, _ in accepted):
                result.rejected.append(f"{target.name}：同名文件重复上传，已忽略")
                continue
            accepted.append((target, data))
        if not accepted:
            return result
        for target, data in accepted:
            _write_atomic(target, data)
        if progress:
            progress(0.0, "正在切分并嵌入新文档…")
        report = ingest([t for t, _ in accepted], settings, progress=_adapt(progress))
        for target, _ in accepted:
            if target.name in report.failed:
                target.unlink(missing_ok=True)  # unusable: keep it out of later re-indexes
            else:
                result.saved.append(target.name)
        result.report = report
        _reload(settings)
    return result


def delete_document(source: str, settings: Settings) -> KBResult:
    """Remove a document from FAISS and BM25; delete its file when it was uploaded here."""
    from rag.store import remove_sources

    if not source:
        raise InputError("请先选择要删除的文档。")
    result = KBResult()
    with _kb_lock:
        path = indexed_files(settings).get(source)
        result.report = remove_sources([source], settings)
        if path and _inside(Path(path), settings.upload_dir) and Path(path).is_file():
            Path(path).unlink()
            result.removed_file = True
        drop_empty_upload_dir(settings)
        _reload(settings)
    return result


def reindex(settings: Settings, progress: ProgressFn | None = None) -> KBResult:
    """Rebuild the index from scratch: the bundled corpus plus everything uploaded."""
    from rag.store import ingest

    result = KBResult()
    with _kb_lock:
        drop_empty_upload_dir(settings)
        if progress:
            progress(0.0, "正在重建索引…")
        result.report = ingest(None, settings, rebuild=True, progress=_adapt(progress))
        _reload(settings)
    return result


def document_rows(settings: Settings) -> list[list[object]]:
    """Rows for the documents table: file, title, date, chunks, where it came from."""
    from rag.store.factory import read_manifest

    manifest = read_manifest(settings)
    if manifest is None:
        return []
    rows = []
    for entry in sorted(manifest.files.values(), key=lambda e: e.source):
        origin = "上传" if entry.path and _inside(Path(entry.path), settings.upload_dir) else "语料库"
        rows.append([entry.source, entry.title or "", entry.date or "", entry.chunks, origin])
    return rows


def newspapers(settings: Settings) -> list[str]:
    """The newspapers the indexed files name, for the chat's filter panel."""
    from rag.store.factory import read_manifest

    manifest = read_manifest(settings)
    return [] if manifest is None else sorted({e.newspaper for e in manifest.files.values() if e.newspaper})


def drop_empty_upload_dir(settings: Settings) -> None:
    """Remove the upload folder when nothing is in it: a re-index scans it only while it exists,
    and an empty folder given to the loader is an error."""
    folder = settings.upload_dir
    try:
        if folder.is_dir() and not any(folder.iterdir()):
            folder.rmdir()
    except OSError:
        pass


def _adapt(progress: ProgressFn | None):
    if progress is None:
        return None

    def report(stage: str, done: int, total: int) -> None:
        fraction = done / total if total else 1.0
        if stage == "page":
            progress(fraction, f"读取页面 {done}/{total}")
            return
        label = "嵌入" if stage == "embedding" else stage
        progress(fraction, f"{label} {done}/{total} 段")

    return report


def _reload(settings: Settings) -> None:
    """Reload the shared searcher so the change is visible to the next question."""
    from rag.retrieval import load_searcher

    load_searcher(settings, reload=True)
