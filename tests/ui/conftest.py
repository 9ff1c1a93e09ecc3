"""Fixtures for UI tests: the real app as a subprocess on a free port, and headless Chromium.

The app runs exactly as a user starts it (``python app.py --port N``), configured only
through RAG_* environment variables: a private copy of the session's corpus index
(``corpus_settings`` in tests/conftest.py), its own upload folder and feedback log.
It is always terminated at the end of the session.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import pytest

from rag.config import PROJECT_ROOT

CHROMIUM = Path(os.environ.get("RAG_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
START_TIMEOUT_S = float(os.environ.get("RAG_TEST_APP_START_TIMEOUT", "300"))
UPLOAD_MAX_BYTES = 64 * 1024


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class RunningApp:
    url: str
    port: int
    index_dir: Path
    upload_dir: Path
    feedback_path: Path
    log_path: Path
    process: subprocess.Popen

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")[-5000:]


def wait_until_serving(url: str, process: subprocess.Popen, log_path: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the app exited with code {process.returncode}:\n{log_path.read_text(errors='replace')[-5000:]}")
        try:
            with urllib.request.urlopen(f"{url}/gradio_api/info", timeout=5) as response:
                if response.status == 200:
                    return
        except urllib.error.HTTPError as exc:
            if exc.code == 401:  # serving, behind a login
                return
        except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
            pass
        time.sleep(0.5)
    raise RuntimeError(f"the app did not start within {timeout:.0f} s:\n{log_path.read_text(errors='replace')[-5000:]}")


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGINT)  # Gradio shuts down cleanly on Ctrl-C
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


@contextmanager
def running_app(source_index: Path, root: Path, **extra_env: str) -> Iterator[RunningApp]:
    """``python app.py`` on a free port with its own copy of ``source_index``; stopped on exit."""
    index_dir = root / "index"
    shutil.copytree(source_index, index_dir, ignore=shutil.ignore_patterns(".lock", ".gen-*"))
    upload_dir, feedback_path, log_path = root / "uploads", root / "feedback.jsonl", root / "app.log"
    port = free_port()
    env = {
        **os.environ,
        "RAG_INDEX_DIR": str(index_dir),
        "RAG_UPLOAD_DIR": str(upload_dir),
        "RAG_FEEDBACK_PATH": str(feedback_path),
        "RAG_UPLOAD_MAX_BYTES": str(UPLOAD_MAX_BYTES),
        "RAG_PORT": str(port),
        "RAG_HOST": "127.0.0.1",
        "GRADIO_ANALYTICS_ENABLED": "False",
        "PYTHONUNBUFFERED": "1",
    }
    env.pop("RAG_AUTH", None)
    env.update(extra_env)
    with log_path.open("w", encoding="utf-8") as log:
        process = subprocess.Popen([sys.executable, "app.py"], cwd=PROJECT_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    app = RunningApp(f"http://127.0.0.1:{port}", port, index_dir, upload_dir, feedback_path, log_path, process)
    try:
        wait_until_serving(app.url, process, log_path, START_TIMEOUT_S)
        yield app
    finally:
        stop(process)


def raw_upload(app, client, raw_name: str, body: bytes) -> tuple[str, list[str]]:
    """Upload ``body`` under ``raw_name`` exactly as a hostile client would send it (raw
    multipart, name untouched), then add it through ``/upload``; (status, indexed names)."""
    import httpx

    response = httpx.post(f"{app.url}/gradio_api/upload", files=[("files", (raw_name, body, "text/plain"))], timeout=30)
    response.raise_for_status()
    (server_path,) = response.json()
    file_data = {"path": server_path, "orig_name": raw_name, "meta": {"_type": "gradio.FileData"}}
    status, table, *_ = client.predict(files=[file_data], api_name="/upload")
    return status, [row[0] for row in table["data"]]


@pytest.fixture(scope="session")
def app_server(corpus_settings, tmp_path_factory) -> Iterator[RunningApp]:
    """The real app, shared by the API and browser tests of one session."""
    with running_app(corpus_settings.index_dir, tmp_path_factory.mktemp("app")) as app:
        yield app


@pytest.fixture(scope="session")
def client(app_server):
    gradio_client = pytest.importorskip("gradio_client")
    return gradio_client.Client(app_server.url, verbose=False)


@pytest.fixture(scope="session")
def browser():
    if not CHROMIUM.exists():
        pytest.skip(f"Chromium not found at {CHROMIUM} (install it: apt-get install -y chromium, or set RAG_CHROMIUM)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install playwright)")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()
