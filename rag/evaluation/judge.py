"""LLM-judged answer metrics, claim by claim (the way ragas scores them).

- **faithfulness** (answers that are not refusals): the LLM splits the answer into
  atomic claims, then decides for each claim whether the passages given to the
  generator support it. Score = supported claims / claims.
- **answer correctness** (answerable questions): the answer and the reference answer
  are both split into claims; precision = answer claims supported by the reference,
  recall = reference claims supported by the answer; score = F1 of the two. A refused
  answerable question scores 0 without calling the LLM.

The judge is an OpenAI-compatible chat-completions endpoint reached through
``langchain_openai.ChatOpenAI`` with ``Settings.llm_base_url`` / ``llm_model`` /
``llm_api_key``. Without them (the default, offline) the judge is *skipped* and the
report says so; an unreachable endpoint is also recorded as skipped, with the reason.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Callable, Sequence
from typing import Any

from rag.evaluation import metrics

# chat(system, user) → the model's reply text
Chat = Callable[[str, str], str]

CLAIMS_SYSTEM = (
    "You split a text into atomic claims for fact checking. Each claim is one short, "
    "self-contained statement (resolve pronouns, keep numbers, names and dates exactly), "
    "written in the language of the text (usually Chinese). Ignore citation markers like [1]. "
    'Reply with JSON only: {"claims": ["...", "..."]}. A text with no factual content gives {"claims": []}.'
)
CLAIMS_USER = "问题 / question: {question}\n\n文本 / text:\n{text}"

VERDICT_SYSTEM = (
    "You check claims against a reference text. For each numbered claim decide whether the "
    "reference text states or directly implies it (1) or not (0: contradicted or not mentioned). "
    'Reply with JSON only: {"verdicts": [{"claim": 1, "verdict": 1, "reason": "..."}, ...]} '
    "with exactly one verdict per claim, in order."
)
VERDICT_USER = "参考文本 / reference:\n{reference}\n\n待核查的陈述 / claims:\n{claims}"


class JudgeUnavailable(Exception):
    """The judge endpoint cannot be reached at all (stops judging; recorded as skipped)."""


def skipped(reason: str) -> dict[str, Any]:
    return {"skipped": True, "reason": reason}


def configured(settings) -> str | None:
    """``None`` when a judge LLM is configured, else why the judge is skipped."""
    if not settings.llm_base_url or not settings.llm_model:
        return "no LLM configured (set RAG_LLM_BASE_URL and RAG_LLM_MODEL, or --llm-base-url/--llm-model); offline run"
    return None


def make_chat(settings) -> Chat:
    """A :data:`Chat` over ``langchain_openai.ChatOpenAI`` (temperature 0)."""
    import openai
    from langchain_core.messages import HumanMessage, SystemMessage
    from langchain_openai import ChatOpenAI

    llm = ChatOpenAI(
        base_url=settings.llm_base_url,
        model=settings.llm_model,
        api_key=settings.llm_api_key or "not-needed",
        temperature=0,
        timeout=settings.llm_timeout,
        max_retries=1,
    )

    def chat(system: str, user: str) -> str:
        try:
            reply = llm.invoke([SystemMessage(content=system), HumanMessage(content=user)])
        except openai.APITimeoutError as exc:  # slow on this request: that question only
            raise ValueError(f"judge request timed out: {exc}") from None
        except (openai.APIConnectionError, openai.AuthenticationError, openai.NotFoundError) as exc:
            raise JudgeUnavailable(f"{type(exc).__name__}: {exc}") from None
        except openai.APIError as exc:  # e.g. a 500 on one request: that question only
            raise ValueError(f"judge request failed: {type(exc).__name__}: {exc}") from None
        return reply.content if isinstance(reply.content, str) else json.dumps(reply.content, ensure_ascii=False)

    return chat


def parse_json(reply: str) -> dict[str, Any]:
    """The first JSON object in a reply (code fences and chatter around it are ignored)."""
    match = re.search(r"\{.*\}", reply, re.S)
    if not match:
        raise ValueError(f"no JSON object in the judge's reply: {reply[:200]!r}")
    data = json.loads(match.group(0))
    if not isinstance(data, dict):
        raise ValueError("the judge's reply is not a JSON object")
    return data


def extract_claims(chat: Chat, question: str, text: str) -> list[str]:
    """The atomic claims of ``text`` (citation markers removed first)."""
    text = metrics.MARKER.sub("", text).strip()
    if not text:
        return []
    claims = parse_json(chat(CLAIMS_SYSTEM, CLAIMS_USER.format(question=question, text=text))).get("claims", [])
    return [c.strip() for c in claims if isinstance(c, str) and c.strip()]


def verify_claims(chat: Chat, claims: Sequence[str], reference: str) -> list[int]:
    """One 0/1 verdict per claim: is it supported by ``reference``?"""
    if not claims:
        return []
    numbered = "\n".join(f"{i}. {c}" for i, c in enumerate(claims, start=1))
    verdicts = parse_json(chat(VERDICT_SYSTEM, VERDICT_USER.format(reference=reference, claims=numbered))).get("verdicts", [])
    by_claim: dict[int, int] = {}
    for position, item in enumerate(verdicts, start=1):
        if isinstance(item, dict):
            number = item.get("claim", position)
            number = number if isinstance(number, int) else position
            by_claim[number] = 1 if str(item.get("verdict", 0)).strip() in ("1", "true", "True", "yes") else 0
    return [by_claim.get(i, 0) for i in range(1, len(claims) + 1)]


def faithfulness(chat: Chat, question: str, answer: str, contexts: Sequence[str]) -> dict[str, Any]:
    """Supported claims / claims of the answer, against the generator's passages."""
    claims = extract_claims(chat, question, answer)
    if not claims:
        return {"score": None, "claims": [], "verdicts": []}
    reference = "\n\n".join(f"[{i}] {t}" for i, t in enumerate(contexts, start=1))
    verdicts = verify_claims(chat, claims, reference)
    return {"score": sum(verdicts) / len(claims), "claims": claims, "verdicts": verdicts}


def answer_correctness(chat: Chat, question: str, answer: str, reference: str) -> dict[str, Any]:
    """Claim-level F1 of the answer against the reference answer."""
    answer_claims = extract_claims(chat, question, answer)
    reference_claims = extract_claims(chat, question, reference)
    precision_v = verify_claims(chat, answer_claims, reference)
    recall_v = verify_claims(chat, reference_claims, metrics.MARKER.sub("", answer))
    precision = sum(precision_v) / len(answer_claims) if answer_claims else 0.0
    recall = sum(recall_v) / len(reference_claims) if reference_claims else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"score": f1, "precision": precision, "recall": recall, "answer_claims": answer_claims, "reference_claims": reference_claims}


def judge_row(chat: Chat, row: dict[str, Any]) -> dict[str, Any]:
    """Faithfulness and correctness for one per-question row (``None`` where not applicable)."""
    out: dict[str, Any] = {"faithfulness": None, "answer_correctness": None}
    if row.get("answer") is None:
        return out
    if not row["refused"]:
        out["faithfulness_detail"] = faithfulness(chat, row["question"], row["answer"], [c["text"] for c in row["contexts"]])
        out["faithfulness"] = out["faithfulness_detail"]["score"]
    if row["answerable"]:
        if row["refused"]:
            out["answer_correctness"] = 0.0
        else:
            out["correctness_detail"] = answer_correctness(chat, row["question"], row["answer"], row["reference_answer"])
            out["answer_correctness"] = out["correctness_detail"]["score"]
    return out


def judge_rows(rows: Sequence[dict[str, Any]], settings, *, chat: Chat | None = None, progress: bool = True) -> tuple[dict[str, Any], dict[str, dict]]:
    """Judge every answered row: (report block, per-question results by id).

    Returns a ``{"skipped": true, "reason": ...}`` block, and no per-question results,
    when no LLM is configured or the endpoint cannot be reached.
    """
    from tqdm import tqdm

    if chat is None:
        reason = configured(settings)
        if reason:
            return skipped(reason), {}
        chat = make_chat(settings)
    answered = [r for r in rows if r.get("answer") is not None]
    if not answered:
        return skipped("no answers to judge (--retrieval-only)"), {}
    per_question: dict[str, dict] = {}
    errors: dict[str, str] = {}
    for row in tqdm(answered, desc="judge", unit="q", file=sys.stderr, disable=not progress):
        try:
            per_question[row["id"]] = judge_row(chat, row)
        except JudgeUnavailable as exc:
            return skipped(f"LLM endpoint {settings.llm_base_url} unreachable ({exc})"), {}
        except (ValueError, KeyError, TypeError) as exc:  # a malformed reply: that question only
            errors[row["id"]] = str(exc)
    results = list(per_question.values())
    return {
        "skipped": False,
        "model": settings.llm_model,
        "base_url": settings.llm_base_url,
        "faithfulness": metrics.mean(r["faithfulness"] for r in results),
        "answer_correctness": metrics.mean(r["answer_correctness"] for r in results),
        "counts": {
            "judged": len(per_question),
            "faithfulness": sum(1 for r in results if r["faithfulness"] is not None),
            "answer_correctness": sum(1 for r in results if r["answer_correctness"] is not None),
            "errors": len(errors),
        },
        "errors": errors,
    }, per_question
