"""👍/👎 votes on answers, appended to a JSON Lines log for building evaluation sets.

One line per vote::

    {"timestamp": "2025-01-05T08:00:00+00:00", "vote": "up", "answer_id": "…",
     "question": "…", "standalone_question": "…", "answer": "…", "refused": false,
     "citations": [...], "contexts": [...], "history": [["…", "…"]], "options": {...}}

``vote`` is ``up``, ``down`` or ``retracted`` (the user clicked the same thumb again);
the last line for an ``answer_id`` is the user's final word.
"""

from __future__ import annotations

import json
import os
import threading
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from rag.errors import InputError

VOTES = ("up", "down", "retracted")

_lock = threading.Lock()


def vote_from_liked(liked: Any) -> str:
    """Map Gradio's ``LikeData.liked`` (True, False, or "" when a vote is undone) to a vote."""
    if liked is True:
        return "up"
    if liked is False:
        return "down"
    return "retracted"


def feedback_record(turn: dict[str, Any], vote: str, *, now: datetime | None = None) -> dict[str, Any]:
    """The log line for one vote on one chat turn (as kept in the UI's session state)."""
    if vote not in VOTES:
        raise InputError(f"Unknown vote {vote!r}; expected one of {', '.join(VOTES)}.")
    answer = turn.get("answer_json") or {}
    timestamp = (now or datetime.now(timezone.utc)).isoformat(timespec="seconds")
    return {
        "timestamp": timestamp,
        "vote": vote,
        "answer_id": turn.get("id"),
        "question": turn.get("question", answer.get("question")),
        "standalone_question": turn.get("standalone_question"),
        "answer": answer.get("answer", turn.get("answer")),
        "refused": answer.get("refused"),
        "citations": answer.get("citations", []),
        "contexts": answer.get("contexts", []),
        "history": turn.get("history", []),
        "options": turn.get("options", {}),
    }


def append_feedback(path: Path, record: dict[str, Any]) -> None:
    """Append one record as one line; safe with concurrent voters in one process."""
    line = json.dumps(record, ensure_ascii=False, default=str) + "\n"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with _lock:
            # O_APPEND: each write lands whole at the end, even with other writers
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
            try:
                os.write(fd, line.encode("utf-8"))
            finally:
                os.close(fd)
    except OSError as exc:
        raise InputError(f"无法写入反馈日志 {path}：{exc.strerror}") from None


def read_feedback(path: Path) -> list[dict[str, Any]]:
    """All records of a feedback log (an absent log has none)."""
    if not path.exists():
        return []
    with path.open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]
