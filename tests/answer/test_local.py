"""The local generator with the real packaged GGUF model, run in-process by llama.cpp, and
the same model served by ``llama_cpp.server`` behind the ``openai`` generator.

``bash scripts/setup.sh --dev`` installs llama-cpp-python and pulls the default model; these
tests fail (they do not skip) when either is missing. About 15 s per answer on 2 cores.
"""

from __future__ import annotations

import dataclasses
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

from rag.answer.local_model import DEFAULT_MODEL, MODELS, cached_path, pull, read_gguf_metadata
from rag.chain import AnswerPipeline
from rag.errors import RagError

pytestmark = [pytest.mark.integration, pytest.mark.llm]

CANONICAL = "太钢的碳中和目标是什么"
ROADMAP_FILE = "000_a73fe32ef8bc3bea.txt"
UNANSWERABLE = "太钢集团的总经理是谁？"  # the papers name its chairman, not a general manager
REFUSAL = "资料中没有相关信息"


@pytest.fixture(scope="module")
def model_path(base_settings):
    path = cached_path(base_settings)
    assert path.is_file(), f"{path} missing: run `rag model pull` (bash scripts/setup.sh --dev does)"
    return path


@pytest.fixture(scope="module")
def local_pipeline(corpus_settings, searcher, model_path):
    return AnswerPipeline(corpus_settings.replace(generator="local", llm_gguf=model_path), searcher=searcher)


def assert_canonical(answer):
    assert not answer.refused, answer.answer
    assert "2050" in answer.answer and "碳中和" in answer.answer, answer.answer
    assert ROADMAP_FILE in {c.result.chunk.source for c in answer.citations}
    assert not answer.unsupported, answer.unsupported


def test_local_model_answers_with_citations_streaming_and_not(local_pipeline):
    assert_canonical(local_pipeline.invoke(CANONICAL))
    parts = list(local_pipeline.stream(CANONICAL))
    deltas, final = parts[:-1], parts[-1]
    assert len([d for d in deltas if isinstance(d, str) and d]) > 3  # tokens arrive as they come
    assert_canonical(final)


def test_local_model_is_not_asked_what_the_passages_cannot_answer(local_pipeline):
    answer = local_pipeline.invoke(UNANSWERABLE)
    assert answer.refused and answer.answer == REFUSAL and answer.citations == []


def test_bad_model_files_are_one_line_errors(corpus_settings, searcher, model_path, tmp_path):
    import gguf

    not_gguf = tmp_path / "notes.gguf"
    not_gguf.write_text("这不是模型", encoding="utf-8")
    truncated = tmp_path / "truncated.gguf"
    with model_path.open("rb") as source:
        truncated.write_bytes(source.read(20_000_000))  # the header whole, the weights cut
    no_template = tmp_path / "base.gguf"
    writer = gguf.GGUFWriter(str(no_template), "qwen2")
    writer.add_name("a base model without a chat template")
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    cases = {
        tmp_path / "missing.gguf": "not found",
        not_gguf: "not a usable GGUF",
        no_template: "no chat template",
        truncated: "could not be loaded",
    }
    for path, expected in cases.items():
        pipeline = AnswerPipeline(corpus_settings.replace(generator="local", llm_gguf=path), searcher=searcher)
        with pytest.raises(RagError, match=expected) as info:
            pipeline.invoke(CANONICAL)
        assert "\n" not in str(info.value)


def test_a_context_too_small_for_the_passages_is_a_clear_error(corpus_settings, searcher, model_path):
    pipeline = AnswerPipeline(corpus_settings.replace(generator="local", llm_gguf=model_path, llm_context=512), searcher=searcher)
    with pytest.raises(RagError, match="RAG_LLM_CONTEXT"):
        pipeline.invoke(CANONICAL)


def test_pull_fetches_joins_and_verifies_a_packaged_model(base_settings, tmp_path, monkeypatch):
    settings = base_settings.replace(cache_dir=tmp_path)
    name = "qwen2.5-coder-0.5b"
    path = pull(settings, name, progress=False)
    assert path == cached_path(settings, name) and path.stat().st_size == MODELS[name].size
    assert read_gguf_metadata(path)["tokenizer.chat_template"]
    # damaged packages (a sha256 that does not match) leave nothing in the cache
    path.unlink()
    monkeypatch.setitem(MODELS, name, dataclasses.replace(MODELS[name], sha256="0" * 64))
    with pytest.raises(RagError, match="sha256"):
        pull(settings, name, progress=False)
    assert not path.exists() and not list(path.parent.glob("*.gguf"))
    assert DEFAULT_MODEL in MODELS


@pytest.fixture(scope="module")
def llama_server(model_path, tmp_path_factory):
    """``python -m llama_cpp.server`` on 127.0.0.1 with the real model (its log in a file: a
    pipe nobody reads would fill and stall the server)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    command = [sys.executable, "-m", "llama_cpp.server", "--model", str(model_path), "--host", "127.0.0.1",
               "--port", str(port), "--n_ctx", "4096", "--model_alias", "qwen-local"]
    log = tmp_path_factory.mktemp("llama-server") / "server.log"
    with log.open("w") as sink:
        process = subprocess.Popen(command, stdout=sink, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}/v1"
    deadline = time.time() + 180
    while time.time() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"llama_cpp.server exited: {log.read_text(errors='replace')[-2000:]}")
        try:
            urllib.request.urlopen(f"{base}/models", timeout=2).read()
            break
        except OSError:
            time.sleep(1)
    else:
        process.kill()
        raise RuntimeError("llama_cpp.server did not start within 180 s")
    yield base
    process.terminate()
    process.wait(timeout=30)


def test_openai_generator_against_a_real_model_server(corpus_settings, searcher, llama_server):
    settings = corpus_settings.replace(generator="openai", llm_base_url=llama_server, llm_model="qwen-local", llm_timeout=300.0)
    pipeline = AnswerPipeline(settings, searcher=searcher)
    assert_canonical(pipeline.invoke(CANONICAL))
    streamed = list(pipeline.stream(CANONICAL))
    assert len([d for d in streamed[:-1] if isinstance(d, str) and d]) > 3
    assert_canonical(streamed[-1])
    refused = pipeline.invoke(UNANSWERABLE)
    assert refused.refused and refused.answer == REFUSAL
