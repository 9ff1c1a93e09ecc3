"""Start-up checks: where to listen, authentication, building a missing index."""

from __future__ import annotations

import sys

import pytest

from rag.cli import main as cli_main
from rag.config import Settings
from rag.errors import InputError
from rag.ui import server


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "LOCALHOST", "::1", "[::1]", "127.0.0.2"])
def test_loopback_hosts_need_no_flag(host):
    assert server.is_loopback(host)
    server.check_bind(host, allow_remote=False)


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.168.1.10", "example.com", ""])
def test_other_hosts_need_allow_remote(host):
    assert not server.is_loopback(host)
    with pytest.raises(InputError, match="--allow-remote"):
        server.check_bind(host, allow_remote=False)
    server.check_bind(host, allow_remote=True)


def test_parse_auth():
    assert server.parse_auth(None) is None and server.parse_auth("  ") is None
    assert server.parse_auth("editor:pa:ss") == ("editor", "pa:ss")
    for bad in ("editor", ":pw", "editor:"):
        with pytest.raises(InputError, match="RAG_AUTH"):
            server.parse_auth(bad)


def test_serve_refuses_public_host_before_loading_anything(monkeypatch, capsys):
    monkeypatch.setattr(server, "ensure_index", lambda s: pytest.fail("must not build an index"))
    monkeypatch.delenv("RAG_HOST", raising=False)
    assert cli_main(["serve", "--host", "0.0.0.0"]) == 2
    assert "--allow-remote" in capsys.readouterr().err
    monkeypatch.setenv("RAG_HOST", "10.1.2.3")
    assert cli_main(["serve"]) == 2


def test_serve_options_from_flags_and_environment(monkeypatch):
    import argparse

    from rag.cli.serve_cmd import add_serve_options, apply_serve_args

    parser = argparse.ArgumentParser()
    add_serve_options(parser)
    monkeypatch.setenv("RAG_PORT", "9000")
    defaults = Settings.from_env()
    settings, allow = apply_serve_args(parser.parse_args([]), defaults)
    assert (settings.host, settings.port, allow) == ("127.0.0.1", 9000, False)
    settings, allow = apply_serve_args(parser.parse_args(["--port", "8123", "--host", "localhost"]), defaults)
    assert (settings.host, settings.port, allow) == ("localhost", 8123, False)
    settings, allow = apply_serve_args(parser.parse_args(["--listen-all"]), defaults)
    assert (settings.host, allow) == ("0.0.0.0", True)


def test_bad_auth_fails_fast(monkeypatch):
    monkeypatch.setattr(server, "ensure_index", lambda s: pytest.fail("must not build an index"))
    with pytest.raises(InputError, match="RAG_AUTH"):
        server.serve(Settings(auth="nopassword"))


def test_missing_index_is_built_with_terminal_progress(tmp_path, monkeypatch):
    import rag.store

    calls = []
    monkeypatch.setattr(rag.store, "ingest", lambda paths, settings, **kw: calls.append((paths, kw)) or rag.store.IngestReport())
    settings = Settings(index_dir=tmp_path / "index")
    assert server.ensure_index(settings) is True
    assert calls == [(None, {"show_progress": True})]


def test_existing_index_is_left_alone(tmp_path, monkeypatch):
    import rag.store

    index = tmp_path / "index"
    (index / "gen-1").mkdir(parents=True)
    (index / "CURRENT").write_text("gen-1", encoding="utf-8")
    monkeypatch.setattr(rag.store, "ingest", lambda *a, **k: pytest.fail("must not rebuild"))
    assert server.ensure_index(Settings(index_dir=index)) is False


def test_serve_launches_with_host_port_auth_limits_and_queue(monkeypatch):
    gr = pytest.importorskip("gradio")
    from rag.ui import layout

    calls = {}
    monkeypatch.setattr(server, "ensure_index", lambda s: calls.setdefault("ensure_index", True))
    monkeypatch.setattr(server, "preload", lambda s: calls.setdefault("preload", True))
    monkeypatch.setattr(server, "configure_threads", lambda n: calls.setdefault("threads", n))
    monkeypatch.setattr(server, "check_port_free", lambda host, port: calls.setdefault("port_checked", (host, port)))
    monkeypatch.setattr(gr.Blocks, "launch", lambda self, **kw: calls.setdefault("launch", kw))
    monkeypatch.setattr(server, "freeze_startup_objects", lambda: calls.setdefault("frozen", True))
    for name in ("GRADIO_ANALYTICS_CACHE_FREQUENCY", "GRADIO_ANALYTICS_MAX_EVENTS"):
        monkeypatch.setenv(name, "0")  # so that teardown restores the variable (or its absence)
        monkeypatch.delenv(name)
    settings = Settings(host="localhost", port=7999, auth="editor:s3cret", upload_max_bytes=12345, queue_max_size=7)
    demo = server.serve(settings)
    launch = calls["launch"]
    assert calls["ensure_index"] and calls["preload"] and calls["threads"] == server.MODEL_PASSES_AT_ONCE
    assert calls["port_checked"] == ("localhost", 7999)
    assert calls["frozen"] and launch["prevent_thread_lock"]  # start-up objects frozen once serving
    assert (launch["server_name"], launch["server_port"]) == ("localhost", 7999)
    assert launch["auth"] == ("editor", "s3cret") and launch["max_file_size"] == 12345
    assert demo._queue.default_concurrency_limit == layout.ANSWER_CONCURRENCY
    assert demo._queue.max_size == 7  # a burst beyond this is turned away, not buffered
    # Gradio's per-request statistics are summarised every 100 requests, not after each one
    assert (demo._queue.ANAYLTICS_CACHE_FREQUENCY, demo._queue.ANALYTICS_MAX_EVENTS) == (100, 1000)
    named = set(demo.get_api_info()["named_endpoints"])
    assert {"/ask", "/upload", "/delete_document", "/reindex", "/documents", "/stats"} <= named


def test_start_up_objects_leave_the_garbage_collections():
    import gc

    try:
        server.freeze_startup_objects()
        assert gc.get_freeze_count() > 10_000  # this test process's modules, at least
    finally:
        gc.unfreeze()


def test_threads_share_the_cores(monkeypatch):
    torch = pytest.importorskip("torch")
    before = torch.get_num_threads()
    try:
        monkeypatch.setattr(server, "cpu_cores", lambda: 16)
        assert server.configure_threads(4) == 4 and torch.get_num_threads() == 4
        monkeypatch.setattr(server, "cpu_cores", lambda: 2)
        assert server.configure_threads(4) == 1
    finally:
        torch.set_num_threads(before)


def test_busy_port_fails_fast_with_a_clear_message(monkeypatch):
    import socket

    monkeypatch.setattr(server, "ensure_index", lambda s: pytest.fail("must not build an index"))
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        with pytest.raises(InputError, match="端口可能已被占用"):
            server.serve(Settings(port=port))


@pytest.mark.parametrize("given, expected", [(None, "PASSIVE"), ("ACTIVE", "ACTIVE")])
def test_openmp_threads_sleep_when_idle_unless_the_user_says_otherwise(given, expected):
    """Set before torch loads (checked in a fresh interpreter); a user's own value wins."""
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    if given:
        env["OMP_WAIT_POLICY"] = given
    code = "import os; from rag.ui.server import prefer_sleeping_threads as p; p(); import torch; print(os.environ['OMP_WAIT_POLICY'])"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert out.stdout.strip() == expected, out.stderr[-2000:]


@pytest.mark.integration
def test_a_server_on_onnx_runtime_never_imports_torch(corpus_settings):
    """Loading torch only to set its thread count cost seconds of every start-up."""
    script = (
        "import sys\n"
        "from pathlib import Path\n"
        "from rag.config import Settings\n"
        "from rag.ui import server\n"
        f"settings = Settings(index_dir=Path({str(corpus_settings.index_dir)!r}), cache_dir=Path({str(corpus_settings.cache_dir)!r}))\n"
        "server.prefer_sleeping_threads()\n"
        "server.preload(settings)\n"
        "server.configure_threads(server.MODEL_PASSES_AT_ONCE)\n"
        "from rag.retrieval import load_searcher\n"
        "assert load_searcher(settings).embeddings.variant == 'onnx-fp32'\n"
        "print('torch loaded:', 'torch' in sys.modules)\n"
    )
    done = run_in_fresh_interpreter(script, timeout=300)
    assert "torch loaded: False" in done.stdout


def test_the_warm_up_imports_what_gradio_imports_on_its_first_event():
    """Gradio pins matplotlib's backend around every event and imports pyplot on the
    first: 0.5 s the first question after start waited (docs/results.md). The warm-up
    thread imports it instead. Checked in a fresh interpreter; the searcher is a stand-in
    with no passages, since only the import is under test."""
    script = (
        "import sys, types\n"
        "from rag.ui import server\n"
        "searcher = types.SimpleNamespace(store=types.SimpleNamespace(all_chunks=lambda: []), embeddings=None, sentence_vectors={})\n"
        "assert 'matplotlib.pyplot' not in sys.modules\n"
        "server._warm(searcher)\n"
        "print('pyplot loaded:', 'matplotlib.pyplot' in sys.modules)\n"
    )
    done = run_in_fresh_interpreter(script, timeout=120)
    assert "pyplot loaded: True" in done.stdout
    assert "sentence vectors ready: 0" in done.stderr


def run_in_fresh_interpreter(script: str, timeout: float):
    """Run ``script`` with ``python -c`` (nothing this test process imported is loaded there)."""
    import subprocess

    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, done.stderr[-2000:]
    return done
