"""feedback.py: votes map to records and land as JSON lines."""

from __future__ import annotations

import json
import threading
from datetime import datetime, timezone

import pytest

from rag.errors import InputError
from rag.ui import feedback

TURN = {
    "id": "abc123",
    "question": "太钢的碳中和目标是什么",
    "history": [],
    "options": {"generator": "extractive", "k": 5, "mode": "hybrid"},
    "standalone_question": None,
    "answer": "2050年实现碳中和[1]。",
    "answer_json": {
        "question": "太钢的碳中和目标是什么",
        "answer": "2050年实现碳中和[1]。",
        "refused": False,
        "citations": [{"n": 1, "source": "000_a73fe32ef8bc3bea.txt", "text": "……"}],
        "contexts": [{"n": 1, "source": "000_a73fe32ef8bc3bea.txt", "text": "……"}],
    },
}


@pytest.mark.parametrize("liked, vote", [(True, "up"), (False, "down"), ("", "retracted"), (None, "retracted")])
def test_vote_from_liked(liked, vote):
    assert feedback.vote_from_liked(liked) == vote


def test_record_has_question_answer_sources_vote_and_timestamp():
    now = datetime(2025, 1, 5, 8, 0, tzinfo=timezone.utc)
    record = feedback.feedback_record(TURN, "up", now=now)
    assert record["timestamp"] == "2025-01-05T08:00:00+00:00"
    assert record["vote"] == "up" and record["answer_id"] == "abc123"
    assert record["question"] == "太钢的碳中和目标是什么"
    assert record["answer"] == "2050年实现碳中和[1]。"
    assert record["citations"][0]["source"] == "000_a73fe32ef8bc3bea.txt"
    assert record["contexts"] and record["options"]["mode"] == "hybrid"
    assert "api_key" not in json.dumps(record)


def test_unknown_vote_is_refused():
    with pytest.raises(InputError):
        feedback.feedback_record(TURN, "meh")


def test_append_writes_one_utf8_line_per_vote_concurrently(tmp_path):
    path = tmp_path / "nested" / "feedback.jsonl"
    threads = [
        threading.Thread(target=feedback.append_feedback, args=(path, feedback.feedback_record(TURN, "down")))
        for _ in range(20)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    raw = path.read_text(encoding="utf-8")
    assert "太钢" in raw  # not \u-escaped
    records = feedback.read_feedback(path)
    assert len(records) == 20 and all(r["vote"] == "down" for r in records)
    assert feedback.read_feedback(tmp_path / "absent.jsonl") == []
