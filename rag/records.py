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
    page: int | None = None  # the page of a paged file (PDF, scan) this article is printed on, from 1
    bbox: tuple[float, float, float, float] | None = None  # its box on that page (x0, y0, x1, y1, top-down)


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
    page: int | None = None  # see SourceDocument
    bbox: tuple[float, float, float, float] | None = None


@dataclass
class Chunk:
    """A retrievable passage: a run of whole sentences from one article.

    ``chunk_id`` is stable across re-ingests (derived from source, article and text).
    ``start``/``end`` are character offsets of the chunk in the cleaned article text.
    ``file`` is the corpus file it was read from; it differs from ``source`` for JSONL
    records, whose source is their own name or ``<file>#<line>``.
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
    file: str = ""
    page: int | None = None  # the page of a PDF or scan the passage is printed on, from 1
    bbox: list[float] | None = None  # its article's box on that page (x0, y0, x1, y1 from the top left)

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
            **({"file": self.chunk.file or self.chunk.source, "page": self.chunk.page} if self.chunk.page else {}),
        }


@dataclass
class Citation:
    """A passage cited in an answer as ``[n]``; ``support`` holds the answer sentences it backs."""

    n: int
    result: SearchResult
    support: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        data = self.result.to_json()
        data.pop("rank")
        return {"n": self.n, **data}


@dataclass
class Answer:
    """What the answering chain returns. ``to_json`` is the exact `rag ask --json` schema
    (``notices`` appears only when the question was changed, e.g. cut to its maximum length)."""

    question: str
    answer: str
    refused: bool
    citations: list[Citation] = field(default_factory=list)
    contexts: list[SearchResult] = field(default_factory=list)
    timings_ms: dict[str, float] = field(default_factory=dict)
    standalone_question: str | None = None  # the rewritten follow-up, when it differs
    unsupported: list[str] = field(default_factory=list)  # answer sentences no passage supports
    notices: list[str] = field(default_factory=list)  # what was changed in the question (e.g. it was cut)
    reasoning: str = ""  # a reasoning model's thinking, shown collapsed; not part of the answer

    def to_json(self) -> dict[str, Any]:
        contexts = []
        for r in self.contexts:
            item = r.to_json()
            item.pop("rank")
            contexts.append({"n": r.rank, **item})
        return {
            "question": self.question,
            "answer": self.answer,
            "refused": self.refused,
            "citations": [c.to_json() for c in self.citations],
            "contexts": contexts,
            "timings_ms": {k: round(float(v), 2) for k, v in self.timings_ms.items()},
            **({"notices": list(self.notices)} if self.notices else {}),
            **({"reasoning": self.reasoning} if self.reasoning else {}),
        }
