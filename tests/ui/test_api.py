"""The running app through its named API endpoints (gradio_client), as other programs use it."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.integration

CANONICAL = "太钢的碳中和目标是什么"


def test_ask_returns_answer_with_sources(client):
    result = client.predict(question=CANONICAL, k=5, mode="hybrid", api_name="/ask")
    assert "2050" in result["answer"] and "碳中和" in result["answer"]
    assert result["refused"] is False
    assert result["citations"], result
    assert "000_a73fe32ef8bc3bea.txt" in {c["source"] for c in result["citations"]}
    assert all({"n", "source", "title", "date", "text", "score"} <= set(c) for c in result["citations"])
    assert len(result["contexts"]) == 5


def test_ask_follow_up_uses_history(client):
    first = client.predict(question=CANONICAL, api_name="/ask")
    follow = client.predict(question="那2030年呢？", history=[[CANONICAL, first["answer"]]], api_name="/ask")
    assert "太钢" in (follow["standalone_question"] or ""), follow  # rewritten with the topic from history
    assert "2030" in follow["answer"]


def test_ask_rejects_empty_question(client):
    with pytest.raises(Exception, match="请输入问题"):
        client.predict(question="   ", api_name="/ask")


def test_stats_and_documents(client):
    stats = client.predict(api_name="/stats")
    assert "文档" in stats and "段落" in stats and "嵌入模型" in stats
    status, table, *_ = client.predict(api_name="/documents")
    assert "000_a73fe32ef8bc3bea.txt" in [row[0] for row in table["data"]]


def upload(client, path):
    from gradio_client import handle_file

    status, table, *_ = client.predict(files=[handle_file(str(path))], api_name="/upload")
    return status, [row[0] for row in table["data"]]


def rejection(client, path) -> str:
    """Upload ``path``; the reason it was refused (by Gradio's own file checks or by ours)."""
    try:
        status, names = upload(client, path)
    except Exception as exc:  # Gradio checks file_types and max_file_size before the handler runs
        return str(exc)
    assert path.name not in names, status
    return status


def test_upload_rejects_executables(client, app_server, tmp_path):
    exe = tmp_path / "tool.exe"
    exe.write_bytes(b"MZ\x90\x00\x03\x00\x00\x00")
    reason = rejection(client, exe)
    assert "不支持的文件类型" in reason or "Invalid file type" in reason, reason
    assert not any(app_server.upload_dir.glob("tool*"))


def test_upload_rejects_binary_disguised_as_text(client, app_server, tmp_path):
    fake = tmp_path / "fake.txt"
    fake.write_bytes(b"\x7fELF\x02\x01\x01\x00\x00\x00")
    assert "不是文本文件" in rejection(client, fake)
    assert not any(app_server.upload_dir.glob("fake*"))


def test_upload_rejects_oversize_files(client, app_server, tmp_path):
    from tests.ui.conftest import UPLOAD_MAX_BYTES

    big = tmp_path / "big.txt"
    big.write_text("长" * (UPLOAD_MAX_BYTES // 3 + 10), encoding="utf-8")
    reason = rejection(client, big)
    assert "文件过大" in reason or "size" in reason.lower() or "413" in reason, reason
    assert not any(app_server.upload_dir.glob("big*"))


def test_upload_odd_names_are_made_safe(client, app_server):
    """A raw multipart upload named ``../../.hidden 报告(1).txt`` ends up as ``hidden_报告_1.txt`` in the upload folder."""
    from tests.ui.conftest import raw_upload

    body = "株洲测试文档。本文用于检查文件名的安全处理。".encode()
    status, names = raw_upload(app_server, client, "../../.hidden 报告(1).txt", body)
    assert "hidden_报告_1.txt" in names, status
    assert [p.name for p in app_server.upload_dir.iterdir() if "报告" in p.name] == ["hidden_报告_1.txt"]
    assert not list(app_server.upload_dir.parent.glob("*报告*"))
    status, table, *_ = client.predict(source="hidden_报告_1.txt", api_name="/delete_document")
    assert "已删除" in status and "hidden_报告_1.txt" not in [row[0] for row in table["data"]]
    assert not (app_server.upload_dir / "hidden_报告_1.txt").exists()


def test_login_required_when_rag_auth_is_set(corpus_settings, tmp_path):
    import urllib.error
    import urllib.request

    from gradio_client import Client

    from tests.ui.conftest import running_app

    with running_app(corpus_settings.index_dir, tmp_path, RAG_AUTH="editor:s3cret") as app:
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(f"{app.url}/gradio_api/info", timeout=10)
        assert refused.value.code == 401
        with pytest.raises(Exception, match="(?i)login|credentials|auth"):
            Client(app.url, verbose=False)
        with pytest.raises(Exception):
            Client(app.url, auth=("editor", "wrong"), verbose=False)
        result = Client(app.url, auth=("editor", "s3cret"), verbose=False).predict(question=CANONICAL, api_name="/ask")
        assert "2050" in result["answer"]


def test_ask_takes_the_filters(client):
    result = client.predict(question=CANONICAL, k=3, paper="株洲日报", date_from="2024-06-01", api_name="/ask")
    assert len(result["contexts"]) == 3 and {c["source"] for c in result["contexts"]} == {"004_a03633453cf80aeb.txt"}
    with pytest.raises(Exception, match="YYYY-MM-DD"):
        client.predict(question=CANONICAL, date_to="2024-02-30", api_name="/ask")
