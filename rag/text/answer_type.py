"""Whether a sentence holds an answer of the type a question asks for: a person's name, a
date, a quantity, a place, an organisation. Read from jieba's part-of-speech tags and the
units of ``lexicon.toml``, not from word lists of topics.
"""

from __future__ import annotations

import re
from functools import lru_cache

import jieba.posseg

from rag.text import lexicon as L
from rag.text.chars import CJK
from rag.text.features import NUMBER, YEAR, normalize
from rag.text.question import found, near
from rag.text.sentences import FACT_CLAUSE_END, clause_spans

_NUMERAL = r"(?:\d+(?:\.\d+)?|[一二三四五六七八九十百千万两几数]+)"
_UNITS = "|".join(sorted(map(re.escape, L.UNITS), key=len, reverse=True))
# a number, 余/多 (more than), a multiplier (12万余元: 万 multiplies, 元 is the unit), a unit
QUANTITY = re.compile(f"{_NUMERAL}\\s*(?:多|余)?\\s*(?:[万亿千百]\\s*(?:多|余)?)?\\s*(?P<unit>{_UNITS})")
_ARTICLE = re.compile(r"^一\s*(?!万|千|百|亿)\D$")  # 一个, 一项: "a", not a count
_YEAR_ONLY = re.compile(r"^(?:19|20)\d{2}\s*年$")
DATE = re.compile(r"(?:19|20)\d{2}年(?:\d{1,2}月)?(?:\d{1,2}日)?|\d{1,2}月\d{1,2}日|\d{1,2}月(?:上|中|下)旬|[一二三四五六七八九十]+月")


# jieba's tags of names: people, places, organisations, other proper names, abbreviations (太钢)
NAME_FLAGS = ("nr", "ns", "nt", "nz", "j")


@lru_cache(maxsize=1 << 14)
def tagged(sentence: str) -> tuple[tuple[str, str], ...]:
    """The sentence's (word, part-of-speech) pairs (cached: sentences recur across questions)."""
    return tuple((p.word, p.flag) for p in jieba.posseg.cut(sentence))


# A telephone number or code: digit groups joined by hyphens (0731-12388), or six digits and more
_CODE = re.compile(r"(?<![\d.])\d{3,}(?:[-－]\d{3,})+(?![\d.])|(?<![\d.])\d{6,}(?![\d.])")
_DAY = re.compile(r"\d{1,2}\s*[日号]|[一二三四五六七八九十]{1,3}[日号]|[今昨前明]天|[今昨]日")


def holds_answer(kind: str | None, sentence: str, question: str, unit: str = "") -> bool:
    """Whether ``sentence`` holds something of ``kind`` that the question itself does not name
    (for a number, in the ``unit`` the question names, when it names one; for a date asked
    to the day, ``unit`` 日, a day)."""
    if kind == "number":
        if not unit and any(code not in question for code in _CODE.findall(sentence)):
            return True  # a telephone number or a code answers "what number" with no unit asked
        dates = [m.span() for m in DATE.finditer(sentence)]
        return any(
            not _YEAR_ONLY.match(m.group()) and m.group() not in question and not _inside(m.span(), dates)
            and not _ARTICLE.match(m.group()) and (not unit or same_measure(unit, m.group("unit")))
            for m in QUANTITY.finditer(sentence)
        )
    if kind == "time" and unit == "日":
        return any(_not_dateline(sentence, m) for m in _DAY.finditer(sentence))  # asked to the day: a year or a month does not say which day
    if kind == "time":
        return any(_not_dateline(sentence, m) for m in DATE.finditer(sentence)) or any(
            flag == "t" and re.search(r"\d|[一二三四五六七八九十]", word) for word, flag in tagged(sentence)
        )
    if kind == "name":  # 哪个水库, 叫什么: a proper name, or a title in quotes
        return holds_answer("person", sentence, question) or holds_answer("place", sentence, question) \
            or holds_answer("organisation", sentence, question) or _quotes_new_title(sentence, question)
    wanted = {"person": ("nr",), "place": ("ns",), "organisation": ("nt", "nz")}.get(kind or "")
    if wanted is None:
        return True  # an untyped question: any sentence may answer it
    asked = normalize(question)
    for word, flag in tagged(sentence):
        if len(word) < 2 or normalize(word) in asked:
            continue
        if flag.startswith(wanted):
            return True
        if kind == "organisation" and word.endswith(L.ORGANISATION_NOUNS) and len(word) > 3:
            return True
    return False


# A dateline's end: 某地8月11日电, 8月11日消息 date the report, not the event it tells
_DATELINE_END = re.compile(r"\s*(?:电|消息)")


def _not_dateline(sentence: str, date: re.Match) -> bool:
    return not _DATELINE_END.match(sentence, date.end())


def stated_facts(sentence: str) -> list[str]:
    """The facts a sentence states, as they must appear in its source: its numbers and the
    names of people, places and organisations in it (normalised)."""
    text = normalize(sentence)
    names = [normalize(w) for w, flag in tagged(sentence) if flag.startswith(("nr", "ns", "nt")) and len(w.strip()) >= 2]
    return NUMBER.findall(text) + names


def same_measure(asked: str, stated: str) -> bool:
    """Whether a quantity in ``stated`` units answers a question asking in ``asked`` units:
    the same unit, a multiple of it (万吨 for 吨), or a unit counting the same thing (人 for 名)."""
    if asked.endswith(stated) or stated.endswith(asked):
        return True
    return any(asked in group and stated in group for group in L.SAME_MEASURE)


# Parts of speech of a word that makes a name another organisation's: 某集团|贵州|分公司
# (a place), 某|共享 (a verb or another name)
_QUALIFIER_FLAGS = ("ns", "nt", "nz", "nr", "j", "v")


# A name ending in a generic organisation word (某某集团, 某某分公司): two characters or more before it
_ORGANISATION_NAME = re.compile(
    f"[{CJK}]{{2,}}(?:" + "|".join(sorted((re.escape(w) for w in L.ORGANISATION_SUFFIXES if w not in ("有限", "责任", "股份", "控股")), key=len, reverse=True)) + ")"
)


def owned_by_another(owner: str, focus: str, sentence: str) -> bool:
    """Whether every mention of ``focus`` in ``sentence`` belongs to another organisation
    than ``owner``: asked for 某学会的会长, the sentence names 某学会江苏分会会长.

    A mention belongs to ``owner`` when its clause names the owner. It belongs to another
    when its clause names the owner's name proper (the owner without 集团, 公司) followed
    by a qualifier of its own (a place, a verb or another name), or names another
    organisation (某某集团) and not the owner's name proper. A clause that names no
    organisation at all is given the benefit of the doubt.
    """
    core = owner
    while (suffix := next((s for s in L.ORGANISATION_SUFFIXES if core.endswith(s) and len(core) > len(s) + 1), None)):
        core = core[: -len(suffix)]
    if not owner or not focus or len(core) < 2 or focus not in sentence:
        return False
    for match in re.finditer(re.escape(focus), sentence):
        clause = FACT_CLAUSE_END.split(sentence[: match.start()])[-1]
        if found(owner, normalize(clause)):
            return False
        at = clause.find(core)
        if at < 0:
            if _ORGANISATION_NAME.search(clause) or _sibling_unit(core, clause):
                continue  # the clause names an organisation, and not the asked one
            return False
        between = [(w, f) for w, f in tagged(clause[at + len(core) :]) if w not in L.ORGANISATION_SUFFIXES]
        if not (between and between[0][1].startswith(_QUALIFIER_FLAGS)):
            return False
    return True


def _sibling_unit(core: str, clause: str) -> bool:
    """Whether ``clause`` names another unit of the owner's group: the owner's first word
    followed by a name of its own (asked for 华岳铸造厂, the clause names 华岳轧钢厂; a
    following 集团 or 公司 names the group itself, not a sibling)."""
    lead = next((w for w, _ in tagged(core)), "")
    if len(lead) < 2 or lead == core or lead not in clause:
        return False
    rest = clause[clause.find(lead) + len(lead) :]
    words = [(w, f) for w, f in tagged(rest) if w.strip()]
    if not words or words[0][0] in L.ORGANISATION_SUFFIXES or core[len(lead) :].startswith(words[0][0]):
        return False  # the group itself, or the owner's own name going on (电视|台 for 电视台)
    return words[0][1].startswith(("n", "v", "j", "b"))


_QUOTED = re.compile(r"[“《「]([^”》」]{2,30})[”》」]")


def _quotes_new_title(sentence: str, question: str) -> bool:
    return any(m.group(1) not in question for m in _QUOTED.finditer(sentence))


_BOOK_TITLE = re.compile(r"《([^》]{1,30})》")


def names_another_work(question: str, sentence: str) -> bool:
    """Whether the question names a work by its title (《某片》) and the sentence names
    other titles but not that one: the fact it gives is another work's."""
    asked = [normalize(t) for t in _BOOK_TITLE.findall(question)]
    named = [normalize(t) for t in _BOOK_TITLE.findall(sentence)]
    if not asked or not named:
        return False
    return not any(a in n or n in a for a in asked for n in named)


# How far a person's name may stand from the role it holds: after the role, across a chain
# of further titles (某厂党委书记、厂长 张三); before it, within its clause (张三任某厂厂长).
_NAME_AFTER_ROLE = 16
_NAME_BEFORE_ROLE = 10
_SENTENCE_BREAK = re.compile("[。；;！!？?]")


def names_holder(role: str, sentence: str, question: str) -> bool:
    """Whether ``sentence`` names a person holding ``role``: the name stands right after the
    role (or after a chain of titles that starts with it) or right before it, and is not a name
    the question already holds. 党委书记 said of an office (由党委书记领学), with a name
    elsewhere in the sentence, does not count. The role's verb (执导 for 导演) counts only when
    the name touches it (某某执导); another title sharing its characters (总书记 for 党委书记)
    does not."""
    asked = normalize(question)
    words, names, at = [], [], 0
    for word, flag in tagged(sentence):
        words.append((at, at + len(word), word, flag))
        if flag.startswith("nr") and len(word) >= 2 and normalize(word) not in asked:
            names.append((at, at + len(word)))
        at += len(word)
    exact = [(m.start(), m.end()) for m in re.finditer(re.escape(role), sentence)]
    near_forms = [
        (start, end) for start, end, word, flag in words
        if flag == "v" and role not in word and word not in role and near(role, word)
    ]
    return any(_beside(sentence, role_at, names, _NAME_AFTER_ROLE, _NAME_BEFORE_ROLE) for role_at in exact) or any(
        _beside(sentence, role_at, names, 1, 1) for role_at in near_forms
    )


def _beside(sentence: str, role: tuple[int, int], names: list[tuple[int, int]], after: int, before: int) -> bool:
    """Whether a name starts at most ``after`` characters after the role or ends at most
    ``before`` characters before it, within its clause (a chain of titles joined by 、 is one)."""
    for start, end in names:
        if start >= role[1]:
            gap = sentence[role[1] : start]
            if len(gap) <= after and not FACT_CLAUSE_END.search(gap) and not _SENTENCE_BREAK.search(gap):
                return True
        elif end <= role[0]:
            gap = sentence[end : role[0]]
            if len(gap) <= before and not FACT_CLAUSE_END.search(gap) and not _SENTENCE_BREAK.search(gap):
                return True
    return False


def deputy_only(focus: str, sentence: str, question: str) -> bool:
    """Whether every mention of the asked role is its deputy (副局长 for 局长), unless the
    question asks for the deputy itself."""
    if f"副{focus}" in question or focus not in sentence:
        return False
    return all(sentence[max(0, m.start() - 1) : m.start()] == "副" for m in re.finditer(re.escape(focus), sentence))


def another_year(asked_years: tuple[str, ...], sentence: str) -> bool:
    """Whether the sentence dates its fact to a year, but not to any year the question asks about."""
    if not asked_years:
        return False
    stated = set(YEAR.findall(normalize(sentence)))
    return bool(stated) and not stated & set(asked_years)


# Parts of speech of a word naming a grade or a period: distinguishing words (大型, 中型,
# 高级) and numerals fused with their classifier (三季度)
_GRADE_FLAGS = ("b", "mq")


def another_grade(question: str, sentence: str) -> bool:
    """Whether the question names a grade or period (大型) the sentence does not, and the
    sentence names a sibling of it instead (中型: another word of the same kind
    ending in the same character): the fact it gives is of another grade."""
    asked = [w for w, flag in tagged(question) if flag in _GRADE_FLAGS and len(w) >= 2]
    if not asked:
        return False
    text = normalize(sentence)
    stated = [w for w, flag in tagged(sentence) if flag in _GRADE_FLAGS and len(w) >= 2]
    return any(a not in text and any(w != a and w[-1] == a[-1] for w in stated) for a in asked)


# An ordinal and what it counts: 第五期, 第3批, 首批 (首 is 第一)
_ORDINAL = re.compile(r"(第[一二三四五六七八九十\d]+|首)(轮|届|次|期|批|季|阶段)")


def another_ordinal(question: str, sentence: str) -> bool:
    """Whether the sentence counts the question's round (第五期) by another ordinal only (首期):
    asked about the fifth phase, a fact of the first does not answer."""
    asked = {(m.group(1).replace("第一", "首"), m.group(2)) for m in _ORDINAL.finditer(normalize(question))}
    if not asked:
        return False
    stated = {(m.group(1).replace("第一", "首"), m.group(2)) for m in _ORDINAL.finditer(normalize(sentence))}
    counted = {what for _, what in asked}
    return any(what in counted for _, what in stated) and not stated & asked


def names_member(category: str, piece: str, question: str) -> bool:
    """Whether ``piece`` names a member of ``category`` the question does not (哪个街道 → 某某街道):
    a name or noun right before the category, not a verb or a particle (走进|社区 names none)."""
    for m in re.finditer(f"[{CJK}A-Za-z0-9]{{1,10}}{re.escape(category)}", piece):
        words = tagged(piece[m.start() : m.end() - len(category)])
        flag = words[-1][1] if words else "v"
        if m.group() not in question and (flag == "vn" or not flag.startswith(_NOT_NAMING_FLAGS)):
            return True
    return False


# Parts of speech that cannot end a name: verbs (not verbal nouns), prepositions, particles,
# conjunctions, adverbs, pronouns
_NOT_NAMING_FLAGS = ("v", "p", "u", "c", "d", "r", "y")


def _inside(span: tuple[int, int], spans: list[tuple[int, int]]) -> bool:
    return any(start <= span[0] and span[1] <= end for start, end in spans)


# An article's closing credit: the authors' names alone in brackets, （张三 李四）
_CLOSING_CREDIT = re.compile(f"^[（(][{CJK}、，,\\s]{{2,16}}[）)]$")


def credits_person(sentence: str) -> bool:
    """A photo credit or byline (``张三 摄``, ``记者 李四``, ``（张三）`` closing an article):
    news style names a person this way."""
    if any(word in sentence for word in L.PHOTO_CREDIT_WORDS | L.BYLINE_WORDS):
        return True
    text = sentence.strip()
    return bool(_CLOSING_CREDIT.match(text)) and any(flag.startswith("nr") for _, flag in tagged(text))


def answer_clause(
    kind: str | None, sentence: str, question: str, unit: str = "", focus: tuple[str, ...] = ()
) -> tuple[int, int] | None:
    """The span of the clause of ``sentence`` that holds the asked fact, or None: the first
    clause naming the ``focus`` with a fact of the asked kind, else the first with such a fact
    (某厂新建管网70公里，改造管网36公里 → 改造管网36公里 when 改造 is asked)."""
    holding = [(start, end) for start, end in clause_spans(sentence) if holds_answer(kind, sentence[start:end], question, unit)]
    if not holding:
        return None
    naming = [(start, end) for start, end in holding if any(found(f, normalize(sentence[start:end])) for f in focus)]
    start, end = (naming or holding)[0]
    return start, start + _through_name(sentence[start:end], question) if kind == "person" else end


def _through_name(clause: str, question: str) -> int:
    """Where the first person's name the question does not hold ends: a reader asking who
    wants 某厂厂长张三, not the rest of what 张三 did in that clause."""
    asked, at = normalize(question), 0
    for word, flag in tagged(clause):
        at += len(word)
        if flag.startswith("nr") and len(word) >= 2 and normalize(word) not in asked:
            return at
    return len(clause)
