"""Server safety against the real app: hostile upload names and paths, and a bounded queue.

Loopback-only binding and optional login are covered in test_server.py and test_api.py;
upload type and size limits in test_api.py.
"""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from tests.ui.conftest import raw_upload, running_app

pytestmark = pytest.mark.integration

BODY = "安全测试文档。本文只用于检查上传文件名的处理。".encode()


def files_outside_app_folders(app_server) -> set[Path]:
    """Files in the app's root folder other than its upload folder and index (which a good upload changes)."""
    allowed = (app_server.upload_dir, app_server.index_dir)
    return {
        p for p in app_server.upload_dir.parent.rglob("*")
        if p.is_file() and not any(folder == p or folder in p.parents for folder in allowed)
    }


@pytest.mark.parametrize(
    "raw_name, saved_as",
    [
        ("../../etc/passwd", None),  # no suffix: not a text type, refused
        ("../../etc/passwd.txt", "passwd.txt"),
        ("/etc/cron.d/evil.txt", "evil.txt"),
        ("..\\..\\windows\\system.ini.md", "system.ini.md"),
        ("nul\x00byte.txt", "byte.txt"),  # the NUL may arrive escaped; either way it is gone
    ],
)
def test_hostile_upload_names_stay_in_the_upload_folder(app_server, client, raw_name, saved_as, tmp_path):
    before = files_outside_app_folders(app_server)
    try:
        status, names = raw_upload(app_server, client, raw_name, BODY)
    except Exception as exc:  # Gradio's own type check may refuse it before our handler runs
        status, names = str(exc), []
    after = files_outside_app_folders(app_server)
    assert after == before, f"a file appeared outside the upload folder: {after - before}"
    assert not Path("/etc/passwd.txt").exists() and not Path("/etc/cron.d/evil.txt").exists()
    if saved_as is None:
        assert "不支持的文件类型" in status or "Invalid file type" in status, status
        return
    (name,) = [n for n in names if n.endswith(saved_as)] or [None]  # Gradio may also tidy the name
    assert name and "/" not in name and "\\" not in name and "\x00" not in name and not name.startswith("."), status
    saved = app_server.upload_dir / name
    assert saved.read_bytes() == BODY
    client.predict(source=name, api_name="/delete_document")
    assert not saved.exists()


def test_upload_cannot_point_at_a_server_file(app_server, client):
    """A raw API call naming a file on the server (not uploaded) is refused; the file is not ingested.

    (gradio_client would upload a local file itself, so the request is sent by hand.)"""
    import json

    import httpx

    secret = app_server.upload_dir.parent / "secret.txt"
    secret.write_text("机密内容：不应被上传接口读取。", encoding="utf-8")
    file_data = {"path": str(secret), "orig_name": "secret.txt", "meta": {"_type": "gradio.FileData"}}
    call = httpx.post(f"{app_server.url}/gradio_api/call/upload", json={"data": [[file_data]]}, timeout=30)
    call.raise_for_status()
    stream = httpx.get(f"{app_server.url}/gradio_api/call/upload/{call.json()['event_id']}", timeout=60).text
    events = [line.removeprefix("event: ").strip() for line in stream.splitlines() if line.startswith("event:")]
    assert events[-1] == "error", stream
    assert not (app_server.upload_dir / "secret.txt").exists()
    assert "secret.txt" not in json.dumps(client.predict(api_name="/documents"), ensure_ascii=False)


def test_a_burst_beyond_the_queue_is_turned_away_and_the_server_keeps_answering(corpus_settings, tmp_path):
    """With room for 8 answers at once and 1 waiting, 32 simultaneous questions: the overflow
    gets "queue full", every admitted question is answered, and the server answers afterwards."""
    from gradio_client import Client

    burst = 32
    with running_app(corpus_settings.index_dir, tmp_path, RAG_QUEUE_MAX_SIZE="1") as app:
        clients = [Client(app.url, verbose=False) for _ in range(burst)]
        start = threading.Barrier(burst)
        answered, full, other = [], [], []
        lock = threading.Lock()

        def ask(client) -> None:
            start.wait()
            try:
                result = client.predict(question="太钢的碳中和目标是什么", api_name="/ask")
            except Exception as exc:  # noqa: BLE001 - sorted below
                with lock:
                    (full if "queue is full" in str(exc).lower() else other).append(str(exc))
                return
            with lock:
                answered.append(result)

        threads = [threading.Thread(target=ask, args=(c,)) for c in clients]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        assert not other, other
        assert full, "no request was turned away: the queue is not bounded"
        assert answered and all("2050" in r["answer"] for r in answered)
        assert len(answered) + len(full) == burst
        after = Client(app.url, verbose=False).predict(question="太钢的碳中和目标是什么", api_name="/ask")
        assert "2050" in after["answer"]
        assert "Traceback" not in app.log()
