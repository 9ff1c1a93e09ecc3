"""The chat handler with a stand-in pipeline: streaming, sources, history, errors, votes."""

from __future__ import annotations

import pytest

from rag.config import Settings
from rag.errors import InputError, StoreError
from rag.records import Answer, Chunk, Citation, SearchResult
from rag.ui import chat, feedback

gr = pytest.importorskip("gradio")
from rag.ui import layout  # noqa: E402

CHUNK = Chunk("c1", "为2035年实现降碳30%、2050年实现碳中和的目标，提供了科技支撑。", "000_a73fe32ef8bc3bea.txt", "路线图", "2023-01-10")


class StubPipeline:
    def __init__(self, fail: Exception | None = None):
        self.calls = []
        self.fail = fail

    def stream(self, question, history=(), *, k=None, mode=None, generator=None, where=None):
        self.calls.append({"question": question, "history": list(history), "k": k, "mode": mode})
        self.where = where
        if self.fail:
            raise self.fail
        text = "太钢提出2050年实现碳中和的目标[1]。"
        yield text[:6]
        yield text[6:]
        result = SearchResult(CHUNK, 0.03, 1)
        yield Answer(question, text, False, [Citation(1, result, ["2050年实现碳中和的目标[1]"])], [result])


@pytest.fixture
def stub(monkeypatch):
    pipeline = StubPipeline()
    monkeypatch.setattr(chat, "pipeline_for", lambda settings, options: pipeline)
    return pipeline


def run(respond, message, turns, **options):
    values = {"generator": "extractive", "base_url": "", "model": "", "api_key": "", "k": 5, "mode": "hybrid",
              "date_from": "", "date_to": "", "papers": [], "sources": [], **options}
    return list(respond(message, turns, *values.values()))


def test_answer_streams_then_shows_sources(stub):
    respond = layout.make_respond(Settings())
    updates = run(respond, "太钢的碳中和目标是什么", [], k=3, mode="bm25")
    first_messages, _, cleared = updates[0]
    assert cleared == "" and first_messages[0]["role"] == "user" and "太钢的碳中和目标是什么" in first_messages[0]["content"]
    assert "正在检索" in first_messages[1]["content"]
    streamed = [u[0][1]["content"] for u in updates[1:-1]]
    assert streamed and "rag-cursor" in streamed[0]
    final_messages, turns, _ = updates[-1]
    assert "2050" in final_messages[1]["content"] and "rag-sources" in final_messages[1]["content"]
    assert "<mark>" in final_messages[1]["content"]
    assert turns[0]["answer"] == "太钢提出2050年实现碳中和的目标[1]。" and turns[0]["answer_json"]["citations"]
    assert stub.calls == [{"question": "太钢的碳中和目标是什么", "history": [], "k": 3, "mode": "bm25"}]


def test_follow_up_passes_history(stub):
    respond = layout.make_respond(Settings())
    _, turns, _ = run(respond, "太钢的碳中和目标是什么", [])[-1]
    messages, turns, _ = run(respond, "那2030年呢？", turns)[-1]
    assert len(messages) == 4 and len(turns) == 2
    assert stub.calls[-1]["history"] == [("太钢的碳中和目标是什么", "太钢提出2050年实现碳中和的目标[1]。")]


def test_user_text_is_escaped(stub):
    respond = layout.make_respond(Settings())
    messages, _, _ = run(respond, "<img src=x onerror=alert(1)>是什么", [])[-1]
    assert "&lt;img" in messages[0]["content"] and "<img" not in messages[0]["content"]


def test_errors_become_a_message_not_a_crash(monkeypatch):
    monkeypatch.setattr(chat, "pipeline_for", lambda s, o: StubPipeline(fail=StoreError("No index found")))
    respond = layout.make_respond(Settings())
    messages, turns, _ = run(respond, "问题", [])[-1]
    assert "出错了" in messages[1]["content"] and "No index found" in messages[1]["content"]
    assert turns[0]["answer"] is None
    monkeypatch.setattr(chat, "pipeline_for", lambda s, o: StubPipeline(fail=ValueError("boom")))
    messages, _, _ = run(respond, "问题", [])[-1]
    assert "内部错误" in messages[1]["content"]


def test_openai_generator_needs_url_and_model(stub):
    respond = layout.make_respond(Settings())
    messages, _, _ = run(respond, "问题", [], generator="openai")[-1]
    assert "Base URL" in messages[1]["content"] and stub.calls == []


def test_options_checks():
    assert chat.Options(k=3, mode="dense").checked().k == 3
    for bad in (chat.Options(mode="fuzzy"), chat.Options(generator="gpt"), chat.Options(k=0)):
        with pytest.raises(InputError):
            bad.checked()
    opts = chat.Options("openai", " http://x/v1 ", " m ", " sk-1 ").checked()
    assert (opts.base_url, opts.model, opts.api_key) == ("http://x/v1", "m", "sk-1")
    assert "api_key" not in opts.public()


def test_clean_history_and_question():
    assert chat.clean_history([["问", "答"], {"question": "q", "answer": "a"}, ["", "x"]]) == [("问", "答"), ("q", "a")]
    assert len(chat.clean_history([["q", "a"]] * 20)) == chat.MAX_HISTORY_TURNS
    with pytest.raises(InputError):
        chat.clean_history([["only one"]])
    with pytest.raises(InputError):
        chat.clean_question("   ")
    with pytest.raises(InputError, match="没有可检索的内容"):
        chat.clean_question("？！…🙂")
    assert chat.clean_question(" 太钢\x00的\u200b目标\n是什么 ") == "太钢的目标 是什么"
    # a long question is cut by the answering chain, which adds a notice to the answer
    assert chat.clean_question("长" * 100_000) == "长" * 100_000


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_votes_are_logged_for_answered_turns(stub, tmp_path):
    settings = Settings(feedback_path=tmp_path / "fb.jsonl")
    _, turns, _ = run(layout.make_respond(settings), "太钢的碳中和目标是什么", [])[-1]
    vote = layout.make_vote(settings)
    vote(turns, gr.LikeData(None, {"index": 1, "value": "…", "liked": False}))
    vote(turns, gr.LikeData(None, {"index": [1, 0], "value": "…", "liked": True}))
    records = feedback.read_feedback(settings.feedback_path)
    assert [r["vote"] for r in records] == ["down", "up"]
    assert records[0]["question"] == "太钢的碳中和目标是什么" and records[0]["citations"][0]["source"] == "000_a73fe32ef8bc3bea.txt"
    vote(turns, gr.LikeData(None, {"index": 7, "value": "…", "liked": True}))  # no such turn: ignored
    assert len(feedback.read_feedback(settings.feedback_path)) == 2


def test_the_filter_panel_restricts_the_search_and_a_bad_date_is_a_message(stub):
    respond = layout.make_respond(Settings())
    run(respond, "太钢的碳中和目标是什么", [], date_from="2023/1/1", papers=["中国宝武报"], sources=["a.txt", "b.txt"])
    assert stub.where.date_from == "2023-01-01" and stub.where.newspapers == ("中国宝武报",)
    assert stub.where.sources == ("a.txt", "b.txt") and stub.where.date_to is None
    final_messages, turns, _ = run(respond, "太钢的碳中和目标是什么", [], date_to="明天")[-1]
    assert "rag-error" in final_messages[1]["content"] and "YYYY-MM-DD" in final_messages[1]["content"]
