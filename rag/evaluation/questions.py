"""Evaluation question sets: schema, loading and validation.

A question set is a JSON Lines file, one question per line::

    {"id": "q001", "question": "太钢的碳中和目标是什么", "answer": "...",
     "key_points": ["2025", "降碳6%"], "evidence": [{"file": "000_….txt", "quote": "..."}],
     "type": "list", "file": "000_….txt"}

``key_points`` are short verbatim facts a correct answer must contain; ``evidence``
quotes are verbatim spans of the corpus. Both are compared with
:func:`normalize_for_match` (NFKC, all whitespace removed), so a quote may cross a
line break of the PDF-extracted source. An ``unanswerable`` question has no key
points and no evidence, and every other question has both.
"""

from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from rag.errors import InputError

QUESTION_TYPES: tuple[str, ...] = (
    "factoid",
    "numeric",
    "list",
    "summary",
    "multi_article",
    "unanswerable",
)

REQUIRED_KEYS: tuple[str, ...] = ("id", "question", "answer", "key_points", "evidence", "type", "file")

_WHITESPACE = re.compile(r"\s+")


def normalize_for_match(text: str) -> str:
    """NFKC-normalise ``text`` and remove all whitespace (the form used for matching)."""
    return _WHITESPACE.sub("", unicodedata.normalize("NFKC", text))


def contains(haystack: str, needle: str) -> bool:
    """Whether ``needle`` occurs in ``haystack``, ignoring whitespace and NFKC differences.

    An empty (or whitespace-only) needle is never contained: an empty key point or
    quote must not count as a match.
    """
    norm_needle = normalize_for_match(needle)
    return bool(norm_needle) and norm_needle in normalize_for_match(haystack)


@dataclass
class Evidence:
    """A verbatim span (whitespace-insensitive) of one corpus file."""

    file: str
    quote: str


@dataclass
class Question:
    """One evaluation question with its reference answer and supporting evidence."""

    id: str
    question: str
    answer: str
    key_points: list[str] = field(default_factory=list)
    evidence: list[Evidence] = field(default_factory=list)
    type: str = "factoid"
    file: str = ""

    @property
    def answerable(self) -> bool:
        return self.type != "unanswerable"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def to_json(self) -> str:
        """One JSON Lines record (keys in schema order, non-ASCII kept as is)."""
        return json.dumps(self.to_dict(), ensure_ascii=False)


def _fail(path: Path, line_no: int, message: str) -> InputError:
    return InputError(f"{path}:{line_no}: {message}")


def _check_str(record: dict, key: str, path: Path, line_no: int, *, allow_empty: bool = False) -> str:
    value = record[key]
    if not isinstance(value, str):
        raise _fail(path, line_no, f'"{key}" must be a string, got {type(value).__name__}')
    if not allow_empty and not value.strip():
        raise _fail(path, line_no, f'"{key}" must not be empty')
    return value


def _parse_record(record: Any, path: Path, line_no: int) -> Question:
    if not isinstance(record, dict):
        raise _fail(path, line_no, f"expected a JSON object, got {type(record).__name__}")
    missing = [key for key in REQUIRED_KEYS if key not in record]
    if missing:
        raise _fail(path, line_no, f"missing key(s): {', '.join(missing)}")
    unknown = sorted(set(record) - set(REQUIRED_KEYS))
    if unknown:
        raise _fail(path, line_no, f"unknown key(s): {', '.join(unknown)}")

    qid = _check_str(record, "id", path, line_no)
    question = _check_str(record, "question", path, line_no)
    answer = _check_str(record, "answer", path, line_no)
    qtype = _check_str(record, "type", path, line_no)
    if qtype not in QUESTION_TYPES:
        raise _fail(path, line_no, f'"type" must be one of {", ".join(QUESTION_TYPES)}; got {qtype!r}')
    main_file = _check_str(record, "file", path, line_no, allow_empty=True)

    key_points = record["key_points"]
    if not isinstance(key_points, list) or not all(isinstance(k, str) and k.strip() for k in key_points):
        raise _fail(path, line_no, '"key_points" must be a list of non-empty strings')

    raw_evidence = record["evidence"]
    if not isinstance(raw_evidence, list):
        raise _fail(path, line_no, '"evidence" must be a list of {"file", "quote"} objects')
    evidence: list[Evidence] = []
    for i, item in enumerate(raw_evidence, 1):
        if (
            not isinstance(item, dict)
            or set(item) != {"file", "quote"}
            or not all(isinstance(item[k], str) and item[k].strip() for k in ("file", "quote"))
        ):
            raise _fail(path, line_no, f'evidence item {i} must be an object with non-empty string "file" and "quote"')
        evidence.append(Evidence(file=item["file"], quote=item["quote"]))

    if qtype == "unanswerable":
        if key_points or evidence:
            raise _fail(path, line_no, 'an "unanswerable" question must have empty "key_points" and "evidence"')
    elif not key_points or not evidence:
        raise _fail(path, line_no, f'a "{qtype}" question needs at least one key point and one evidence quote')

    return Question(
        id=qid,
        question=question,
        answer=answer,
        key_points=list(key_points),
        evidence=evidence,
        type=qtype,
        file=main_file,
    )


def load_questions(path: str | Path) -> list[Question]:
    """Read and validate a question set (JSON Lines; blank lines are skipped).

    An empty file gives an empty list. Raises :class:`~rag.errors.InputError` naming
    the file (and line, where there is one) for a missing or
    unreadable file, invalid JSON, a missing/unknown key, a wrongly typed value, an
    unknown question type, key points/evidence inconsistent with the type, or a
    duplicate id.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise InputError(f"{path}: question set not found; pass the path of a .jsonl question file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: cannot read the question set ({exc}); it must be UTF-8 JSON Lines") from None

    questions: list[Question] = []
    seen: dict[str, int] = {}
    for line_no, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise _fail(path, line_no, f"invalid JSON ({exc.msg} at column {exc.colno})") from None
        question = _parse_record(record, path, line_no)
        if question.id in seen:
            raise _fail(path, line_no, f"duplicate id {question.id!r} (first used on line {seen[question.id]})")
        seen[question.id] = line_no
        questions.append(question)
    return questions


def write_questions(questions: list[Question], path: str | Path) -> None:
    """Write questions as JSON Lines (UTF-8, one record per line)."""
    Path(path).write_text("".join(q.to_json() + "\n" for q in questions), encoding="utf-8")
