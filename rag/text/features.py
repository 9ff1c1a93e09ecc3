"""Normalised text forms compared across retrieval and answering: NFKC without spaces,
character bigrams, and set overlaps. Pure functions, cached per text.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

from rag.text.chars import COMPARED_RUN

# a four-digit year: 2025年, 2025 年, 2025—2030
YEAR = re.compile(r"(?<!\d)((?:19|20)\d{2})(?!\d)")
# a number as written in digits: 83, 0.01, 30.77
NUMBER = re.compile(r"\d+(?:\.\d+)?")

# The same passage sentences are compared with every question, so both forms are cached.
CACHED_TEXTS = 1 << 16


@lru_cache(maxsize=CACHED_TEXTS)
def normalize(text: str) -> str:
    """NFKC, no whitespace: the form used to compare answer text with passages."""
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", text))


def bigram_sequence(text: str, runs: re.Pattern = COMPARED_RUN) -> list[str]:
    """The character pairs inside each run of ``text`` that ``runs`` matches, in order, repeats kept.

    BM25 counts them (``runs=CJK_RUN``: pairs of Chinese characters only); the set form
    below compares texts.
    """
    return [run[i : i + 2] for run in runs.findall(text) for i in range(len(run) - 1)]


@lru_cache(maxsize=CACHED_TEXTS)
def bigrams(text: str) -> frozenset[str]:
    """The set of character pairs of ``text``'s normalised word runs (a one-character run counts as itself).

    Punctuation separates runs, so pairs never straddle it.
    """
    grams: set[str] = set()
    for run in COMPARED_RUN.findall(normalize(text)):
        if len(run) == 1:
            grams.add(run)
        grams.update(run[i : i + 2] for i in range(len(run) - 1))
    return frozenset(grams)


def jaccard(a: set[str], b: set[str]) -> float:
    return len(a & b) / len(a | b) if a and b else 0.0


def containment(part: set[str] | frozenset[str], whole: set[str] | frozenset[str]) -> float:
    """Share of ``part``'s items found in ``whole``."""
    return len(part & whole) / len(part) if part else 0.0
