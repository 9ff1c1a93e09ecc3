"""What makes a sentence a good answer beyond matching the question's words (that is
``rag.text.matching.lexical_score``): pure functions, no model.

- ``kind_bonus``: extra for holding the *kind* of fact asked for: a date for "哪天",
  a photo credit for "谁拍的", a byline for "作者是谁", a figure for "多少", a place
  for "在哪里";
- ``shape_factor``: less for headings, questions (interview "问：…？") and debris.
"""

from __future__ import annotations

import re

from rag.text.answer_type import DATE, holds_answer
from rag.text.chars import CJK
from rag.text.lexicon import AUTHORING_WORDS, BYLINE_WORDS, VENUE_VERBS
from rag.text.question import QuestionProfile

DIGIT = re.compile(r"\d")
PHOTO_CREDIT = re.compile(r"(?<!摄)摄\s*$|摄影|供图")
BYLINE = re.compile(f"{'|'.join(sorted(BYLINE_WORDS))}|文/|^[□■]|^[（(][{CJK}\\s]{{2,12}}[）)]$")
PLACE = re.compile(f"{'|'.join(sorted(VENUE_VERBS))}|[省市县区镇乡村]")
TERMINATOR = re.compile(r"[。！？!?；;…]")


def kind_bonus(question: QuestionProfile, text: str) -> float:
    """Extra score for a sentence holding the kind of fact the question asks for."""
    bonus = 0.0
    if (question.wants_fact or question.wants_list) and DIGIT.search(text):
        bonus += 0.06
    if question.answer_type == "time" and DATE.search(text):
        bonus += 0.12
    if _asks_author(question) and (PHOTO_CREDIT.search(text) or BYLINE.search(text.strip())):
        bonus += 0.3
    elif question.answer_type == "person" and holds_answer("person", text, question.text):
        bonus += 0.06
    if question.answer_type == "place" and PLACE.search(text):
        bonus += 0.08
    return bonus


def shape_factor(question: QuestionProfile, text: str) -> float:
    """Down-weight sentences that rarely answer anything: headings, questions, fragments."""
    stripped = text.strip()
    if stripped.endswith(("？", "?")):
        return 0.6  # an interview question ("问：…？") is not an answer
    if not TERMINATOR.search(stripped):
        # a line without sentence punctuation: a heading, a byline, a caption credit
        wanted = (
            (_asks_author(question) and (PHOTO_CREDIT.search(stripped) or BYLINE.search(stripped)))
            or (question.answer_type == "time" and DATE.search(stripped))
            or question.answer_type in ("thing", None) and len(stripped) <= 40  # a heading may be the asked title
        )
        if not wanted:
            return 0.75
    return 1.0


def _asks_author(question: QuestionProfile) -> bool:
    """Who took the photo, who wrote the report: answered by a credit or byline."""
    return question.answer_type == "person" and any(word in question.text for word in AUTHORING_WORDS)
