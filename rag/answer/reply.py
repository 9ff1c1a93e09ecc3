"""Reading a language model's reply before the citation check: the reasoning set apart,
the prompt's own notation removed, a reply cut at the token limit trimmed to whole
sentences, and replies that are not answers recognised.

Reasoning models (DeepSeek-R1, Qwen3, QwQ served by Ollama, vLLM or llama.cpp) write
their reasoning inside ``<think>…</think>`` before the answer; some servers drop the
opening tag. The reasoning is never the answer and never reaches the citation check.

Small models sometimes echo the prompt's notation instead of answering: a bare
``<资料 1>``, or a literal ``[n]`` copied from the citation rule. Those are removed; a
reply with nothing left, or one that only repeats the question, is not an answer.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from rag.answer.sentences import strip_markers
from rag.text.chars import has_word_character
from rag.text.features import bigrams, normalize
from rag.text.sentences import SENTENCE_BREAK

_THINK_OPEN, _THINK_CLOSE = "<think>", "</think>"
# The prompt's delimiters and the citation rule's placeholder (prompts/answer_*.md)
PROMPT_NOTATION = re.compile(r"</?\s*(?:资料|问题)\s*\d*\s*>|[\[［]\s*n\s*[\]］]", re.IGNORECASE)
# Share of a reply's character pairs found in the question above which it only repeats it
QUESTION_ECHO_SHARE = 0.9


@dataclass(frozen=True)
class Reply:
    answer: str  # what the model offers as the answer
    reasoning: str = ""  # its reasoning, shown apart (collapsed) when at all
    truncated: bool = False  # the model hit the token limit


def split_reasoning(text: str) -> Reply:
    """The answer and the ``<think>`` reasoning of a whole reply.

    An unclosed ``<think>`` (the token limit hit while reasoning) leaves no answer; a
    ``</think>`` without its opening tag closes reasoning that began the reply.
    """
    text = text or ""
    if _THINK_CLOSE in text and _THINK_OPEN not in text.split(_THINK_CLOSE, 1)[0]:
        reasoning, text = text.split(_THINK_CLOSE, 1)
        parts = [reasoning]
    else:
        parts = []
    answer = []
    while _THINK_OPEN in text:
        before, rest = text.split(_THINK_OPEN, 1)
        answer.append(before)
        thought, closed, text = rest.partition(_THINK_CLOSE)
        parts.append(thought)
        if not closed:
            text = ""
    answer.append(text)
    return Reply("".join(answer).strip(), "\n".join(p.strip() for p in parts if p.strip()))


def visible_answer(text_so_far: str) -> str:
    """The part of a reply streamed so far that may be shown as the answer.

    Inside an open ``<think>`` nothing new is shown; a partial tag at the end (``<thi``)
    is held back until it is complete.
    """
    answer = split_reasoning(text_so_far).answer
    for tag in (_THINK_OPEN, _THINK_CLOSE):
        for cut in range(len(tag) - 1, 0, -1):
            if answer.endswith(tag[:cut]):
                return answer[: -cut]
    return answer


def strip_notation(answer: str) -> str:
    """The answer without the prompt's echoed notation (``<资料 1>``, a literal ``[n]``)."""
    return PROMPT_NOTATION.sub("", answer).strip()


def whole_sentences(answer: str) -> str:
    """The answer up to its last finished sentence (a reply cut at the token limit ends mid-sentence)."""
    ends = [m.end() for m in SENTENCE_BREAK.finditer(answer)]
    return answer[: ends[-1]].strip() if ends else ""


def has_text(answer: str) -> bool:
    """Whether ``answer`` holds words once its markers are gone (not empty, not notation only)."""
    return has_word_character(normalize(strip_markers(answer)))


def not_an_answer(answer: str, question: str) -> str | None:
    """Why ``answer`` (notation already stripped) is not an answer to ``question``, or None."""
    content = normalize(strip_markers(answer))
    if not has_word_character(content):
        return "the reply holds no text (empty, or only the prompt's notation)"
    pairs = bigrams(content)
    if pairs and len(pairs & bigrams(question)) / len(pairs) >= QUESTION_ECHO_SHARE:
        return "the reply only repeats the question"
    return None
