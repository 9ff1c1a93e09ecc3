"""The ``openai`` generator: any OpenAI-compatible chat endpoint through ``langchain-openai``.

Configured by Settings.llm_base_url / llm_model / llm_api_key (RAG_LLM_BASE_URL,
RAG_LLM_MODEL, RAG_LLM_API_KEY). The prompt (``prompts/answer_*.md``) numbers and
delimits the passages (and the question) as data, tells the model never to follow
instructions found in them, to cite ``[n]`` and to reply with the refusal text when the
passages lack the answer. A reply that recites the instructions instead of answering is
refused. The reply is read by ``rag.answer.reply`` first: reasoning (``<think>``) set
apart, echoed prompt notation removed, a reply cut at the token limit trimmed to whole
sentences, and empty or question-repeating replies refused. Every failure of the endpoint
becomes a ``RagError`` with a message saying what to do.
"""

from __future__ import annotations

from contextlib import contextmanager, nullcontext
from typing import Callable, ContextManager, Iterator, Sequence

from langchain_core.output_parsers import StrOutputParser
from langchain_core.runnables import Runnable

from rag.answer import Draft
from rag.answer import prompts as P
from rag.answer import reply as R
from rag.answer.sentences import strip_markers
from rag.config import Settings
from rag.errors import RagError
from rag.records import SearchResult
from rag.text.features import bigrams, normalize

HINT = "set RAG_LLM_BASE_URL or use --llm extractive"
# A reply whose character bigrams are at least this share the instructions' and no
# passage's recites the prompt (an injection obeyed) instead of answering; measured:
# a leaked system prompt scores 0.8-1.0, paraphrased answers that echo its example 0.21-0.23.
RECITAL_SHARE = 0.5
MODEL_REFUSED = "the model found no answer in the passages"


def check_config(settings: Settings) -> None:
    """Raise a clear error when the endpoint or model is not configured."""
    missing = [name for name, value in (("RAG_LLM_BASE_URL", settings.llm_base_url), ("RAG_LLM_MODEL", settings.llm_model)) if not (value or "").strip()]
    if missing:
        raise RagError(
            f"The openai generator needs {' and '.join(missing)} (an OpenAI-compatible endpoint, "
            "e.g. RAG_LLM_BASE_URL=http://127.0.0.1:8000/v1 RAG_LLM_MODEL=qwen2.5-7b-instruct); "
            "or use --llm extractive."
        )


def chat_model(settings: Settings):
    """A ``ChatOpenAI`` client for the configured endpoint."""
    from langchain_openai import ChatOpenAI

    check_config(settings)
    return ChatOpenAI(
        base_url=settings.llm_base_url.strip(),
        model=settings.llm_model.strip(),
        # local servers usually ignore the key, but the client insists on one
        api_key=settings.llm_api_key or "not-needed",
        temperature=settings.llm_temperature,
        timeout=settings.llm_timeout,
        # sent as max_tokens, the name every local server reads (llama.cpp, Ollama, vLLM,
        # DeepSeek); langchain-openai's own parameter becomes max_completion_tokens
        extra_body={"max_tokens": max_tokens(settings)},
        max_retries=1,
    )


def max_tokens(settings: Settings) -> int:
    """The cap on one reply: RAG_LLM_MAX_TOKENS, else twice the answer's character budget
    (a Chinese character is about one token); a looping model stops there."""
    return settings.llm_max_tokens if settings.llm_max_tokens > 0 else 2 * settings.answer_max_chars


@contextmanager
def endpoint_errors(base_url: str | None, timeout: float | None = None):
    """Turn client exceptions into one-line ``RagError``s."""
    import openai

    try:
        yield
    except openai.APITimeoutError:
        raise RagError(
            f"LLM endpoint {base_url} did not answer within {timeout:g} s (RAG_LLM_TIMEOUT); "
            "raise RAG_LLM_TIMEOUT for a slow local model, or use --llm extractive"
        ) from None
    except openai.APIStatusError as exc:
        detail = _short(getattr(exc, "message", "") or str(exc))
        raise RagError(f"LLM endpoint {base_url} returned HTTP {exc.status_code}: {detail}; check RAG_LLM_MODEL / RAG_LLM_API_KEY, {HINT}") from None
    except openai.APIConnectionError as exc:  # refused, DNS, TLS, timeout
        cause = exc.__cause__ or exc
        raise RagError(f"LLM endpoint {base_url} unreachable: {_short(str(cause) or type(cause).__name__)}; {HINT}") from None
    except openai.OpenAIError as exc:
        raise RagError(f"LLM endpoint {base_url} failed: {_short(str(exc))}; {HINT}") from None


def _short(text: str, limit: int = 200) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[:limit] + "…"


def recites_instructions(reply: str, instructions: str, contexts: Sequence[SearchResult]) -> bool:
    """Whether ``reply`` repeats the prompt's own instructions rather than the passages."""
    words = bigrams(strip_markers(reply))
    if len(words) < 10:
        return False
    passages: set[str] = set()
    for r in contexts:
        passages |= bigrams(r.chunk.text)
    recited = (words & bigrams(instructions)) - passages
    return len(recited) / len(words) >= RECITAL_SHARE


def is_refusal(text: str, refusal: str) -> bool:
    """Whether the model's reply is the refusal (possibly with punctuation or a stray marker)."""
    body = normalize(strip_markers(text)).strip("。.！!")
    return body == normalize(refusal) or (normalize(refusal) in body and len(body) <= len(normalize(refusal)) + 12)


class ChatGenerator:
    """Answer with any LangChain chat model; the LCEL chain is ``prompt | model``.

    The ``openai`` generator gives it a ``ChatOpenAI`` client, the ``local`` one a
    llama.cpp model run in-process (``rag.answer.local``); the prompts, the reading of
    the reply and the refusal logic are the same for both. ``errors`` turns the model's
    exceptions into one-line ``RagError``s.
    """

    name = "chat"

    def __init__(self, settings: Settings, model, errors: Callable[[], ContextManager] | None = None):
        self.settings = settings
        self.model = model
        self.refusal = P.refusal_text(settings.prompts_dir)
        self.errors = errors or nullcontext
        # The evidence check run before the model (the extractive answerer, rag.answer.refusal):
        # a refused Draft when the passages cannot answer; else its answer, whose ``source``
        # names the passage holding the asked fact, when one does.
        self.evidence_gate: Callable[[str, Sequence[SearchResult]], Draft] | None = None

    def _evidence(self, question: str, contexts: Sequence[SearchResult]) -> Draft:
        if not contexts:
            return Draft(self.refusal, True, "no passages")
        return self.evidence_gate(question, contexts) if self.evidence_gate else Draft("")

    @staticmethod
    def _retry_with(draft: Draft, evidence: Draft, contexts: Sequence[SearchResult]) -> list[SearchResult] | None:
        """The passages to ask again with, or None. A reply that is no judgement is asked again
        with the best passage alone. So is the model's refusal when the evidence names the
        passage holding the asked fact (a small model misses it among several passages)."""
        if evidence.source is not None and draft.refused and (draft.retry or draft.reason == MODEL_REFUSED):
            held = [r for r in contexts if r.rank == evidence.source]
            if held and (len(contexts) > 1 or draft.retry):
                return held
        if draft.retry and len(contexts) > 1:
            return list(contexts[:1])
        return None

    def fitted(self, question: str, contexts: Sequence[SearchResult]) -> Sequence[SearchResult]:
        """The passages the prompt can hold (all of them; a model with a small context overrides this)."""
        return contexts

    def runnable(self) -> Runnable:
        """dict(question, context, count, max_chars, refusal) → the model's message."""
        return P.answer_prompt(self.settings.prompts_dir) | self.model

    def inputs(self, question: str, contexts: Sequence[SearchResult]) -> dict:
        return {
            "question": P.inert(question),  # placed between <问题> tags, which it must not close
            "context": P.format_passages(self.settings.prompts_dir, contexts),
            "count": len(contexts),
            "max_chars": self.settings.answer_max_chars,
            "refusal": self.refusal,
        }

    def generate(self, question: str, contexts: Sequence[SearchResult]) -> Draft:
        evidence = self._evidence(question, contexts)
        if evidence.refused:
            return evidence
        draft = self._ask(question, contexts)
        if (again := self._retry_with(draft, evidence, contexts)) is not None:
            draft = self._ask(question, again)
        return draft

    def _ask(self, question: str, contexts: Sequence[SearchResult]) -> Draft:
        contexts = self.fitted(question, contexts)
        with self.errors():
            message = self.runnable().invoke(self.inputs(question, contexts))
        truncated = (message.response_metadata or {}).get("finish_reason") == "length"
        return self._draft(question, str(message.content or ""), contexts, truncated)

    def stream(self, question: str, contexts: Sequence[SearchResult]) -> Iterator[str | Draft]:
        """The answer's text as it comes (reasoning held back), then the checked ``Draft``; a reply
        asked again (``_retry_with``) has its text follow."""
        evidence = self._evidence(question, contexts)
        if evidence.refused:
            yield evidence.text
            yield evidence
            return
        for part in self._stream_reply(question, contexts):
            if isinstance(part, Draft) and (again := self._retry_with(part, evidence, contexts)) is not None:
                yield from self._stream_reply(question, again)
            else:
                yield part

    def _stream_reply(self, question: str, contexts: Sequence[SearchResult]) -> Iterator[str | Draft]:
        contexts = self.fitted(question, contexts)
        text, shown, truncated = "", "", False
        with self.errors():
            for chunk in self.runnable().stream(self.inputs(question, contexts)):
                text += str(chunk.content or "")
                truncated = truncated or (chunk.response_metadata or {}).get("finish_reason") == "length"
                visible = R.visible_answer(text)
                if normalize(self.refusal).startswith(normalize(visible)):
                    continue  # may be the refusal, which may be asked again: held back until the reply ends
                if len(visible) > len(shown) and visible.startswith(shown):
                    yield visible[len(shown) :]
                    shown = visible
        yield self._draft(question, text, contexts, truncated)

    def _draft(self, question: str, text: str, contexts: Sequence[SearchResult], truncated: bool = False) -> Draft:
        """The checked reading of a whole reply, its ``<think>`` reasoning kept apart.

        Reasoning an API sends in a field of its own (DeepSeek's ``reasoning_content``) is
        dropped by ``ChatOpenAI`` before it gets here: it never becomes the answer.
        """
        reply = R.split_reasoning(text)
        draft = self._read(question, reply.answer, contexts, truncated)
        draft.reasoning = reply.reasoning
        return draft

    def _read(self, question: str, answer: str, contexts: Sequence[SearchResult], truncated: bool) -> Draft:
        answer = R.strip_notation(answer)
        if truncated:  # cut at the token limit: keep the finished sentences
            answer = R.whole_sentences(answer)
        if not answer:
            why = "the reply was cut at the token limit before a sentence ended" if truncated else "the reply was empty"
            return Draft(self.refusal, True, why, retry=True)
        if is_refusal(answer, self.refusal):
            return Draft(self.refusal, True, MODEL_REFUSED)
        if why := R.not_an_answer(answer, question):
            return Draft(self.refusal, True, why, retry=not R.has_text(answer))
        instructions = P.load_prompt(self.settings.prompts_dir, P.ANSWER_SYSTEM) + P.load_prompt(self.settings.prompts_dir, P.ANSWER_USER)
        if recites_instructions(answer, instructions, contexts):
            return Draft(self.refusal, True, "the model repeated its instructions (an injected request obeyed)")
        return Draft(answer)

    def rewrite(self, question: str, history: Sequence[tuple[str, str]]) -> str:
        """A standalone question from the model (``prompts/rewrite.md``)."""
        from langchain_core.messages import HumanMessage

        prompt = P.fill(
            self.settings.prompts_dir,
            P.REWRITE,
            history=P.format_history(self.settings.prompts_dir, history),
            question=question,
        )
        with self.errors():
            text = R.split_reasoning((self.model | StrOutputParser()).invoke([HumanMessage(prompt)])).answer
        lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
        rewritten = lines[-1] if lines else ""
        for prefix in ("改写后的完整问题：", "改写后的问题：", "问题：", "完整问题："):
            rewritten = rewritten.removeprefix(prefix)
        rewritten = rewritten.strip().strip("“”\"'")
        return rewritten or question


class OpenAIGenerator(ChatGenerator):
    """The ``openai`` generator: a chat model behind any OpenAI-compatible endpoint."""

    name = "openai"

    def __init__(self, settings: Settings, model=None):
        check_config(settings)
        self.base_url = settings.llm_base_url
        super().__init__(
            settings,
            model if model is not None else chat_model(settings),
            lambda: endpoint_errors(settings.llm_base_url, settings.llm_timeout),
        )
