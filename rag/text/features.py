"""Normalised text forms compared across retrieval and answering: NFKC without spaces,
character bigrams, and set overlaps. Pure functions, cached per text.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

# a four-digit year: 2025年, 2025 年, 2025—2030
YEAR = re.compile(r"(?<!\d)((?:19|20)\d{2})(?!\d)")

# The same passage sentences are compared with every question, so both forms are cached.
CACHED_TEXTS = 1 << 16


@lru_cache(maxsize=CACHED_TEXTS)
def normalize(text: str) -> str:
    """NFKC, no whitespace: the form used to compare answer text with passages."""
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", text))


@lru_cache(maxsize=CACHED_TEXTS)
def bigrams(text: str) -> frozenset[str]:
    """Character bigrams of the CJK/alphanumeric runs of ``text`` (punctuation ignored)."""
    grams: set[str] = set()
    for run in re.findall(r"[\u3400-\u9fffA-Za-z0-9%.]+", normalize(text)):
        if len(run) == 1:
            grams.add(run)
        grams.update(run[i : i + 2] for i in range(len(run) - 1))
    return frozenset(grams)


def jaccard(a: set[str], b: set[str]) -> float:
    return len(a & b) / len(a | b) if a and b else 0.0


def containment(part: set[str] | frozenset[str], whole: set[str] | frozenset[str]) -> float:
    """Share of ``part``'s items found in ``whole``."""
    return len(part & whole) / len(part) if part else 0.0
