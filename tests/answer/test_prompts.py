from pathlib import Path

import pytest

from rag.answer import prompts as P
from rag.config import PROMPTS_DIR
from rag.errors import RagError
from tests.answer.fakes import MODEL, ROADMAP, make_results


def test_every_template_loads_with_the_placeholders_the_code_fills():
    expected = {
        P.ANSWER_SYSTEM: {"max_chars", "refusal"},
        P.ANSWER_USER: {"count", "context", "question"},
        P.PASSAGE: {"n", "source", "title", "date", "text"},
        P.REWRITE: {"history", "question"},
        P.HISTORY_TURN: {"user", "assistant"},
        P.REFUSAL: set(),
    }
    for name, fields in expected.items():
        assert P.placeholders(P.load_prompt(PROMPTS_DIR, name)) == fields, name


def test_refusal_text():
    assert P.refusal_text(PROMPTS_DIR) == "资料中没有相关信息"


def test_answer_prompt_numbers_and_delimits_passages_as_data():
    contexts = make_results([ROADMAP, MODEL])
    messages = P.answer_prompt(PROMPTS_DIR).format_messages(
        question="太钢的碳中和目标是什么",
        context=P.format_passages(PROMPTS_DIR, contexts),
        count=2,
        max_chars=300,
        refusal="资料中没有相关信息",
    )
    system, user = messages[0].content, messages[1].content
    assert "只根据" in system and "[n]" in system and "资料中没有相关信息" in system
    assert "<资料 1>" in user and "</资料 2>" in user and "太钢的碳中和目标是什么" in user
    assert user.index("<资料 1>") < user.index("2050年实现碳中和") < user.index("</资料 1>")


def test_passage_text_with_braces_is_not_a_template():
    contexts = make_results(["公式 {x} 与 {{y}} 原样保留。"])
    assert "{x}" in P.format_passages(PROMPTS_DIR, contexts)


def test_missing_or_edited_templates_give_clear_errors(tmp_path: Path):
    with pytest.raises(RagError, match="cannot be read"):
        P.load_prompt(tmp_path, P.REFUSAL)
    (tmp_path / P.REWRITE).write_text("{history}{unknown}", encoding="utf-8")
    with pytest.raises(RagError, match="unknown"):
        P.fill(tmp_path, P.REWRITE, history="", question="")


def test_templates_are_reread_when_edited(tmp_path: Path, monkeypatch):
    import os

    clock = [1000.0]
    monkeypatch.setattr(P.time, "monotonic", lambda: clock[0])
    path = tmp_path / P.REFUSAL
    path.write_text("没有", encoding="utf-8")
    assert P.refusal_text(tmp_path) == "没有"

    path.write_text("资料里找不到", encoding="utf-8")
    os.utime(path, (path.stat().st_atime, path.stat().st_mtime + 5))
    clock[0] += P.RECHECK_SECONDS / 2
    assert P.refusal_text(tmp_path) == "没有"  # checked a moment ago: the cached text
    clock[0] += P.RECHECK_SECONDS
    assert P.refusal_text(tmp_path) == "资料里找不到"
