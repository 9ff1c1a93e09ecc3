"""The lexicon holds words of general grammar and news style, never phrases of the evaluation questions."""

import json
from pathlib import Path

import jieba

from rag.text import lexicon

EVAL_DIR = Path(__file__).resolve().parents[2] / "data" / "eval"


def entries() -> list[tuple[str, str, str]]:
    """Every (section, key, word) of lexicon.toml."""
    return [
        (section, key, word)
        for section, table in lexicon.lexicon().items()
        for key, value in table.items()
        for words in ([value] if isinstance(value, str) else value)  # a list holds groups of words
        for word in words.split()
    ]


def questions() -> list[str]:
    texts = []
    for path in sorted(EVAL_DIR.glob("*.jsonl")):
        texts += [json.loads(line)["question"] for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return texts


def test_every_question_set_is_read():
    assert len(questions()) >= 400  # dev, holdout, archive and blind sets


def test_no_entry_is_a_phrase_taken_from_an_evaluation_question():
    """An entry may be a single word that questions also use (谁, 多少); a phrase of several words
    that a question holds (今年多大, 研发投入) is a question's own wording and fails."""
    asked = questions()
    offending = []
    for section, key, word in entries():
        if len(word) < 3 or not any(word in q for q in asked):
            continue
        if len(list(jieba.cut(word))) > 1 or len(word) >= 4:
            offending.append(f"{section}.{key}: {word}")
    assert offending == []


def test_the_lists_the_code_reads_are_there():
    assert "谁" in lexicon.interrogatives() and lexicon.interrogatives()["多少"] == "number"
    assert "的" in lexicon.FUNCTION_WORDS and "万吨" in lexicon.UNITS
