"""Character classes of Chinese text: the one place that says what counts as CJK.

Cleaning, segmentation, sentence splitting, bigrams, tokenisation and file-name checks
all read these, so they agree on what a Chinese character and a full-width mark are.
"""

from __future__ import annotations

import re

# CJK ideographs: extension A, the unified block and the compatibility block.
CJK = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
# Full-width punctuation: CJK symbols and punctuation, full-width forms (not letters or
# digits), vertical forms (﹃﹄), curly quotes, "…", "—" and "·".
CJK_PUNCT = (
    "\u3000-\u303f\uff01-\uff0f\uff1a-\uff20\uff3b-\uff40\uff5b-\uff65\ufe10-\ufe1f\ufe30-\ufe4f"
    "\u2018\u2019\u201c\u201d\u2026\u2014\u00b7"
)

CJK_CHAR = re.compile(f"[{CJK}]")
CJK_PUNCT_CHAR = re.compile(f"[{CJK_PUNCT}]")
# Runs of characters that carry words: CJK ideographs, Latin letters and digits.
WORD_RUN = re.compile(f"[{CJK}A-Za-z0-9]+")
# Word runs as texts are compared: percent signs and decimal points stay inside, so "30%"
# and "3.5" keep their character pairs.
COMPARED_RUN = re.compile(f"[{CJK}A-Za-z0-9%.]+")
# Runs of two or more CJK ideographs (the runs BM25 takes character pairs from).
CJK_RUN = re.compile(f"[{CJK}]{{2,}}")


def is_cjk(ch: str) -> bool:
    return bool(CJK_CHAR.match(ch))


def is_cjk_punct(ch: str) -> bool:
    return bool(CJK_PUNCT_CHAR.match(ch))


def has_word_character(text: str) -> bool:
    """Whether ``text`` holds a CJK ideograph, a Latin letter or a digit (not only punctuation)."""
    return bool(WORD_RUN.search(text))
