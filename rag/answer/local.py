"""The ``local`` generator: a GGUF chat model run in-process by llama.cpp, fully offline.

``RAG_GENERATOR=local`` (``--llm local``) with ``RAG_LLM_GGUF`` naming any GGUF chat
model; without it, the packaged default that ``rag model pull`` fetched
(``rag.answer.local_model``). llama.cpp comes from ``llama-cpp-python``, which builds it
from source once and runs the model with the chat template stored in the GGUF file.

The model sits behind a LangChain chat model (``LlamaCppChat``), so the prompts, the
reading of the reply, the refusal logic and the citation check are exactly those of the
``openai`` generator (``rag.answer.llm.ChatGenerator``). What is local: loading the file
with one-line errors for every way it can be wrong, and fitting the passages into the
model's context.
"""

from __future__ import annotations

import atexit
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator, Sequence

from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from pydantic import PrivateAttr

from rag.answer import prompts as P
from rag.answer.llm import ChatGenerator, max_tokens
from rag.answer.local_model import read_gguf_metadata, resolve_gguf
from rag.config import Settings
from rag.errors import RagError
from rag.records import SearchResult

_ROLES = {"system": "system", "human": "user", "ai": "assistant"}
# Tokens a chat template adds around each message (role markers, separators)
TEMPLATE_TOKENS_PER_MESSAGE = 8


class LlamaCppChat(BaseChatModel):
    """A LangChain chat model over a loaded ``llama_cpp.Llama``: greedy decoding, a cap on
    the reply, and ``finish_reason`` in ``response_metadata`` as OpenAI clients report it.
    One generation at a time (a llama.cpp context is not shared between threads)."""

    client: Any
    max_tokens: int = 600
    temperature: float = 0.0
    _lock: threading.Lock = PrivateAttr(default_factory=threading.Lock)

    @property
    def _llm_type(self) -> str:
        return "llama-cpp"

    def _generate(self, messages: list[BaseMessage], stop=None, run_manager=None, **kwargs) -> ChatResult:
        with self._lock:
            out = self.client.create_chat_completion(messages=as_dicts(messages), **self._options(stop))
        choice = out["choices"][0]
        message = AIMessage(content=choice["message"].get("content") or "", response_metadata={"finish_reason": choice.get("finish_reason")})
        return ChatResult(generations=[ChatGeneration(message=message)])

    def _stream(self, messages: list[BaseMessage], stop=None, run_manager=None, **kwargs) -> Iterator[ChatGenerationChunk]:
        with self._lock:
            for part in self.client.create_chat_completion(messages=as_dicts(messages), stream=True, **self._options(stop)):
                choice = part["choices"][0]
                finish = choice.get("finish_reason")
                chunk = AIMessageChunk(
                    content=(choice.get("delta") or {}).get("content") or "",
                    response_metadata={"finish_reason": finish} if finish else {},
                )
                if run_manager and chunk.content:
                    run_manager.on_llm_new_token(chunk.content)
                yield ChatGenerationChunk(message=chunk)

    def _options(self, stop) -> dict:
        return {"max_tokens": self.max_tokens, "temperature": self.temperature, "stop": stop}

    def count_tokens(self, messages: list[BaseMessage]) -> int:
        """Tokens the messages take in the context (the template's markers estimated)."""
        return sum(
            len(self.client.tokenize(str(m.content).encode("utf-8"), add_bos=False, special=True)) + TEMPLATE_TOKENS_PER_MESSAGE
            for m in messages
        )


def as_dicts(messages: list[BaseMessage]) -> list[dict]:
    return [{"role": _ROLES.get(m.type, m.type), "content": str(m.content)} for m in messages]


def load_llama(path: Path, context_tokens: int, threads: int | None):
    """A ``llama_cpp.Llama`` for ``path``, or a one-line ``RagError`` saying what is wrong."""
    try:
        from llama_cpp import Llama
    except ImportError:
        raise RagError(
            "The local generator needs llama-cpp-python: pip install 'rag-news-zh[local]' "
            "(builds llama.cpp, about 7 minutes on 2 cores); or use --llm extractive"
        ) from None
    if not path.is_file():
        raise RagError(f"Model file {path} not found; run `rag model pull` for the packaged default, or set RAG_LLM_GGUF")
    try:
        metadata = read_gguf_metadata(path)
    except ValueError as exc:
        raise RagError(f"{path} is not a usable GGUF model file ({exc}); set RAG_LLM_GGUF to a .gguf chat model") from None
    if not metadata.get("tokenizer.chat_template"):
        raise RagError(f"{path} has no chat template: it is not a chat (instruct) model; set RAG_LLM_GGUF to one")
    try:
        return Llama(model_path=str(path), n_ctx=context_tokens, n_threads=threads, verbose=False)
    except (ValueError, RuntimeError, OSError) as exc:
        detail = " ".join(str(exc).split())[:160]
        raise RagError(f"{path} could not be loaded by llama.cpp (truncated or corrupt GGUF?): {detail}") from None


_MODELS: dict[tuple, LlamaCppChat] = {}
_MODELS_LOCK = threading.Lock()


@atexit.register
def _close_models() -> None:
    """Free the models before the interpreter tears down the bindings they need to close."""
    for model in _MODELS.values():
        model.client.close()
    _MODELS.clear()


def chat_model(settings: Settings) -> LlamaCppChat:
    """The loaded model for these settings (loaded once per process: a GGUF file is large)."""
    path = resolve_gguf(settings)
    key = (str(path), settings.llm_context, settings.llm_threads)
    with _MODELS_LOCK:
        if key not in _MODELS:
            llama = load_llama(path, settings.llm_context, settings.llm_threads or None)
            _MODELS[key] = LlamaCppChat(client=llama)
        model = _MODELS[key]
    return model.model_copy(update={"max_tokens": max_tokens(settings), "temperature": 0.0})


@contextmanager
def llama_errors(path: Path):
    try:
        yield
    except RagError:
        raise
    except (ValueError, RuntimeError) as exc:  # llama.cpp's own failures (e.g. context exceeded)
        raise RagError(f"llama.cpp failed on {path.name}: {' '.join(str(exc).split())[:200]}") from None


class LocalGenerator(ChatGenerator):
    """The ``local`` generator: ``ChatGenerator`` over a llama.cpp model, with the passages
    fitted into its context (the last passages are left out when all do not fit)."""

    name = "local"

    def __init__(self, settings: Settings, model: LlamaCppChat | None = None):
        self.path = resolve_gguf(settings)
        model = model if model is not None else chat_model(settings)
        super().__init__(settings, model, lambda: llama_errors(self.path))

    def fitted(self, question: str, contexts: Sequence[SearchResult]) -> list[SearchResult]:
        """The leading passages whose prompt leaves room for the reply in the context."""
        contexts = list(contexts)
        room = self.settings.llm_context - self.model.max_tokens
        prompt = P.answer_prompt(self.settings.prompts_dir)
        while contexts:
            if self.model.count_tokens(prompt.format_messages(**self.inputs(question, contexts))) <= room:
                return contexts
            contexts.pop()
        if self.model.count_tokens(prompt.format_messages(**self.inputs(question, []))) > room:
            raise RagError(
                f"The model's context ({self.settings.llm_context} tokens, RAG_LLM_CONTEXT) is too small for the "
                f"prompt and a {self.model.max_tokens}-token reply; raise RAG_LLM_CONTEXT or lower RAG_LLM_MAX_TOKENS"
            )
        raise RagError(
            f"The model's context ({self.settings.llm_context} tokens, RAG_LLM_CONTEXT) holds no passage beside the "
            f"prompt and a {self.model.max_tokens}-token reply; raise RAG_LLM_CONTEXT"
        )
