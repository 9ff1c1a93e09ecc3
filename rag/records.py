"""Plain records that flow through the pipeline: load → clean → segment → chunk → index → retrieve."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class SourceDocument:
    """One loaded file (or one JSONL record) before cleaning.

    ``text`` is the decoded source text exactly as read. ``source`` is the corpus file
    name (no directories), the name every citation shows.
    """

    source: str
    text: str
    title: str | None = None
    date: str | None = None
    newspaper: str | None = None
    encoding: str = "utf-8"


@dataclass
class Article:
    """One article recovered from a source document, with cleaned text.

    ``start``/``end`` are character offsets of the article in the source document's
    decoded text, so a user can find the passage in the original file.
    """

    source: str
    text: str
    title: str | None = None
    date: str | None = None
    newspaper: str | None = None
    index: int = 0
    start: int = 0
    end: int = 0


@dataclass
class Chunk:
    """A retrievable passage: a run of whole sentences from one article.

    ``chunk_id`` is stable across re-ingests (derived from source, article and text).
    ``start``/``end`` are character offsets of the chunk in the cleaned article text.
    """

    chunk_id: str
    text: str
    source: str
    title: str | None = None
    date: str | None = None
    newspaper: str | None = None
    article_index: int = 0
    position: int = 0
    start: int = 0
    end: int = 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Chunk":
        known = {f for f in cls.__dataclass_fields__}
        return cls(**{k: v for k, v in data.items() if k in known})


@dataclass
class SearchResult:
    """A chunk returned by retrieval, with its rank (1-based) and score."""

    chunk: Chunk
    score: float
    rank: int = 0
    scores: dict[str, float] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """The public JSON shape shared by `rag search --json` and `rag ask --json`."""
        return {
            "rank": self.rank,
            "chunk_id": self.chunk.chunk_id,
            "source": self.chunk.source,
            "title": self.chunk.title,
            "date": self.chunk.date,
            "text": self.chunk.text,
            "score": float(self.score),
        }
