"""What a user typed → a question the pipeline can use, or a clear ``InputError``.

Every entry point (the answering chain, `rag ask`, `rag search`, the chat UI) passes the
question through ``prepare_question``:

- control characters and invisible formatting characters (NUL, whole terminal escape
  sequences, zero-width and bidirectional marks, lone surrogates) are removed;
  tabs, line breaks and runs of spaces become one space;
- an empty question is an error;
- a question without a single letter or digit (only punctuation, symbols or emoji) is
  an error: there is nothing to search for;
- a question longer than ``max_chars`` (Settings.question_max_chars) is cut to that
  length, and a notice for the user says so.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from rag.errors import InputError

EMPTY_QUESTION = "请输入问题，例如：太钢的碳中和目标是什么 / The question is empty: type a question."
NOTHING_TO_SEARCH = (
    "问题中没有可检索的内容（只有标点、符号或表情），请用文字提问，例如：太钢的碳中和目标是什么 / "
    "The question has no words to search for: ask in words."
)

# Unicode categories removed from questions: control, format (zero-width, bidi), surrogate, private use.
_REMOVED_CATEGORIES = ("Cc", "Cf", "Cs", "Co")
# Terminal escape sequences (colours, cursor moves, titles) go whole, not just their ESC:
# "\x1b[31m" would otherwise leave "[31m", and 31 would be searched for as a number.
_TERMINAL_ESCAPE = re.compile(r"\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)?|[ -/]*[0-~])")


@dataclass(frozen=True)
class PreparedQuestion:
    text: str
    notices: tuple[str, ...] = ()  # what was changed, for the user (e.g. the question was cut)


def strip_control(text: str) -> str:
    """``text`` without control or invisible formatting characters; whitespace runs become one space."""
    kept = []
    for ch in _TERMINAL_ESCAPE.sub("", text):
        if ch.isspace():
            kept.append(" ")
        elif unicodedata.category(ch) not in _REMOVED_CATEGORIES:
            kept.append(ch)
    return " ".join("".join(kept).split())


def has_searchable_content(text: str) -> bool:
    """Whether ``text`` holds at least one letter or digit (Chinese characters are letters)."""
    return any(unicodedata.category(ch)[0] in "LN" for ch in text)


def prepare_question(raw: str | None, max_chars: int | None = None) -> PreparedQuestion:
    """The cleaned question (cut to ``max_chars`` when longer); ``InputError`` when nothing usable is left."""
    text = strip_control(raw or "")
    if not text:
        raise InputError(EMPTY_QUESTION)
    notices: tuple[str, ...] = ()
    if max_chars is not None and max_chars > 0 and len(text) > max_chars:
        notices = (truncation_notice(len(text), max_chars),)
        text = text[:max_chars].rstrip()
    if not has_searchable_content(text):
        raise InputError(NOTHING_TO_SEARCH)
    return PreparedQuestion(text, notices)


def truncation_notice(length: int, max_chars: int) -> str:
    return f"问题过长（{length} 字），只使用了前 {max_chars} 字。/ The question had {length} characters; only the first {max_chars} were used."
