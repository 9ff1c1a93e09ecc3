"""`rag ask` through the real console entry point."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from rag.cli import main

CANONICAL = "太钢的碳中和目标是什么"
ROADMAP_FILE = "000_a73fe32ef8bc3bea.txt"
PASSAGE_KEYS = ["n", "chunk_id", "source", "title", "date", "text", "score"]


def rag(*args, settings=None):
    env = dict(os.environ)
    if settings is not None:
        env["RAG_INDEX_DIR"] = str(settings.index_dir)
    return subprocess.run([sys.executable, "-m", "rag.cli", *args], capture_output=True, text=True, env=env, timeout=600)


def test_empty_question_is_a_clear_error(capsys):
    assert main(["ask", "   "]) != 0
    err = capsys.readouterr().err
    assert "rag ask" in err and "Traceback" not in err


def test_bad_k_and_empty_batch_are_clear_errors(capsys, tmp_path):
    assert main(["ask", CANONICAL, "-k", "0"]) != 0
    assert "-k" in capsys.readouterr().err
    batch = tmp_path / "empty.txt"
    batch.write_text("\n  \n", encoding="utf-8")
    assert main(["ask", "--batch", str(batch)]) != 0
    assert "no questions" in capsys.readouterr().err


def test_openai_without_configuration_is_a_clear_error(capsys, monkeypatch, tmp_path):
    monkeypatch.delenv("RAG_LLM_BASE_URL", raising=False)
    monkeypatch.delenv("RAG_LLM_MODEL", raising=False)
    assert main(["ask", CANONICAL, "--llm", "openai", "--index", str(tmp_path)]) != 0
    err = capsys.readouterr().err
    assert "RAG_LLM_BASE_URL" in err and "--llm extractive" in err and "Traceback" not in err


@pytest.mark.integration
def test_ask_json_schema_and_canonical_answer(corpus_settings):
    result = rag("ask", CANONICAL, "--json", settings=corpus_settings)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert list(data) == ["question", "answer", "refused", "citations", "contexts", "timings_ms"]
    assert data["question"] == CANONICAL and data["refused"] is False
    answer = data["answer"].replace(" ", "")
    assert "2050年" in answer and "碳中和" in answer
    assert sum(m in answer for m in ("2025年实现降碳6%", "2030年实现降碳16%", "2035年实现降碳30%")) >= 2
    assert any(c["source"] == ROADMAP_FILE for c in data["citations"])
    for item in data["citations"] + data["contexts"]:
        assert list(item) == PASSAGE_KEYS
        assert isinstance(item["n"], int) and isinstance(item["score"], float)
    # every marker in the answer is a citation, and every citation is a context
    markers = {int(n) for n in __import__("re").findall(r"\[(\d+)\]", data["answer"])}
    assert markers == {c["n"] for c in data["citations"]}
    assert [c["n"] for c in data["contexts"]] == list(range(1, len(data["contexts"]) + 1))
    contexts = {c["n"]: c for c in data["contexts"]}
    assert all(contexts[c["n"]]["chunk_id"] == c["chunk_id"] for c in data["citations"])
    assert list(data["timings_ms"]) == ["retrieve", "generate", "total"]


@pytest.mark.integration
def test_ask_refuses_the_unanswerable_anchor(corpus_settings):
    result = rag("ask", "太钢2060年的营收目标是多少", "--json", settings=corpus_settings)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["refused"] is True and data["answer"] == "资料中没有相关信息" and data["citations"] == []
    assert data["contexts"]


@pytest.mark.integration
def test_ask_batch_one_json_object_per_line_in_order(corpus_settings, tmp_path):
    batch = tmp_path / "questions.jsonl"
    questions = [CANONICAL, "太钢2060年的营收目标是多少", "东轻的党委书记、董事长是谁？"]
    batch.write_text("\n".join(json.dumps({"question": q}, ensure_ascii=False) for q in questions) + "\n", encoding="utf-8")
    result = rag("ask", "--batch", str(batch), "-k", "3", settings=corpus_settings)
    assert result.returncode == 0, result.stderr
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["question"] for r in rows] == questions
    assert [r["refused"] for r in rows] == [False, True, False]
    assert all(len(r["contexts"]) == 3 for r in rows)


@pytest.mark.integration
def test_ask_batch_a_failed_question_does_not_lose_the_rest(corpus_settings, tmp_path, monkeypatch):
    from tests.answer.fake_openai import FakeOpenAI

    batch = tmp_path / "questions.txt"
    questions = [CANONICAL, "东轻的党委书记、董事长是谁？", CANONICAL]  # all three reach the model
    batch.write_text("\n".join(questions) + "\n", encoding="utf-8")
    with FakeOpenAI("太钢计划2050年实现碳中和[1]。") as server:
        server.statuses = [200, 500, 500]  # the second question fails, its one retry too
        monkeypatch.setenv("RAG_LLM_BASE_URL", server.base_url)
        monkeypatch.setenv("RAG_LLM_MODEL", "qwen-test")
        result = rag("ask", "--batch", str(batch), "--llm", "openai", "-k", "3", settings=corpus_settings)
    assert result.returncode == 1
    assert "1 of 3 questions failed" in result.stderr and "Traceback" not in result.stderr
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["question"] for r in rows] == questions
    assert "2050" in rows[0]["answer"] and "error" not in rows[0]
    assert "2050" in rows[2]["answer"] and "error" not in rows[2]
    assert "HTTP 500" in rows[1]["error"]


@pytest.mark.integration
def test_ask_human_output_lists_numbered_sources(corpus_settings):
    result = rag("ask", CANONICAL, settings=corpus_settings)
    assert result.returncode == 0, result.stderr
    answer, _, sources = result.stdout.partition("来源 / sources:")
    assert "2050年" in answer
    assert ROADMAP_FILE in sources and "[1]" in sources or "[2]" in sources
