"""Prompt templates: Chinese text files in ``prompts/`` (Settings.prompts_dir), read at run time.

Placeholders use ``{name}`` (Python format syntax); a literal brace in a template is
written ``{{`` / ``}}``. Files are re-read when they change (checked at most once a
second), so templates can be edited without restarting the app.

Passages and the question are data, never instructions: the templates put them between
tags (``<资料 n>`` … ``</资料 n>``, ``<问题>`` … ``</问题>``), and ``inert`` turns every ASCII
angle bracket inside them into a full-width one, so no text from a document or a user
can close its block or open a new one. Only the templates' own tags use ASCII brackets.
"""

from __future__ import annotations

import string
import time
from pathlib import Path

from langchain_core.prompts import ChatPromptTemplate

from rag.errors import RagError

ANSWER_SYSTEM = "answer_system.md"
ANSWER_USER = "answer_user.md"
PASSAGE = "passage.md"
REWRITE = "rewrite.md"
HISTORY_TURN = "history_turn.md"
REFUSAL = "refusal.txt"

RECHECK_SECONDS = 1.0  # how often a cached template's file is checked for changes

_cache: dict[Path, tuple[float, float, str]] = {}  # path → (mtime, when checked, text)


def load_prompt(prompts_dir: Path, name: str) -> str:
    """The text of one template file (stripped of surrounding whitespace)."""
    path = Path(prompts_dir) / name
    now = time.monotonic()
    cached = _cache.get(path)
    if cached and now - cached[1] < RECHECK_SECONDS:
        return cached[2]  # checked a moment ago: skip the file system on busy servers
    try:
        mtime = path.stat().st_mtime
        if cached and cached[0] == mtime:
            _cache[path] = (mtime, now, cached[2])
            return cached[2]
        text = path.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise RagError(f"Prompt template {path} cannot be read ({exc}). Restore it from the repository or set RAG_PROMPTS_DIR.") from None
    if not text:
        raise RagError(f"Prompt template {path} is empty. Restore it from the repository.")
    _cache[path] = (mtime, now, text)
    return text


def placeholders(template: str) -> set[str]:
    """The ``{name}`` fields a template uses."""
    return {field for _, field, _, _ in string.Formatter().parse(template) if field}


def fill(prompts_dir: Path, name: str, **values: object) -> str:
    """Load a template and fill its placeholders; a missing value is a clear error."""
    template = load_prompt(prompts_dir, name)
    missing = placeholders(template) - values.keys()
    if missing:
        raise RagError(f"Prompt template {name} uses unknown placeholders {sorted(missing)}.")
    return template.format(**values)


def refusal_text(prompts_dir: Path) -> str:
    """The fixed answer given when the passages do not answer the question."""
    return load_prompt(prompts_dir, REFUSAL)


def answer_prompt(prompts_dir: Path) -> ChatPromptTemplate:
    """System + user messages for the LLM answerer.

    Variables: ``question``, ``context`` (formatted passages), ``count``, ``max_chars``, ``refusal``.
    """
    return ChatPromptTemplate.from_messages(
        [("system", load_prompt(prompts_dir, ANSWER_SYSTEM)), ("human", load_prompt(prompts_dir, ANSWER_USER))]
    )


def inert(text: str) -> str:
    """``text`` with ASCII angle brackets made full-width (＜ ＞), so it cannot open or close a tag."""
    return text.replace("<", "＜").replace(">", "＞")


def _field(text: str | None) -> str:
    """A one-line header field (source, title, date): inert, on one line."""
    return " ".join(inert(text or "").split()) or "-"


def format_passages(prompts_dir: Path, contexts) -> str:
    """Number and delimit the retrieved passages (``SearchResult``s) for the prompt; their text is made inert."""
    template = load_prompt(prompts_dir, PASSAGE)
    blocks = []
    for r in contexts:
        c = r.chunk
        blocks.append(
            template.format(n=r.rank, source=_field(c.source), title=_field(c.title), date=_field(c.date), text=inert(c.text.strip()))
        )
    return "\n\n".join(blocks)


def format_history(prompts_dir: Path, history) -> str:
    """Earlier turns as text for the rewrite prompt."""
    template = load_prompt(prompts_dir, HISTORY_TURN)
    return "\n".join(template.format(user=u, assistant=a) for u, a in history)
