"""The OpenAI-compatible API of the running app, called by real clients: the official ``openai``
package and LangChain's ``ChatOpenAI``; plus its access rules and error shapes."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import openai
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from rag.config import Settings
from rag.text.sentences import answer_pieces
from rag.ui.openai_api import ApiError, ApiModel, build_router, parse_request
from rag.ui.server import access_for

CANONICAL = "太钢的碳中和目标是什么"
ROADMAP = "000_a73fe32ef8bc3bea.txt"


def client_for(app, key: str = "unused") -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{app.url}/v1", api_key=key, max_retries=0, timeout=120)


# --- against the running app ------------------------------------------------------------


@pytest.mark.integration
def test_models_and_a_cited_answer(app_server):
    client = client_for(app_server)
    ids = [m.id for m in client.models.list().data]
    assert ids[:2] == ["news-qa", "news-qa-extractive"]
    reply = client.chat.completions.create(model="news-qa", messages=[{"role": "user", "content": CANONICAL}])
    text = reply.choices[0].message.content
    assert "2050" in text and "[1]" in text, text
    citations = reply.model_extra["citations"]
    assert ROADMAP in {c["source"] for c in citations}
    assert {"n", "source", "title", "date", "page", "text", "score"} <= set(citations[0])


@pytest.mark.integration
def test_the_same_request_streams_with_the_citations_last(app_server):
    client = client_for(app_server)
    chunks = list(client.chat.completions.create(
        model="news-qa-extractive", messages=[{"role": "user", "content": CANONICAL}], stream=True))
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert "2050" in text and len([c for c in chunks if c.choices and c.choices[0].delta.content]) >= 2
    assert chunks[-1].choices[0].finish_reason == "stop"
    assert ROADMAP in {c["source"] for c in chunks[-1].model_extra["citations"]}


@pytest.mark.integration
def test_footnotes_filters_and_a_follow_up_from_the_history(app_server):
    client = client_for(app_server)
    first = client.chat.completions.create(
        model="news-qa", messages=[{"role": "user", "content": CANONICAL}], extra_body={"rag": {"footnotes": True}})
    text = first.choices[0].message.content
    assert "\n---\n[1] " in text and ROADMAP in text
    follow = client.chat.completions.create(model="news-qa", messages=[
        {"role": "user", "content": CANONICAL},
        {"role": "assistant", "content": text},
        {"role": "user", "content": "那2030年呢？"},
    ])
    assert "2030" in follow.choices[0].message.content
    only = client.chat.completions.create(
        model="news-qa", messages=[{"role": "user", "content": CANONICAL}],
        extra_body={"rag": {"source": "004_a03633453cf80aeb.txt"}})
    assert {c["source"] for c in only.model_extra["citations"]} <= {"004_a03633453cf80aeb.txt"}


@pytest.mark.integration
def test_errors_come_in_openais_shape(app_server):
    client = client_for(app_server)
    with pytest.raises(openai.NotFoundError, match="does not exist"):
        client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": CANONICAL}])
    with pytest.raises(openai.BadRequestError, match="empty"):
        client.chat.completions.create(model="news-qa", messages=[{"role": "user", "content": "  "}])
    with pytest.raises(openai.BadRequestError, match="YYYY-MM-DD"):
        client.chat.completions.create(model="news-qa", messages=[{"role": "user", "content": CANONICAL}],
                                       extra_body={"rag": {"date_from": "昨天"}})


@pytest.mark.integration
def test_langchain_chat_openai_invokes_and_streams(app_server):
    from langchain_openai import ChatOpenAI

    chat = ChatOpenAI(base_url=f"{app_server.url}/v1", api_key="unused", model="news-qa", max_retries=0)
    assert "2050" in chat.invoke(CANONICAL).content
    assert "2050" in "".join(str(part.content) for part in chat.stream(CANONICAL))


@pytest.mark.integration
def test_eight_clients_at_once_all_get_their_answers(app_server):
    questions = [CANONICAL, "太钢2030年要降碳多少", "太重集团的党委书记是谁？", "株洲日报这期是哪天出版的？"] * 2

    def ask(question: str) -> str:
        reply = client_for(app_server).chat.completions.create(model="news-qa", messages=[{"role": "user", "content": question}])
        return reply.choices[0].message.content

    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(ask, questions))
    assert all(answers) and "2050" in answers[0] and "2050" in answers[4]


@pytest.mark.integration
def test_a_key_is_asked_for_when_rag_api_key_is_set(corpus_settings, tmp_path):
    from tests.ui.conftest import running_app

    with running_app(corpus_settings.index_dir, tmp_path, RAG_API_KEY="k-123") as app:
        with pytest.raises(openai.AuthenticationError):
            client_for(app, "wrong").chat.completions.create(model="news-qa", messages=[{"role": "user", "content": CANONICAL}])
        with pytest.raises(openai.AuthenticationError):
            client_for(app, "wrong").models.list()
        reply = client_for(app, "k-123").chat.completions.create(model="news-qa", messages=[{"role": "user", "content": CANONICAL}])
        assert "2050" in reply.choices[0].message.content
        assert "OpenAI 兼容接口 /v1：开启" in app.log_path.read_text(encoding="utf-8")


# --- access rules and request parsing, without a server ---------------------------------


def test_beyond_localhost_the_api_needs_a_key_and_the_knowledge_base_a_login():
    local = access_for(Settings(host="127.0.0.1"), allow_remote=False)
    assert local.api and local.knowledge_base_writable
    remote = access_for(Settings(host="0.0.0.0"), allow_remote=True)
    assert not remote.api and "RAG_API_KEY" in remote.api_off_reason and not remote.knowledge_base_writable
    assert any("只读" in line for line in remote.lines()) and any("关闭" in line for line in remote.lines())
    keyed = access_for(Settings(host="0.0.0.0", api_key="k", auth="a:b"), allow_remote=True)
    assert keyed.api and keyed.knowledge_base_writable
    opened = access_for(Settings(host="0.0.0.0"), allow_remote=True, open_knowledge_base=True)
    assert opened.knowledge_base_writable and not opened.api


def test_an_api_that_is_off_says_why_with_a_403():
    app = FastAPI(routes=build_router(Settings(), concurrency=1, enabled=False, off_reason="needs RAG_API_KEY").routes)
    response = TestClient(app).post("/v1/chat/completions", json={"model": "news-qa", "messages": []})
    assert response.status_code == 403 and response.json()["error"]["message"] == "needs RAG_API_KEY"


def test_a_read_only_knowledge_base_refuses_its_write_actions(tmp_path):
    from rag.ui.layout import READ_ONLY, make_kb_handlers

    settings = Settings(index_dir=tmp_path / "index", upload_dir=tmp_path / "uploads")
    upload, delete, rebuild, _ = make_kb_handlers(settings, writable=False)
    doc = tmp_path / "a.txt"
    doc.write_text("某厂新闻。" * 20, encoding="utf-8")
    assert upload([str(doc)])[0] == READ_ONLY and delete("a.txt")[0] == READ_ONLY and rebuild()[0] == READ_ONLY
    assert not (tmp_path / "uploads").exists() and not (tmp_path / "index").exists()


def test_the_conversation_becomes_a_question_and_its_history():
    models = [ApiModel("news-qa", "extractive")]
    asked = parse_request({"model": "news-qa", "messages": [
        {"role": "system", "content": "你是助手"},
        {"role": "user", "content": "问一"}, {"role": "assistant", "content": "答一"},
        {"role": "user", "content": [{"type": "text", "text": "问二"}]},
    ], "rag": {"k": 3, "paper": "株洲日报"}}, models)
    assert asked.question == "问二" and asked.history == [("问一", "答一")] and asked.k == 3
    assert asked.where.newspapers == ("株洲日报",) and not asked.stream
    with pytest.raises(ApiError) as bad:
        parse_request({"model": "news-qa", "messages": [{"role": "user", "content": "问"}], "rag": {"k": "many"}}, models)
    assert bad.value.status == 400


def test_a_streamed_answer_is_cut_after_each_sentence_and_its_markers():
    text = "太钢计划2050年实现碳中和[1]。2030年降碳16%[1][2]。结尾"
    assert answer_pieces(text) == ["太钢计划2050年实现碳中和[1]。", "2030年降碳16%[1][2]。", "结尾"]


def test_beyond_the_running_and_waiting_answers_the_gate_says_429():
    import threading

    from rag.ui.openai_api import AnswerGate

    gate, release, entered = AnswerGate(concurrency=1, waiting=1), threading.Event(), threading.Event()

    def hold():
        with gate:
            entered.set()
            release.wait(10)

    holders = [threading.Thread(target=hold) for _ in range(2)]  # one answering, one waiting
    for t in holders:
        t.start()
    entered.wait(10)
    while gate._inside < 2:
        threading.Event().wait(0.01)
    with pytest.raises(ApiError) as full:
        gate.__enter__()
    assert full.value.status == 429 and full.value.code == "queue_full"
    release.set()
    for t in holders:
        t.join(10)
    with gate:  # free again
        pass
