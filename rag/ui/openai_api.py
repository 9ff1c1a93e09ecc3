"""The assistant behind the OpenAI chat-completions protocol: ``/v1/models`` and ``/v1/chat/completions``.

Chat front-ends (Open WebUI, LobeChat, ChatBox, Cherry Studio), workflow tools (Dify, n8n)
and scripts all speak this protocol. The routes are served by the chat's own server, on
its port, through the FastAPI app Gradio runs (``rag.ui.server``).

- **Models.** Each configured generator is a model: ``news-qa`` (the default generator),
  ``news-qa-extractive``, ``news-qa-local`` when a local GGUF model is there and
  ``news-qa-llm`` when an OpenAI-compatible endpoint is configured.
- **The conversation.** The last user message is the question; the earlier user and
  assistant turns are the history the follow-up rewrite reads.
- **Citations.** The answer keeps its ``[n]`` markers and the response carries the cited
  passages in an extra ``citations`` field (in the last chunk when streaming). The extra
  ``rag`` object may ask for ``footnotes`` (the sources as Markdown under the text) and
  set ``k``, ``mode`` and the filters (``date_from``, ``date_to``, ``paper``, ``source``).
- **Streaming.** The answer is checked (every citation against its passage) before any of
  it is sent, then sent sentence by sentence as Server-Sent Events in OpenAI's chunk
  format, ending with ``data: [DONE]``: a client never shows text that the check removed.
- **Auth.** ``RAG_API_KEY`` asks every request for ``Authorization: Bearer <key>``.
- **Errors** come in OpenAI's shape with the matching status: 400 for an unusable
  question or option, 401, 403 when the API is off, 404 for an unknown model, 429 when the
  queue is full, 503 while there is no index to answer from. Never a traceback.
- **Limits.** At most ``ANSWER_CONCURRENCY`` answers at once and ``queue_max_size``
  waiting, the chat's own limits.
"""

from __future__ import annotations

import json
import secrets
import threading
import time
import uuid
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, StreamingResponse
from starlette.concurrency import run_in_threadpool

from rag.config import Settings
from rag.errors import InputError, RagError, StoreError
from rag.records import Answer, Citation
from rag.store.filters import SearchFilter
from rag.ui.page_route import PAGE_PATH
from rag.text.sentences import answer_pieces

MODEL_PREFIX = "news-qa"


@dataclass(frozen=True)
class ApiModel:
    id: str
    generator: str


def api_models(settings: Settings) -> list[ApiModel]:
    """The models this server offers: one per generator that is configured."""
    from rag.answer.local_model import resolve_gguf

    models = [ApiModel(MODEL_PREFIX, settings.generator), ApiModel(f"{MODEL_PREFIX}-extractive", "extractive")]
    if resolve_gguf(settings).is_file():
        models.append(ApiModel(f"{MODEL_PREFIX}-local", "local"))
    if settings.llm_base_url and settings.llm_model:
        models.append(ApiModel(f"{MODEL_PREFIX}-llm", "openai"))
    return models


class ApiError(Exception):
    """An error sent to the client in OpenAI's shape."""

    def __init__(self, status: int, message: str, kind: str = "invalid_request_error", code: str | None = None):
        super().__init__(message)
        self.status, self.message, self.kind, self.code = status, message, kind, code

    def body(self) -> dict[str, Any]:
        return {"error": {"message": self.message, "type": self.kind, "param": None, "code": self.code}}

    def response(self) -> JSONResponse:
        return JSONResponse(self.body(), status_code=self.status)


@dataclass(frozen=True)
class ChatRequest:
    """What one chat-completions request asks, validated."""

    model: ApiModel
    question: str
    history: list[tuple[str, str]]
    stream: bool
    footnotes: bool
    k: int | None
    mode: str | None
    where: SearchFilter


def parse_request(body: Any, models: list[ApiModel]) -> ChatRequest:
    """The request body as a :class:`ChatRequest`; :class:`ApiError` (400 or 404) when it is unusable."""
    if not isinstance(body, dict):
        raise ApiError(400, "The request body must be a JSON object.")
    by_id = {m.id: m for m in models}
    model = by_id.get(str(body.get("model") or ""))
    if model is None:
        raise ApiError(404, f"The model '{body.get('model')}' does not exist. Use one of: {', '.join(by_id)}.",
                       code="model_not_found")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise ApiError(400, "'messages' must be a non-empty list.")
    turns = [(m.get("role"), _text(m.get("content"))) for m in messages if isinstance(m, dict)]
    users = [i for i, (role, _) in enumerate(turns) if role == "user"]
    if not users or not turns[users[-1]][1].strip():
        raise ApiError(400, "The last user message is empty: ask a question, e.g. 太钢的碳中和目标是什么")
    history, question = [], None
    for role, text in turns[: users[-1]]:
        if role == "user":
            question = text
        elif role == "assistant" and question is not None:
            history.append((question, text))
            question = None
    extras = body.get("rag") or {}
    if not isinstance(extras, dict):
        raise ApiError(400, "'rag' must be an object, e.g. {\"footnotes\": true, \"k\": 5}.")
    try:
        where = SearchFilter.build(extras.get("date_from"), extras.get("date_to"), extras.get("paper"), extras.get("source"))
        k = int(extras["k"]) if extras.get("k") is not None else None
    except InputError as exc:
        raise ApiError(400, str(exc)) from None
    except (TypeError, ValueError):
        raise ApiError(400, f"'rag.k' must be a whole number, not {extras.get('k')!r}.") from None
    return ChatRequest(model, turns[users[-1]][1], history, bool(body.get("stream")), bool(extras.get("footnotes")),
                       k, extras.get("mode"), where)


def _text(content: Any) -> str:
    """A message's text: a string, or the text parts of a list of content parts."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(p.get("text", "") for p in content if isinstance(p, dict) and p.get("type") == "text")
    return ""


def citation_json(citation: Citation) -> dict[str, Any]:
    """One cited passage: its number, file, title, date, page (PDF pages) and the page's
    highlighted image (a path on this server), text and score."""
    chunk = citation.result.chunk
    return {
        "n": citation.n,
        "source": chunk.source,
        "title": chunk.title,
        "date": chunk.date,
        "page": chunk.page,
        "page_image": f"/{PAGE_PATH}/{chunk.chunk_id}" if chunk.page else None,
        "text": chunk.text,
        "score": round(float(citation.result.score), 4),
    }


def footnotes(answer: Answer) -> str:
    """The cited sources as a Markdown block, for front-ends that show only text."""
    if not answer.citations:
        return ""
    lines = ["", "", "---"]
    for c in sorted(answer.citations, key=lambda c: c.n):
        chunk = c.result.chunk
        parts = [chunk.source] + [p for p in (chunk.title, chunk.date) if p]
        lines.append(f"[{c.n}] " + " · ".join(parts))
    return "\n".join(lines)


class AnswerGate:
    """The chat's limits for the API too: ``concurrency`` answers at once, ``waiting`` more queued."""

    def __init__(self, concurrency: int, waiting: int):
        self._slots = threading.BoundedSemaphore(concurrency)
        self._lock = threading.Lock()
        self._inside = 0
        self._limit = concurrency + waiting

    def __enter__(self):
        with self._lock:
            if self._inside >= self._limit:
                raise ApiError(429, "The server is busy (queue full); try again shortly.", "rate_limit_error", "queue_full")
            self._inside += 1
        self._slots.acquire()
        return self

    def __exit__(self, *exc):
        self._slots.release()
        with self._lock:
            self._inside -= 1


def build_router(settings: Settings, *, concurrency: int, enabled: bool = True, off_reason: str = "") -> APIRouter:
    """The ``/v1`` routes for these settings; with ``enabled=False`` every call is a 403 saying why."""
    router = APIRouter()
    gate = AnswerGate(concurrency, settings.queue_max_size)

    def check(request: Request) -> None:
        if not enabled:
            raise ApiError(403, off_reason or "The API is off.", "permission_error", "api_off")
        if settings.api_key:
            sent = request.headers.get("authorization", "")
            scheme, _, token = sent.partition(" ")
            if scheme.lower() != "bearer" or not secrets.compare_digest(token.strip(), settings.api_key):
                raise ApiError(401, "Invalid API key: send Authorization: Bearer <RAG_API_KEY>.", "authentication_error",
                               "invalid_api_key")

    @router.get("/v1/models")
    def list_models(request: Request):
        try:
            check(request)
        except ApiError as exc:
            return exc.response()
        created = int(time.time())
        data = [{"id": m.id, "object": "model", "created": created, "owned_by": "rag"} for m in api_models(settings)]
        return {"object": "list", "data": data}

    @router.post("/v1/chat/completions")
    async def chat_completions(request: Request):
        try:
            check(request)
            try:
                body = await request.json()
            except ValueError:
                raise ApiError(400, "The request body is not JSON.") from None
            asked = parse_request(body, api_models(settings))
        except ApiError as exc:
            return exc.response()
        if asked.stream:
            return StreamingResponse(_stream(settings, gate, asked), media_type="text/event-stream")
        try:
            answer = await run_in_threadpool(_answer, settings, gate, asked)
        except ApiError as exc:
            return exc.response()
        return completion_json(answer, asked)

    return router


def _answer(settings: Settings, gate: AnswerGate, asked: ChatRequest) -> Answer:
    """Answer within the gate; the chain's errors as :class:`ApiError`."""
    from rag.ui import chat

    with gate:
        try:
            options = chat.Options.from_settings(settings)
            options = chat.Options(asked.model.generator, options.base_url, options.model, options.api_key,
                                   asked.k or options.k, asked.mode or options.mode).checked()
            pipeline = chat.pipeline_for(settings, options)
            return pipeline.invoke(asked.question, asked.history, k=options.k, mode=options.mode, where=asked.where)
        except InputError as exc:
            raise ApiError(400, str(exc)) from None
        except StoreError as exc:
            raise ApiError(503, f"The index is not ready: {exc}", "service_unavailable", "index_unavailable") from None
        except RagError as exc:
            raise ApiError(500, str(exc), "server_error") from None


def completion_json(answer: Answer, asked: ChatRequest) -> dict[str, Any]:
    text = answer.answer + (footnotes(answer) if asked.footnotes else "")
    return {
        "id": f"chatcmpl-{uuid.uuid4().hex}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": asked.model.id,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0},
        "citations": [citation_json(c) for c in answer.citations],
        "refused": answer.refused,
    }


async def _stream(settings: Settings, gate: AnswerGate, asked: ChatRequest):
    """SSE: the role at once, then the checked answer sentence by sentence, citations last, [DONE]."""
    ident, created = f"chatcmpl-{uuid.uuid4().hex}", int(time.time())

    def chunk(delta: dict, finish: str | None = None, **extra) -> str:
        data = {"id": ident, "object": "chat.completion.chunk", "created": created, "model": asked.model.id,
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish}], **extra}
        return f"data: {json.dumps(data, ensure_ascii=False)}\n\n"

    yield chunk({"role": "assistant", "content": ""})
    try:
        answer = await run_in_threadpool(_answer, settings, gate, asked)
    except ApiError as exc:
        yield f"data: {json.dumps(exc.body(), ensure_ascii=False)}\n\n"
        yield "data: [DONE]\n\n"
        return
    for piece in answer_pieces(answer.answer + (footnotes(answer) if asked.footnotes else "")):
        yield chunk({"content": piece})
    yield chunk({}, "stop", citations=[citation_json(c) for c in answer.citations], refused=answer.refused)
    yield "data: [DONE]\n\n"
