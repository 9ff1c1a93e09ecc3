"""`rag ingest` and `rag search` through the real console entry point."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

CANONICAL = "太钢的碳中和目标是什么"


def rag(*args, settings=None, env_extra=None, input_text=None):
    env = dict(os.environ)
    if settings is not None:
        env["RAG_INDEX_DIR"] = str(settings.index_dir)
    env.update(env_extra or {})
    return subprocess.run(
        [sys.executable, "-m", "rag.cli", *args], capture_output=True, text=True, env=env, input=input_text, timeout=600
    )


@pytest.mark.integration
def test_search_json_schema_and_canonical_answer(corpus_settings):
    result = rag("search", CANONICAL, "--json", settings=corpus_settings)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["query"] == CANONICAL
    assert len(data["results"]) == 5
    first = data["results"][0]
    assert set(first) == {"rank", "chunk_id", "source", "title", "date", "text", "score"}
    assert first["source"] == "000_a73fe32ef8bc3bea.txt" and "2050年实现碳中和" in first["text"]
    assert isinstance(first["score"], float) and first["rank"] == 1


@pytest.mark.integration
def test_search_batch_keeps_input_order(corpus_settings, tmp_path):
    batch = tmp_path / "questions.jsonl"
    batch.write_text(
        json.dumps({"question": CANONICAL}, ensure_ascii=False) + "\n\n" + json.dumps({"question": "株洲日报是哪天出版的"}, ensure_ascii=False) + "\n",
        encoding="utf-8",
    )
    result = rag("search", "--batch", str(batch), "-k", "3", settings=corpus_settings)
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [line["query"] for line in lines] == [CANONICAL, "株洲日报是哪天出版的"]
    assert all(len(line["results"]) == 3 for line in lines)


@pytest.mark.integration
def test_reingest_of_unchanged_corpus_embeds_nothing(corpus_settings):
    result = rag("ingest", "--json", settings=corpus_settings)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["embedded_chunks"] == 0 and report["written"] is False
    assert len(report["skipped"]) == 5


@pytest.mark.parametrize(
    "args, message",
    [
        (["search", "   "], "query"),
        (["ingest", "/no/such/folder"], "No such file"),
    ],
)
def test_bad_input_exits_nonzero_without_traceback(args, message, tmp_path):
    result = rag(*args, env_extra={"RAG_INDEX_DIR": str(tmp_path / "index")})
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_search_without_index_says_to_ingest(tmp_path):
    result = rag("search", CANONICAL, env_extra={"RAG_INDEX_DIR": str(tmp_path / "none")})
    assert result.returncode == 2 and "rag ingest" in result.stderr and "Traceback" not in result.stderr


def test_corrupt_batch_file_is_reported_with_line_number(tmp_path):
    batch = tmp_path / "q.jsonl"
    batch.write_text('{"question": "ok"}\n{"question": \n', encoding="utf-8")
    result = rag("search", "--batch", str(batch), env_extra={"RAG_INDEX_DIR": str(tmp_path / "none")})
    assert result.returncode == 2 and "line 2" in result.stderr
