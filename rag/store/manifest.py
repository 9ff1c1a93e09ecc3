"""The index manifest: what an index was built from and with, stored as JSON.

It lets a later run decide what is unchanged (per-file hashes), and refuse to mix
vectors from different models or on-disk formats.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from rag.errors import StoreError

FORMAT_VERSION = 1


def processing_fingerprint() -> str:
    """A hash of the code that turns files into chunks (rag/corpus/*.py and rag/chunking.py).

    When that code changes, every file is re-chunked on the next ingest, so an index never
    mixes passages cleaned by two versions of the cleaner. Vectors of unchanged chunk texts
    are still reused.
    """
    import hashlib

    package = Path(__file__).resolve().parent.parent
    digest = hashlib.sha256()
    for path in sorted((package / "corpus").glob("*.py")) + [package / "chunking.py"]:
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
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
    processing: str = ""  # fingerprint of the cleaning/segmenting/chunking code (see processing_fingerprint)
    format_version: int = FORMAT_VERSION
    files: dict[str, FileEntry] = field(default_factory=dict)
    built_at: str = ""
    build_seconds: float = 0.0

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
        path.write_text(json.dumps(self.to_json(), ensure_ascii=False, indent=2), encoding="utf-8")

    @classmethod
    def read(cls, path: Path) -> "Manifest":
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise StoreError(f"The index at {path.parent} has no manifest.json. Rebuild it: rag ingest --rebuild") from None
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise StoreError(f"The index manifest {path} is unreadable ({exc}). Rebuild it: rag ingest --rebuild") from None
        version = data.get("format_version") if isinstance(data, dict) else None
        if version != FORMAT_VERSION:
            raise StoreError(
                f"The index at {path.parent} uses format version {version}, this program reads version "
                f"{FORMAT_VERSION}. Rebuild it: rag ingest --rebuild"
            )
        try:
            return cls.from_json(data)
        except TypeError as exc:
            raise StoreError(f"The index manifest {path} is corrupt ({exc}). Rebuild it: rag ingest --rebuild") from None

    def check_model(self, model_id: str, dimension: int) -> None:
        """Refuse to query or extend an index built with another embedding model."""
        if self.embedding_model != model_id or self.dimension != dimension:
            raise StoreError(
                f"The index was built with embedding model '{self.embedding_model}' (dimension {self.dimension}), "
                f"but the configured model is '{model_id}' (dimension {dimension}). "
                "Rebuild the index with the current model: rag ingest --rebuild "
                "(or set RAG_EMBEDDING_MODEL back to the model the index was built with)."
            )
