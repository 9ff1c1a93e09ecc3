"""Answering: turn retrieved passages into a short answer with checked ``[n]`` citations.

Modules:

- ``question_input``: cleans what the user typed, refuses empty or wordless questions, cuts long ones;
- ``extractive``: the offline default; quotes the most relevant sentences verbatim;
- ``llm``: the chat-model generator, and any OpenAI-compatible endpoint through ``langchain-openai``;
- ``local``, ``local_model``: a GGUF chat model run in-process by llama.cpp, and its files;
- ``reply``: reads a model's reply (reasoning apart, prompt notation removed, non-answers);
- ``refusal``: decides from the evidence whether the passages answer the question;
- ``citations``: removes markers that point nowhere, cites unmarked sentences;
- ``rewrite``: turns a follow-up into a standalone question;
- ``prompts``: the Chinese templates in ``prompts/``.

Every generator implements the same two methods (see ``Generator``), so the chain in
``rag.chain`` treats them alike.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator, Protocol, Sequence

from rag.records import SearchResult

# The generators by name (--llm, RAG_GENERATOR, the chat's settings panel)
GENERATORS = ("extractive", "openai", "local")


@dataclass
class Draft:
    """A generator's raw output, before the citation check."""

    text: str
    refused: bool = False
    reason: str | None = None  # why it refused, for logs and debugging
    reasoning: str = ""  # a reasoning model's <think> text: shown apart, never checked as an answer
    retry: bool = False  # a reply that is no judgement (empty, notation only, cut before a sentence ended)
    source: int | None = None  # the rank of the passage holding the asked fact, when a sentence there holds it


class Generator(Protocol):
    name: str

    def generate(self, question: str, contexts: Sequence[SearchResult]) -> Draft: ...

    def stream(self, question: str, contexts: Sequence[SearchResult]) -> Iterator[str | Draft]:
        """Text deltas, then the complete ``Draft`` as the last item."""
        ...


__all__ = ["Draft", "Generator"]
