"""Turn a follow-up question into a standalone one before retrieval.

Offline the rewrite is rule-based (this module); with an LLM configured, ``rag.answer.llm``
asks the model with ``prompts/rewrite.md`` instead. Rules, applied to the last user
question made standalone (recursively, so chains of follow-ups work):

- ``那2030年呢？`` after ``太钢的碳中和目标是什么`` → ``太钢2030年的碳中和目标是什么``
  (a new time replaces the old one, or goes right after the subject);
- ``那宝武呢？`` → ``宝武的碳中和目标是什么`` (a new name replaces the subject);
- ``那降碳措施呢？`` → ``太钢的降碳措施是什么`` (a new topic replaces the topic);
- ``它的营收是多少`` → ``太钢的营收是多少`` (pronouns become the subject);
- ``具体有哪些措施？`` → ``太钢具体有哪些措施？`` (a missing subject is added).
"""

from __future__ import annotations

import re
from typing import Sequence

import jieba.posseg

from rag.text.question import profile

LEAD = re.compile(r"^(?:那么|那|还有|另外|再问一下|再问|请问|那请问|而|并且|以及|和)\s*")
TAIL = re.compile(r"(?:的情况|怎么样|如何|呢|吗|啊|呀)?\s*[？?。.!！]*\s*$")
PRONOUN = re.compile(r"它们|他们|她们|该公司|该企业|该集团|该项目|该|其|它|他|她|此|上述|这家公司|这家企业|这家|这个|那个")
TIME = re.compile(
    r"(?:(?:19|20)\d{2}年(?:\d{1,2}月(?:\d{1,2}日)?|[一二三四]季度|上半年|下半年|底|初|末)?|\d{1,2}月\d{1,2}日|\d{1,2}月(?:份)?|[一二三四]季度|上半年|下半年|今年|去年|明年)"
)
QUESTION_WORD = re.compile(r"什么|哪|多少|谁|几|如何|怎么|怎样|是否|吗")
ELLIPTIC = re.compile(r"^(?:具体|详细|主要|分别|其中|还|又|都)")
ASK = re.compile(r"(是什么|是多少|有哪些|有多少|是谁|是哪天|是哪年|是什么时候|在哪里|是哪里|怎么样|如何|多少|哪些|什么)[？?。]*$")
_NAME_FLAGS = ("nr", "ns", "nt", "nz", "j", "eng")


def is_follow_up(question: str) -> bool:
    """Whether ``question`` leans on an earlier turn (elliptical, a pronoun, ``那…呢``)."""
    q = question.strip()
    core = _core(q)
    if LEAD.match(q) or re.search(r"呢\s*[？?]*\s*$", q):
        return True
    if PRONOUN.search(q) and not _names(q):
        return True
    if ELLIPTIC.match(q) and not _names(q):
        return True
    return len(core) <= 6 and not ASK.search(q)


def rewrite_rule_based(question: str, history: Sequence[tuple[str, str]]) -> str:
    """A standalone version of ``question`` given earlier (user, assistant) turns."""
    question = question.strip()
    if not history or not is_follow_up(question):
        return question
    previous = rewrite_rule_based(history[-1][0], history[:-1])
    subject, topic, ask = _parts(previous)
    core = _core(question)
    if not subject:
        return f"{previous.rstrip('？?。')}，{core}" if core else previous

    times = TIME.findall(core)
    if times and not TIME.sub("", core).strip("的 "):
        old = TIME.findall(previous)
        if old:
            return previous.replace(old[0], times[0], 1)
        return f"{subject}{times[0]}{previous[len(subject):]}"
    if PRONOUN.search(question):
        replaced = PRONOUN.sub(subject, question, count=1)
        return replaced
    names = _names(core)
    if names and core.strip("的") in names:
        return f"{core.strip('的')}{previous[len(subject):]}"
    if core and not QUESTION_WORD.search(question):
        # a new topic for the same subject: 那降碳措施呢 → 太钢的降碳措施是什么
        return f"{subject}的{core.strip('的')}{ask or '是什么'}"
    if subject not in question:
        return f"{subject}{question}"
    return question


def _core(question: str) -> str:
    """The follow-up without its connectives and closing particles: ``那2030年呢？`` → ``2030年``."""
    return TAIL.sub("", LEAD.sub("", question.strip())).strip()


def _names(text: str) -> list[str]:
    return [p.word for p in jieba.posseg.cut(text) if p.flag.startswith(_NAME_FLAGS) and len(p.word) >= 2]


def _parts(question: str) -> tuple[str, str, str]:
    """(subject, topic, ask) of a standalone question: ``太钢的碳中和目标是什么`` → (太钢, 碳中和目标, 是什么)."""
    q = question.strip().rstrip("？?。")
    ask_match = ASK.search(q)
    ask = ask_match.group(1) if ask_match else ""
    body = q[: ask_match.start()] if ask_match else q
    if "的" in body:
        head, _, topic = body.partition("的")
        head = TIME.sub("", head).strip()
        if 1 < len(head) <= 12:
            return head, topic, ask
    names = _names(body) or list(profile(question).entities) or list(profile(question).terms[:1])
    if names:
        subject = names[0]
        if body.startswith(subject):
            return subject, body[len(subject) :].lstrip("的"), ask
        return subject, body, ask
    return "", body, ask
