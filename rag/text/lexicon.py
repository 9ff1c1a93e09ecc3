"""The word lists of ``lexicon.toml``, loaded once: function words, interrogatives by answer
type, units, news-style cues. The file says where each list comes from; code reads them
from here rather than spelling words out."""

from __future__ import annotations

import tomllib
from functools import lru_cache
from pathlib import Path

LEXICON_FILE = Path(__file__).with_name("lexicon.toml")

# Answer types a question word can ask for, in the order they are looked up.
ANSWER_TYPES = ("person", "time", "number", "place", "organisation", "name", "list", "reason", "manner", "thing")


@lru_cache(maxsize=1)
def lexicon() -> dict:
    with LEXICON_FILE.open("rb") as f:
        return tomllib.load(f)


def words(section: str, key: str = "words") -> frozenset[str]:
    """One list of the lexicon as a set of words."""
    return frozenset(lexicon()[section][key].split())


def interrogatives() -> dict[str, str]:
    """Question word → the answer type it asks for."""
    table = lexicon()["interrogatives"]
    return {word: kind for kind in reversed(ANSWER_TYPES) if kind in table for word in table[kind].split()}


def type_nouns() -> dict[str, str]:
    """A generic noun after 什么/哪个 → the answer type it names (时候 → time)."""
    table = lexicon()["interrogatives"]
    return {word: kind for kind in ("time", "place", "person", "organisation") for word in table[f"{kind}_nouns"].split()}


FUNCTION_WORDS = words("function_words")
QUESTION_FRAME = words("question_frame")
LIST_CUES = words("list_cues")
SEVERAL = words("several")
GENERIC_NOUNS = words("generic_nouns")
UNITS = words("units")
ORGANISATION_SUFFIXES = words("organisation_suffixes")
ASPECT_VERBS = words("aspect_verbs")
COPULAS = words("copulas")
ROLE_VERBS = words("role_verbs")
NAMING_VERBS = words("interrogatives", "naming_verbs")
ORGANISATION_NOUNS = tuple(sorted(words("interrogatives", "organisation_nouns")))  # a tuple: str.endswith takes one
PHOTO_CREDIT_WORDS = words("news_style", "photo_credit")
BYLINE_WORDS = words("news_style", "byline")
VENUE_VERBS = words("news_style", "venue_verbs")
INSTRUCTION_TERMS = words("instructions")
AUTHORING_WORDS = words("news_style", "authoring")
DEGREE_PREFIX = lexicon()["interrogatives"]["degree_prefix"]
SAME_MEASURE = tuple(frozenset(group.split()) for group in lexicon()["units"]["same_measure"])
