"""The index manifest: what an index was built from and with, stored as JSON.

It lets a later run decide what is unchanged (per-file hashes), and refuse to mix
vectors from different models or on-disk formats. It also holds the SHA-256 of every
other file of its build (``checksums``) and of its own content (the ``checksum`` key),
so a damaged or truncated index file is detected when the index is opened.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from rag.errors import StoreError

FORMAT_VERSION = 2  # 2: checksums of every index file
READABLE_VERSIONS = (1, 2)  # version 1 has no checksums; the next ingest rewrites it as version 2


def processing_fingerprint() -> str:
    """A hash of the code that turns files into chunks and BM25 terms (rag/corpus/*.py,
    rag/chunking.py, the text basics they use, the tokeniser and its stopwords).

    When that code changes, every file is re-chunked on the next ingest, so an index never
    mixes passages cleaned by two versions of the cleaner. Vectors of unchanged chunk texts
    are still reused. Of the lexicon only the stopwords count: its other lists serve
    question analysis, and changing them re-chunks nothing.
    """
    from rag.store.tokenize import STOPWORDS

    package = Path(__file__).resolve().parent.parent
    digest = hashlib.sha256()
    text = package / "text"
    shared = [text / "chars.py", text / "sentences.py", text / "features.py", package / "store" / "tokenize.py"]
    for path in sorted((package / "corpus").glob("*.py")) + [package / "chunking.py"] + shared:
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    digest.update(" ".join(sorted(STOPWORDS)).encode())
    return digest.hexdigest()[:16]


@dataclass
class FileEntry:
    """One ingested source: where it came from, its content hash and what it produced."""

    source: str
    path: str
    sha256: str
    articles: int
    chunks: int
    title: str | None = None
    date: str | None = None
    newspaper: str | None = None


@dataclass
class Manifest:
    embedding_model: str
    dimension: int
    chunk_size: int
    chunk_overlap: int
    model_setting: str = ""  # the RAG_EMBEDDING_MODEL value used, checked before loading any model
    embedding_variant: str = "torch"  # torch | onnx-fp32 | onnx-int8 (Settings.embedding_variant), checked likewise
    processing: str = ""  # fingerprint of the cleaning/segmenting/chunking code (see processing_fingerprint)
    format_version: int = FORMAT_VERSION
    files: dict[str, FileEntry] = field(default_factory=dict)
    built_at: str = ""
    build_seconds: float = 0.0
    dense_index: str = ""  # the FAISS index type in dense.faiss: flat | ivf | hnsw (see rag.store.dense)
    checksums: dict[str, str] = field(default_factory=dict)  # index file (relative path) -> SHA-256

    @property
    def chunk_count(self) -> int:
        return sum(f.chunks for f in self.files.values())

    @property
    def article_count(self) -> int:
        return sum(f.articles for f in self.files.values())

    def to_json(self) -> dict:
        data = asdict(self)
        data["counts"] = {"files": len(self.files), "articles": self.article_count, "chunks": self.chunk_count}
        return data

    @classmethod
    def from_json(cls, data: dict) -> "Manifest":
        data = dict(data)
        data.pop("counts", None)
        files = {name: FileEntry(**entry) for name, entry in data.pop("files", {}).items()}
        return cls(files=files, **data)

    def write(self, path: Path) -> None:
        data = self.to_json()
        data["checksum"] = _content_checksum(data)
        path.write_text(json.dumps(data, ensure_ascii=False, indent=2), encoding="utf-8")

    @classmethod
    def read(cls, path: Path) -> "Manifest":
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise StoreError(f"The index at {path.parent} has no manifest.json. Rebuild it: rag ingest --rebuild") from None
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise StoreError(f"The index manifest {path} is unreadable ({exc}). Rebuild it: rag ingest --rebuild") from None
        version = data.get("format_version") if isinstance(data, dict) else None
        if version not in READABLE_VERSIONS:
            raise StoreError(
                f"The index at {path.parent} uses format version {version}, this program reads version "
                f"{FORMAT_VERSION}. Rebuild it: rag ingest --rebuild"
            )
        stored = data.pop("checksum", None)
        if version >= 2 and stored != _content_checksum(data):
            raise StoreError(
                f"Index file {path.name} in {path.parent} is corrupt (checksum mismatch). Rebuild it: rag ingest --rebuild"
            )
        try:
            return cls.from_json(data)
        except (TypeError, AttributeError) as exc:
            raise StoreError(f"The index manifest {path} is corrupt ({exc}). Rebuild it: rag ingest --rebuild") from None

    @property
    def has_checksums(self) -> bool:
        return self.format_version >= 2

    def check_model(self, model_id: str, dimension: int) -> None:
        """Refuse to query or extend an index built with another embedding model."""
        if _same_vectors_id(self.embedding_model) != _same_vectors_id(model_id) or self.dimension != dimension:
            raise StoreError(
                f"The index was built with embedding model '{self.embedding_model}' (dimension {self.dimension}), "
                f"but the configured model is '{model_id}' (dimension {dimension}). "
                "Rebuild the index with the current model: rag ingest --rebuild "
                "(or set RAG_EMBEDDING_MODEL, RAG_EMBEDDING_BACKEND and RAG_EMBEDDING_QUANTIZATION "
                "back to what the index was built with)."
            )

    def check_settings(self, model_setting: str, embedding_variant: str, index_dir: Path) -> None:
        """Refuse, before any model is loaded, an index built with another model or backend.

        torch and onnx-fp32 give the same vectors; onnx-int8 vectors differ slightly, and
        queries must be encoded like the passages they are compared with.
        """
        if self.model_setting and self.model_setting != model_setting:
            raise StoreError(
                f"The index in {index_dir} was built with embedding model '{self.model_setting}', "
                f"not the configured '{model_setting}'. Rebuild it: rag ingest --rebuild"
            )
        if _vector_kind(self.embedding_variant) != _vector_kind(embedding_variant):
            raise StoreError(
                f"The index in {index_dir} was built with the '{self.embedding_variant}' embedding backend, "
                f"not the configured '{embedding_variant}'. Rebuild it: rag ingest --rebuild "
                f"(or set {VARIANT_SETTINGS.get(self.embedding_variant, 'RAG_EMBEDDING_BACKEND')} to use it as it is)."
            )


def _vector_kind(variant: str) -> str:
    """torch and ONNX Runtime fp32 compute the same vectors (cosine > 0.9999 on every passage)."""
    return "fp32" if variant in ("torch", "onnx-fp32") else variant


def _same_vectors_id(model_id: str) -> str:
    """A model id without the "+onnx-fp32" that indexes built before fp32 shared torch's id carry."""
    return model_id.removesuffix("+onnx-fp32")


# the environment settings that select each embedding variant (see Settings.embedding_variant)
VARIANT_SETTINGS = {
    "torch": "RAG_EMBEDDING_BACKEND=auto RAG_EMBEDDING_QUANTIZATION=none",
    "onnx-fp32": "RAG_EMBEDDING_BACKEND=auto RAG_EMBEDDING_QUANTIZATION=none",
    "onnx-int8": "RAG_EMBEDDING_BACKEND=onnx RAG_EMBEDDING_QUANTIZATION=int8",
}


def _content_checksum(data: dict) -> str:
    """SHA-256 of a manifest's content, independent of key order and indentation."""
    canonical = json.dumps(data, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def file_checksum(path: Path) -> str:
    """SHA-256 of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
