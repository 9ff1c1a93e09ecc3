"""What a search may be restricted to: a date range, newspapers, source files.

A :class:`SearchFilter` is built once from the user's options (CLI flags, the HTTP
``/ask`` fields, a LangChain ``search_kwargs={"filter": {...}}``) and handed down to the
store, which applies it *inside* the search: a narrow filter still returns ``k`` passages
when ``k`` exist, instead of whatever survives of an unfiltered top ``k``.

Dates are ISO ``YYYY-MM-DD`` strings, as ingestion stores them in ``Chunk.date`` (see
``rag.corpus.segment.normalize_date``), so a range is a plain string comparison and a
chunk without a date never matches a date range.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from typing import Any, Mapping

from rag.errors import InputError
from rag.records import Chunk

_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
# Spellings a user may type for a day; all are turned into ISO.
_LOOSE_DATE = re.compile(r"^(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})日?$")


def parse_date(value: str | None, what: str = "date") -> str | None:
    """``value`` as ISO ``YYYY-MM-DD`` (``2024/6/1`` and ``2024年6月1日`` accepted), None when empty.

    Anything else is an :class:`InputError` naming the option, so the CLI prints one line.
    """
    if value is None or not str(value).strip():
        return None
    text = str(value).strip()
    match = _LOOSE_DATE.match(text)
    try:
        if not match:
            raise ValueError
        return date(*(int(part) for part in match.groups())).isoformat()
    except ValueError:
        raise InputError(f"The {what} {text!r} is not a date; write it as YYYY-MM-DD, e.g. 2024-06-01.") from None


def _names(value: Any) -> tuple[str, ...]:
    """One name, a comma-separated list or a sequence of names → a tuple without blanks."""
    if value is None:
        return ()
    items = value.split(",") if isinstance(value, str) else list(value)
    return tuple(str(item).strip() for item in items if str(item).strip())


@dataclass(frozen=True)
class SearchFilter:
    """Chunks that may be returned: all conditions must hold; an empty field does not restrict."""

    date_from: str | None = None  # ISO, inclusive
    date_to: str | None = None  # ISO, inclusive
    newspapers: tuple[str, ...] = ()  # any of these papers
    sources: tuple[str, ...] = ()  # any of these files (source names, as listed by the index)

    @classmethod
    def build(cls, date_from=None, date_to=None, newspapers=None, sources=None) -> "SearchFilter":
        """Validate and normalise the user's values (dates to ISO); InputError on a bad date or range."""
        start = parse_date(date_from, "start date (--date-from)")
        end = parse_date(date_to, "end date (--date-to)")
        if start and end and start > end:
            raise InputError(f"The date range is empty: {start} is after {end}.")
        return cls(start, end, _names(newspapers), _names(sources))

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any] | "SearchFilter" | None) -> "SearchFilter | None":
        """From a dict such as LangChain's ``{"date_from": "2024-06-01", "newspaper": "株洲日报"}``."""
        if data is None or isinstance(data, SearchFilter):
            return data
        known = {"date_from", "date_to", "newspaper", "newspapers", "paper", "source", "sources"}
        unknown = set(data) - known
        if unknown:
            raise InputError(f"Unknown filter field(s): {', '.join(sorted(unknown))}. Use: date_from, date_to, newspaper, source.")
        papers = data.get("newspapers") or data.get("newspaper") or data.get("paper")
        return cls.build(data.get("date_from"), data.get("date_to"), papers, data.get("sources") or data.get("source"))

    @property
    def is_empty(self) -> bool:
        return not (self.date_from or self.date_to or self.newspapers or self.sources)

    def matches(self, chunk: Chunk) -> bool:
        """Whether ``chunk`` passes (the local store's test; Milvus gets :func:`milvus_expression`)."""
        if self.date_from or self.date_to:
            if not chunk.date or not _ISO_DATE.match(chunk.date):
                return False
            if self.date_from and chunk.date < self.date_from:
                return False
            if self.date_to and chunk.date > self.date_to:
                return False
        if self.newspapers and chunk.newspaper not in self.newspapers:
            return False
        if self.sources and (chunk.file or chunk.source) not in self.sources and chunk.source not in self.sources:
            return False
        return True

    def describe(self) -> str:
        """The filter in words, for the message that says nothing matched."""
        parts = []
        if self.date_from or self.date_to:
            parts.append(f"dated {self.date_from or '…'} to {self.date_to or '…'}")
        if self.newspapers:
            parts.append(f"from {' or '.join(self.newspapers)}")
        if self.sources:
            parts.append(f"in {' or '.join(self.sources)}")
        return ", ".join(parts) or "any article"

    def to_json(self) -> dict[str, Any]:
        return {"date_from": self.date_from, "date_to": self.date_to,
                "newspapers": list(self.newspapers), "sources": list(self.sources)}


def active(where: SearchFilter | None) -> SearchFilter | None:
    """None for no filter or an empty one, so stores take their unfiltered fast path."""
    return None if where is None or where.is_empty else where
