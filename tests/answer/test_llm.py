"""The openai generator against a real local HTTP server speaking the chat-completions protocol."""

from __future__ import annotations

import socket
import time

import pytest

from rag.answer import Draft
from rag.answer.llm import OpenAIGenerator, is_refusal
from rag.chain import AnswerPipeline
from rag.config import Settings
from rag.errors import RagError
from tests.answer.fake_openai import FakeOpenAI
from tests.answer.fakes import ToySearcher

pytestmark = pytest.mark.integration  # HTTP servers (fast, but real sockets)

REPLY = "太钢计划2050年实现碳中和[1]。2030年实现降碳16%[9]。"


def settings_for(server: FakeOpenAI | None, tmp_path, **extra) -> Settings:
    base = server.base_url if server else None
    return Settings(
        index_dir=tmp_path / "index",
        generator="openai",
        llm_base_url=base,
        llm_model="qwen-test",
        llm_api_key="sk-test",
        llm_timeout=5.0,
        **extra,
    )


def test_request_carries_model_numbered_passages_and_instruction(tmp_path):
    with FakeOpenAI(REPLY) as server:
        pipeline = AnswerPipeline(settings_for(server, tmp_path), searcher=ToySearcher())
        answer = pipeline.invoke("太钢的碳中和目标是什么")
    request = server.requests[0]
    assert server.paths[0] == "/v1/chat/completions"
    assert server.headers[0].get("authorization") == "Bearer sk-test"
    assert request["model"] == "qwen-test"
    assert not request.get("stream")
    system, user = request["messages"][0], request["messages"][-1]
    assert system["role"] == "system" and "只根据" in system["content"] and "[n]" in system["content"]
    assert "资料中没有相关信息" in system["content"]
    assert user["role"] == "user"
    assert "<资料 1>" in user["content"] and "</资料 1>" in user["content"] and "<资料 2>" in user["content"]
    assert "2050年实现碳中和" in user["content"] and "太钢的碳中和目标是什么" in user["content"]
    # the citation check removed the invalid [9] and cited the passage that supports the sentence
    assert "[9]" not in answer.answer
    assert answer.answer.startswith("太钢计划2050年实现碳中和[1]。")
    assert not answer.refused
    numbers = {c.n for c in answer.citations}
    assert 1 in numbers and numbers <= {r.rank for r in answer.contexts}
    assert set(answer.timings_ms) == {"retrieve", "generate", "total"}


def test_streaming_yields_deltas_then_the_checked_answer(tmp_path):
    with FakeOpenAI(REPLY) as server:
        pipeline = AnswerPipeline(settings_for(server, tmp_path), searcher=ToySearcher())
        parts = list(pipeline.stream("太钢的碳中和目标是什么"))
    assert server.requests[0]["stream"] is True
    deltas, final = parts[:-1], parts[-1]
    assert len(deltas) > 2 and all(isinstance(d, str) for d in deltas)
    assert "".join(deltas) == REPLY  # the raw model output, as streamed
    assert "[9]" not in final.answer and final.answer.startswith("太钢计划2050年实现碳中和[1]。")


def test_model_refusal_becomes_a_refused_answer_without_citations(tmp_path):
    with FakeOpenAI("资料中没有相关信息。") as server:
        answer = AnswerPipeline(settings_for(server, tmp_path), searcher=ToySearcher()).invoke("太钢2060年的营收目标是多少")
    assert answer.refused and answer.answer == "资料中没有相关信息"
    assert answer.citations == [] and answer.contexts  # related passages stay listed, never cited
    assert is_refusal("资料中没有相关信息[1]", "资料中没有相关信息")


def test_follow_up_is_rewritten_by_the_model(tmp_path):
    with FakeOpenAI() as server:
        server.replies = ["太钢2030年的降碳目标是什么", "太钢计划2030年实现降碳16%[1]。"]
        searcher = ToySearcher()
        answer = AnswerPipeline(settings_for(server, tmp_path), searcher=searcher).invoke(
            "那2030年呢？", [("太钢的碳中和目标是什么", "太钢计划2050年实现碳中和[1]。")]
        )
    rewrite_prompt = server.requests[0]["messages"][-1]["content"]
    assert "那2030年呢？" in rewrite_prompt and "太钢的碳中和目标是什么" in rewrite_prompt
    assert searcher.queries == ["太钢2030年的降碳目标是什么"]
    assert answer.standalone_question == "太钢2030年的降碳目标是什么"


def test_http_500_is_a_clear_error(tmp_path):
    with FakeOpenAI(status=500) as server:
        pipeline = AnswerPipeline(settings_for(server, tmp_path), searcher=ToySearcher())
        with pytest.raises(RagError) as info:
            pipeline.invoke("太钢的碳中和目标是什么")
    message = str(info.value)
    assert server.base_url in message and "500" in message and "--llm extractive" in message
    assert "Traceback" not in message and "\n" not in message


def test_connection_refused_is_a_clear_error(tmp_path):
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    settings = settings_for(None, tmp_path).replace(llm_base_url=f"http://127.0.0.1:{port}/v1")
    pipeline = AnswerPipeline(settings, searcher=ToySearcher())
    started = time.perf_counter()
    with pytest.raises(RagError, match=rf"LLM endpoint http://127.0.0.1:{port}/v1 unreachable: .*RAG_LLM_BASE_URL or use --llm extractive"):
        list(pipeline.stream("太钢的碳中和目标是什么"))
    assert time.perf_counter() - started < 10


def test_missing_configuration_is_a_clear_error(tmp_path):
    settings = Settings(index_dir=tmp_path / "index", generator="openai")
    with pytest.raises(RagError, match="RAG_LLM_BASE_URL and RAG_LLM_MODEL"):
        OpenAIGenerator(settings)
    pipeline = AnswerPipeline(settings, searcher=ToySearcher())
    with pytest.raises(RagError, match="RAG_LLM_BASE_URL"):
        pipeline.invoke("太钢的碳中和目标是什么")


def test_no_passages_means_no_call(tmp_path):
    with FakeOpenAI(REPLY) as server:
        generator = OpenAIGenerator(settings_for(server, tmp_path))
        assert generator.generate("太钢的碳中和目标是什么", []) == Draft("资料中没有相关信息", True, "no passages")
    assert server.requests == []


def test_every_request_caps_the_reply_and_a_cut_reply_keeps_whole_sentences(tmp_path):
    looped = "太钢计划2050年实现碳中和[1]。" + "太钢计划" * 40
    with FakeOpenAI(looped, finish_reason="length") as server:
        answer = AnswerPipeline(settings_for(server, tmp_path), searcher=ToySearcher()).invoke("太钢的碳中和目标是什么")
    assert server.requests[0]["max_tokens"] == 600  # twice the 300-character answer budget
    assert answer.answer.startswith("太钢计划2050年实现碳中和[1]。") and "太钢计划太钢计划" not in answer.answer


def test_reasoning_never_becomes_the_answer(tmp_path):
    thinking = "<think>问题问的是目标。资料1说2030年降碳16%[1]，也说了别的。</think>" + REPLY
    with FakeOpenAI(thinking) as server:
        pipeline = AnswerPipeline(settings_for(server, tmp_path), searcher=ToySearcher())
        parts = list(pipeline.stream("太钢的碳中和目标是什么"))
        answered = pipeline.invoke("太钢的碳中和目标是什么")
    streamed = "".join(p for p in parts[:-1] if isinstance(p, str))
    assert "think" not in streamed and "问题问的是" not in streamed and streamed == REPLY
    for answer in (parts[-1], answered):
        assert "问题问的是" not in answer.answer and answer.answer.startswith("太钢计划2050年实现碳中和[1]。")
        # kept apart, for the chat to show collapsed, and never checked as an answer
        assert answer.reasoning.startswith("问题问的是目标") and "think" not in answer.reasoning
    # DeepSeek's API sends the reasoning in its own field: it never reaches the answer either
    with FakeOpenAI(REPLY, reasoning="先看资料1，再看资料2。") as server:
        pipeline = AnswerPipeline(settings_for(server, tmp_path), searcher=ToySearcher())
        parts = list(pipeline.stream("太钢的碳中和目标是什么"))
        streamed = "".join(p for p in parts[:-1] if isinstance(p, str))
        answered = pipeline.invoke("太钢的碳中和目标是什么")
    assert "先看资料" not in streamed and "先看资料" not in answered.answer and "先看资料" not in parts[-1].answer


def test_echoed_notation_empty_and_question_repeating_replies_are_refused(tmp_path):
    question = "太钢的碳中和目标是什么"
    with FakeOpenAI() as server:
        # notation only and empty are asked again once (with the best passage), and fail again here
        server.replies = ["<资料 1>[n][1]", "", "", "<资料 1>", f"{question}？[1]", "太钢计划2050年实现碳中和[n][1]。"]
        pipeline = AnswerPipeline(settings_for(server, tmp_path), searcher=ToySearcher())
        echoed, empty, repeated, marked = (pipeline.invoke(question) for _ in range(4))
    assert len(server.requests) == 6
    for answer in (echoed, empty, repeated):
        assert answer.refused and answer.answer == "资料中没有相关信息" and answer.citations == []
    assert not marked.refused and "[n]" not in marked.answer and marked.answer.startswith("太钢计划2050年实现碳中和[1]")


def test_a_slow_model_names_the_timeout_setting(tmp_path):
    with FakeOpenAI(REPLY, delay=3.0) as server:
        pipeline = AnswerPipeline(settings_for(server, tmp_path).replace(llm_timeout=1.0), searcher=ToySearcher())
        with pytest.raises(RagError, match=r"did not answer within 1 s \(RAG_LLM_TIMEOUT\)"):
            pipeline.invoke("太钢的碳中和目标是什么")


def test_a_reply_that_is_no_judgement_is_asked_again_with_the_best_passage_alone(tmp_path):
    with FakeOpenAI(REPLY) as server:
        server.replies = ["<资料 1>[n]"]  # notation only, then the scripted answer
        pipeline = AnswerPipeline(settings_for(server, tmp_path), searcher=ToySearcher())
        answer = pipeline.invoke("太钢的碳中和目标是什么")
    assert len(server.requests) == 2
    retried = server.requests[1]["messages"][-1]["content"]
    assert "<资料 1>" in retried and "<资料 2>" not in retried
    assert not answer.refused and answer.answer.startswith("太钢计划2050年实现碳中和[1]。")


def test_a_streamed_reply_that_is_no_judgement_is_asked_again(tmp_path):
    with FakeOpenAI(REPLY) as server:
        server.replies = [""]
        parts = list(AnswerPipeline(settings_for(server, tmp_path), searcher=ToySearcher()).stream("太钢的碳中和目标是什么"))
    assert len(server.requests) == 2 and server.requests[1]["stream"] is True
    assert not parts[-1].refused and parts[-1].answer.startswith("太钢计划2050年实现碳中和[1]。")


def test_a_refusal_is_a_judgement_and_is_not_asked_again(tmp_path):
    with FakeOpenAI("资料中没有相关信息。") as server:
        AnswerPipeline(settings_for(server, tmp_path), searcher=ToySearcher()).invoke("太钢的碳中和目标是什么")
    assert len(server.requests) == 1  # no passage holds one asked fact (a goal, not a name or a number)


def test_a_refusal_is_asked_again_with_the_passage_that_holds_the_asked_fact(tmp_path):
    # the evidence names the sentence holding the asked person (太钢工会主席孟永全): a small model
    # that misses it among several passages is asked once more with that passage alone
    for streamed in (False, True):
        with FakeOpenAI("太钢工会主席是孟永全[1]。") as server:
            server.replies = ["资料中没有相关信息。"]
            pipeline = AnswerPipeline(settings_for(server, tmp_path), searcher=ToySearcher())
            question = "太钢工会主席是谁？"
            answer = list(pipeline.stream(question))[-1] if streamed else pipeline.invoke(question)
        assert len(server.requests) == 2
        first, retried = (r["messages"][-1]["content"] for r in server.requests)
        assert "<资料 2>" in first and "<资料 2>" not in retried and "孟永全" in retried
        assert not answer.refused and answer.answer.startswith("太钢工会主席是孟永全")
    with FakeOpenAI("资料中没有相关信息。") as server:  # refused again: the refusal stands
        answer = AnswerPipeline(settings_for(server, tmp_path), searcher=ToySearcher()).invoke("太钢工会主席是谁？")
    assert len(server.requests) == 2 and answer.refused
