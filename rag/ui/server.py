"""Start-up for the UI (used by ``python app.py`` and ``rag serve``).

1. Check where to listen: loopback by default; any other address needs an explicit
   ``allow_remote`` (``--allow-remote`` / ``--listen-all``), so a misplaced RAG_HOST
   cannot expose the app by accident.
2. Read optional authentication from ``Settings.auth`` (env ``RAG_AUTH="user:password"``).
3. Build the index when there is none (progress bar in the terminal), load the model
   and index once, then launch Gradio with a queue sized for CPU-bound answering.
"""

from __future__ import annotations

import gc
import ipaddress
import os
import socket
import sys
import threading
from dataclasses import dataclass

from rag.config import Settings
from rag.errors import InputError

CJK_FONTS = ["Noto Sans CJK SC", "Source Han Sans SC", "PingFang SC", "Microsoft YaHei", "system-ui", "sans-serif"]


def is_loopback(host: str) -> bool:
    host = (host or "").strip().strip("[]")
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_bind(host: str, allow_remote: bool) -> None:
    """Refuse a non-loopback address unless remote access was asked for explicitly."""
    if not is_loopback(host) and not allow_remote:
        raise InputError(
            f"拒绝监听 {host}：该地址会让局域网或公网上的其他人访问本服务。"
            f"如确需对外提供服务，请加上 --allow-remote（或用 --listen-all 监听 0.0.0.0），"
            f"并建议同时设置 RAG_AUTH=\"用户名:密码\"。 / Refusing to listen on {host} without --allow-remote."
        )


def check_port_free(host: str, port: int) -> None:
    """Fail before the slow start-up work when another program already holds the port."""
    family = socket.AF_INET6 if ":" in host.strip("[]") else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host.strip("[]"), int(port)))
        except OSError as exc:
            raise InputError(
                f"无法监听 {host}:{port}（{exc.strerror or exc}）。端口可能已被占用，请用 --port 或 RAG_PORT 指定其他端口。"
            ) from None


def parse_auth(value: str | None) -> tuple[str, str] | None:
    """``"user:password"`` → ``("user", "password")``; empty → no authentication."""
    if value is None or not value.strip():
        return None
    user, sep, password = value.partition(":")
    if not sep or not user.strip() or not password:
        raise InputError('RAG_AUTH 的格式应为 "用户名:密码"（例如 RAG_AUTH="editor:s3cret"）。')
    return user.strip(), password


@dataclass(frozen=True)
class Access:
    """What the server opens to its clients, decided once at start."""

    api: bool  # the /v1 OpenAI-compatible API
    api_off_reason: str
    knowledge_base_writable: bool  # upload, delete and re-index in the chat

    def lines(self) -> list[str]:
        api = "OpenAI 兼容接口 /v1：" + ("开启" if self.api else f"关闭（{self.api_off_reason}）")
        kb = "知识库：" + ("可上传、删除、重新索引" if self.knowledge_base_writable else
                         "只读（对外监听且未设置 RAG_AUTH；加 --open-knowledge-base 可开放写入，任何能访问本机的人都能改动索引）")
        return [api, kb]


def access_for(settings: Settings, allow_remote: bool, open_knowledge_base: bool = False) -> Access:
    """Beyond localhost, the API needs RAG_API_KEY and the knowledge base's write actions need
    RAG_AUTH (or ``--open-knowledge-base``, a flag that names the risk)."""
    local = is_loopback(settings.host)
    api = local or bool(settings.api_key)
    reason = "" if api else "对外监听时需要设置 RAG_API_KEY / listening beyond localhost needs RAG_API_KEY"
    writable = local or bool(settings.auth) or open_knowledge_base
    return Access(api, reason, writable)


def ensure_index(settings: Settings) -> bool:
    """Build the index (corpus + uploads) when none exists; True when one was built."""
    from rag.store import ingest
    from rag.store.factory import index_exists

    if index_exists(settings):
        return False
    from rag.ui.knowledge_base import drop_empty_upload_dir

    print(f"首次启动：在 {settings.index_dir} 建立索引… / building the index", file=sys.stderr, flush=True)
    drop_empty_upload_dir(settings)
    report = ingest(None, settings, show_progress=True)
    print(report.summary(), file=sys.stderr, flush=True)
    return True


def preload(settings: Settings) -> None:
    """Load the embedding model and the index once, before the first visitor arrives."""
    from rag.retrieval import load_searcher

    from rag.store.tokenize import tokenize

    print("正在加载嵌入模型和索引… / loading model and index", file=sys.stderr, flush=True)
    searcher = load_searcher(settings)
    tokenize("预热")  # loads jieba's dictionary now rather than during the first question
    if searcher.pools_candidates:
        searcher.score_moments()  # hybrid search over an approximate index needs them (0.3 s at 100k chunks)
    threading.Thread(target=_warm, args=(searcher,), name="warm-sentences", daemon=True).start()


def _warm(searcher) -> None:
    """Pre-compute the sentence vectors the extractive answerer uses, while the UI already serves."""
    from rag.answer.extractive import warm_sentence_cache

    try:
        def embed(texts):
            return searcher.embeddings.encode_passages(list(texts))

        count = warm_sentence_cache(searcher.store.all_chunks(), embed, searcher.sentence_vectors)
        _import_plotting()
        freeze_startup_objects()
        print(f"句向量预计算完成 / sentence vectors ready: {count}", file=sys.stderr, flush=True)
    except Exception as exc:  # noqa: BLE001 - a warm-up failure only costs speed
        print(f"sentence warm-up skipped: {exc}", file=sys.stderr, flush=True)


def _import_plotting() -> None:
    """Import matplotlib's pyplot now: Gradio pins matplotlib's backend around every event
    and imports it on the first, which made the first question after start wait 0.5 s."""
    try:
        import matplotlib.pyplot  # noqa: F401
    except ImportError:
        pass


def freeze_startup_objects() -> None:
    """Keep what start-up loaded out of Python's garbage collections from now on.

    The model, index, jieba's dictionary, Gradio and the warmed caches are about 250,000
    objects that live as long as the server. A full collection walks all of them: 135 ms
    holding the GIL on an idle machine, 300 ms and more in the middle of a burst of
    questions, which then all wait (the slow bursts in docs/results.md, "Concurrent
    users"). ``gc.freeze`` moves them to a generation that is never collected; objects
    created later, by requests, are collected as usual.
    """
    gc.collect()
    gc.freeze()


def cpu_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


# Questions from parallel answers are encoded together, one model pass at a time
# (rag/embeddings/batching.py), and sentence vectors are pre-computed at start-up, so a
# pass can use every core.
MODEL_PASSES_AT_ONCE = 1


def prefer_sleeping_threads() -> None:
    """Let idle OpenMP worker threads sleep instead of spinning (``OMP_WAIT_POLICY=PASSIVE``).

    By default torch's and FAISS's OpenMP threads keep spinning for a while after each
    parallel region. A server alternates short model passes with Python work (retrieval,
    sentence scoring, Gradio), and on a small machine the spinning threads take the cores
    that work needs. Must run before torch or FAISS is imported; a value set by the user wins.
    """
    if "torch" in sys.modules or "faiss" in sys.modules:
        return  # too late to change: the OpenMP runtime has read its settings
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


def configure_threads(concurrency: int) -> int:
    """Share the cores between the answers running at once: torch threads per answer =
    cores // concurrency (at least 1). Without this every concurrent answer starts one
    thread per core and, on a small machine, they spend their time preempting each other.

    Only when the model runs in torch: importing torch just for this costs seconds at start.
    (ONNX Runtime's threads are set on its session, see onnx_backend.py.)"""
    threads = max(1, cpu_cores() // max(1, concurrency))
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.set_num_threads(threads)
    return threads


def theme():
    import gradio as gr

    return gr.themes.Soft(primary_hue="blue", font=CJK_FONTS, font_mono=["ui-monospace", "DejaVu Sans Mono", "monospace"])


def quiet_gradio_bookkeeping() -> None:
    """Turn off Gradio's telemetry and thin out its per-request statistics.

    After every finished request Gradio rebuilds a pandas table of up to the last 10,000
    requests to summarise them for its monitoring page: 1–8 ms of CPU per answer, growing
    with the server's age, and holding the GIL while other answers wait. Recomputing the
    summary every 100 requests over the last 1,000 keeps the page useful at a hundredth of
    the cost. Must run before the Blocks' queue is created; values set by the user win.
    """
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    os.environ.setdefault("GRADIO_ANALYTICS_CACHE_FREQUENCY", "100")
    os.environ.setdefault("GRADIO_ANALYTICS_MAX_EVENTS", "1000")


def serve(settings: Settings, *, allow_remote: bool = False, open_knowledge_base: bool = False, block: bool = True):
    """Check, prepare and launch; returns the running Blocks (``block=False`` for tests)."""
    quiet_gradio_bookkeeping()
    prefer_sleeping_threads()
    check_bind(settings.host, allow_remote)
    if not 1 <= int(settings.port) <= 65535:
        raise InputError(f"端口号 {settings.port} 无效（应在 1–65535 之间）。")
    auth = parse_auth(settings.auth)
    check_port_free(settings.host, settings.port)
    ensure_index(settings)  # a first build uses every core

    from rag.ui.layout import ANSWER_CONCURRENCY, build_app
    from rag.ui.openai_api import build_router
    from rag.ui.page_route import build_page_router
    from rag.ui.render import CSS

    preload(settings)
    configure_threads(MODEL_PASSES_AT_ONCE)  # after the model has loaded: torch or ONNX Runtime

    access = access_for(settings, allow_remote, open_knowledge_base)
    for line in access.lines():
        print(line, file=sys.stderr, flush=True)
    api = build_router(settings, concurrency=ANSWER_CONCURRENCY, enabled=access.api, off_reason=access.api_off_reason)
    pages = build_page_router(settings)
    demo = build_app(settings, knowledge_base_writable=access.knowledge_base_writable)
    # A bounded queue: a burst of requests waits in line up to ``queue_max_size`` and the
    # rest are turned away ("queue full") instead of piling up in memory.
    demo.queue(default_concurrency_limit=ANSWER_CONCURRENCY, max_size=settings.queue_max_size)
    try:
        demo.launch(
            server_name=settings.host,
            server_port=int(settings.port),
            auth=auth,
            auth_message="请输入用户名和密码" if auth else None,
            max_file_size=settings.upload_max_bytes,
            theme=theme(),
            css=CSS,
            footer_links=["api"],
            ssr_mode=False,
            show_error=True,
            prevent_thread_lock=True,  # returns once serving; blocks below
            # on the same port: /v1/models, /v1/chat/completions, and /page/<id> (a cited page, highlighted)
            app_kwargs={"routes": api.routes + pages.routes},
            quiet=False,
        )
    except OSError as exc:
        raise InputError(
            f"无法在 {settings.host}:{settings.port} 启动服务（{exc}）。端口可能已被占用，请用 --port 指定其他端口。"
        ) from None
    freeze_startup_objects()
    if block:
        demo.block_thread()
    return demo
