"""The LLM judge against a real HTTP server on 127.0.0.1 speaking OpenAI chat-completions.

The server is a scripted judge: it splits texts into claims at 。 and calls a claim
supported when the reference contains it verbatim, so the expected scores are exact.
"""

from __future__ import annotations

import json
import re
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from rag.config import Settings
from rag.evaluation import judge
from rag.evaluation.judge import CLAIMS_SYSTEM, VERDICT_SYSTEM


def scripted_reply(system: str, user: str) -> str:
    if "坏" in user:
        return "Sorry, I cannot produce JSON today."
    if system == CLAIMS_SYSTEM:
        text = user.split("文本 / text:\n", 1)[1]
        return json.dumps({"claims": [c for c in text.split("。") if c.strip()]}, ensure_ascii=False)
    if system == VERDICT_SYSTEM:
        reference, claims = user.split("参考文本 / reference:\n", 1)[1].split("\n\n待核查的陈述 / claims:\n", 1)
        verdicts = []
        for line in claims.splitlines():
            number, claim = line.split(". ", 1)
            verdicts.append({"claim": int(number), "verdict": int(claim in reference), "reason": "scripted"})
        return "```json\n" + json.dumps({"verdicts": verdicts}, ensure_ascii=False) + "\n```"
    return "{}"


class ChatHandler(BaseHTTPRequestHandler):
    requests: list[dict] = []

    def do_POST(self):  # noqa: N802 (http.server naming)
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        ChatHandler.requests.append({"path": self.path, "body": body, "auth": self.headers.get("Authorization")})
        messages = body["messages"]
        if "五百" in messages[-1]["content"]:
            error = b'{"error": {"message": "internal error", "type": "server_error"}}'
            self.send_response(500)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(error)))
            self.end_headers()
            self.wfile.write(error)
            return
        content = scripted_reply(messages[0]["content"], messages[-1]["content"])
        payload = json.dumps({
            "id": "chatcmpl-test", "object": "chat.completion", "created": 0, "model": body["model"],
            "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
        }, ensure_ascii=False).encode("utf-8")
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args):
        pass


@pytest.fixture
def judge_server():
    ChatHandler.requests = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), ChatHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    server.shutdown()
    server.server_close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def row(qid, answer, refused, answerable=True, contexts=(), reference=""):
    return {"id": qid, "question": "问题", "answer": answer, "refused": refused, "answerable": answerable,
            "contexts": [{"n": i, "text": t} for i, t in enumerate(contexts, start=1)], "reference_answer": reference}


ROWS = [
    row("a", "2050年实现碳中和[1]。太钢在北京开会[1]。", False, contexts=["路线图提出2050年实现碳中和。会议在太原召开。"], reference="2050年实现碳中和。"),
    row("b", "资料中没有相关信息。", True, reference="300万千瓦。"),
    row("c", "资料中没有相关信息。", True, answerable=False, reference="没有提到。"),
]


def test_judge_scores_claim_by_claim(judge_server):
    settings = Settings(llm_base_url=judge_server, llm_model="judge-model", llm_api_key="secret")
    block, per_question = judge.judge_rows(ROWS, settings, progress=False)
    assert block["skipped"] is False and block["model"] == "judge-model"
    # a: claims "2050年实现碳中和" (supported) and "太钢在北京开会" (not) → faithfulness 0.5;
    #    precision 1/2 against the reference, recall 1/1 → F1 2/3. b: refused answerable → correctness 0.
    assert per_question["a"]["faithfulness"] == pytest.approx(0.5)
    assert per_question["a"]["faithfulness_detail"]["claims"] == ["2050年实现碳中和", "太钢在北京开会"]
    assert per_question["a"]["answer_correctness"] == pytest.approx(2 / 3)
    assert per_question["b"] == {"faithfulness": None, "answer_correctness": 0.0}
    assert per_question["c"] == {"faithfulness": None, "answer_correctness": None}
    assert block["faithfulness"] == pytest.approx(0.5)
    assert block["answer_correctness"] == pytest.approx(1 / 3)
    assert block["counts"] == {"judged": 3, "faithfulness": 1, "answer_correctness": 2, "errors": 0}

    sent = ChatHandler.requests
    assert sent and all(r["path"] == "/v1/chat/completions" for r in sent)
    assert all(r["body"]["model"] == "judge-model" and r["body"]["temperature"] == 0 for r in sent)
    assert sent[0]["auth"] == "Bearer secret"
    assert all("[1]" not in r["body"]["messages"][-1]["content"].split("文本 / text:\n")[-1] for r in sent if r["body"]["messages"][0]["content"] == CLAIMS_SYSTEM)


def test_malformed_reply_counts_as_an_error_for_that_question_only(judge_server):
    settings = Settings(llm_base_url=judge_server, llm_model="judge-model")
    rows = [ROWS[0], row("bad", "坏的回答[1]。", False, contexts=["坏"], reference="坏。")]
    block, per_question = judge.judge_rows(rows, settings, progress=False)
    assert block["counts"]["errors"] == 1 and "bad" in block["errors"] and "a" in per_question


def test_server_error_counts_as_an_error_for_that_question_only(judge_server):
    settings = Settings(llm_base_url=judge_server, llm_model="judge-model")
    rows = [row("e", "五百[1]。", False, contexts=["五百"], reference="五百。"), ROWS[0]]
    block, per_question = judge.judge_rows(rows, settings, progress=False)
    assert block["skipped"] is False and "e" in block["errors"] and "500" in block["errors"]["e"]
    assert per_question["a"]["faithfulness"] == pytest.approx(0.5)


def test_offline_judge_is_skipped_cleanly():
    block, per_question = judge.judge_rows(ROWS, Settings(), progress=False)
    assert block["skipped"] is True and "no LLM configured" in block["reason"] and per_question == {}


def test_unreachable_endpoint_is_recorded_as_skipped():
    settings = Settings(llm_base_url=f"http://127.0.0.1:{free_port()}/v1", llm_model="m", llm_timeout=5)
    block, per_question = judge.judge_rows(ROWS, settings, progress=False)
    assert block["skipped"] is True and "unreachable" in block["reason"] and per_question == {}


def test_parse_json_tolerates_fences_and_chatter():
    assert judge.parse_json('好的：\n```json\n{"claims": ["甲"]}\n```') == {"claims": ["甲"]}
    with pytest.raises(ValueError):
        judge.parse_json("no json here")


def test_eval_cli_with_judge(judge_server, tmp_path, monkeypatch, capsys):
    """`rag eval --llm-base-url … --llm-model …` fills the judge block and per-question rows."""
    from rag.cli import main
    from tests.evaluation.test_eval_cli import QUESTIONS, FakePipeline, FakeSearcher

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    searcher = FakeSearcher(corpus)
    monkeypatch.setattr("rag.retrieval.load_searcher", lambda settings: searcher)
    monkeypatch.setattr("rag.cli.eval_cmd.load_pipeline", lambda settings, searcher: (FakePipeline(searcher), None))
    questions = tmp_path / "q.jsonl"
    questions.write_text("".join(json.dumps(q, ensure_ascii=False) + "\n" for q in QUESTIONS), encoding="utf-8")
    out = tmp_path / "out"
    code = main(["eval", "--questions", str(questions), "--out", str(out), "--json", "--llm-base-url", judge_server, "--llm-model", "judge-model"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    report = json.loads(captured.out)
    assert report["judge"]["skipped"] is False
    assert 0.0 <= report["judge"]["faithfulness"] <= 1.0
    rows = [json.loads(line) for line in (out / "questions.jsonl").read_text(encoding="utf-8").splitlines()]
    assert all("judge" in r for r in rows)
    assert "faithfulness" in (out / "report.md").read_text(encoding="utf-8")
    assert re.search(r"\| faithfulness .*\| \d\.\d{3} \|", (out / "report.md").read_text(encoding="utf-8"))
