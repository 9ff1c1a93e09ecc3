"""What a question asks about: its content terms, names, years and numbers, the answer type
its question word implies, and its focus (the attribute asked for).

``某馆的馆长是谁`` → answer type ``person``, focus ``馆长``;
``某校共有几位教师`` → ``number``, focus ``教师``. Question words, function words and
units come from ``lexicon.toml``; names and nouns from jieba's part-of-speech tags. The
extractive answerer (which sentences matter), retrieval's sentence re-ranking and the
refusal check all read the same ``QuestionProfile``.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import NamedTuple

import jieba
import jieba.posseg

from rag.text import lexicon as L
from rag.text.chars import CJK
from rag.text.features import NUMBER, YEAR, normalize

jieba.setLogLevel(logging.WARNING)

# Answer types that ask for one fact of a kind a sentence either holds or does not.
TYPED_ANSWERS = ("person", "time", "number", "place", "organisation", "name")

_LETTER = re.compile(f"[{CJK}A-Za-z]")
_ENTITY_FLAGS = ("nr", "ns", "nt", "nz", "eng", "j")
_INTERROGATIVES = L.interrogatives()
_TYPE_NOUNS = L.type_nouns()
_BY_LENGTH = sorted(_INTERROGATIVES, key=len, reverse=True)
# Single-character tokens that join nothing: particles (u), prepositions (p), modal
# particles (y), pronouns (r); 是 and 有 as the copula.
_JOINING_FLAGS = ("u", "p", "y", "r")
_NOT_CONTENT = L.FUNCTION_WORDS | L.QUESTION_FRAME


@dataclass(frozen=True)
class QuestionProfile:
    text: str
    terms: tuple[str, ...]  # content words, longest first, no question words
    entities: tuple[str, ...]  # names of people, places, organisations (a subset of terms)
    years: tuple[str, ...]
    numbers: tuple[str, ...]  # numbers other than years
    content_bigrams: frozenset[str] = field(default_factory=frozenset)
    answer_type: str | None = None  # person, time, number, place, organisation, list, reason, manner, thing
    focus: tuple[str, ...] = ()  # the attribute asked for (厂长, 员工, 目标), nearest the question word first
    owner: str = ""  # whose attribute it is: the phrase before 的 (某学会 in 某学会的会长是谁)
    event: tuple[str, ...] = ()  # a when-question's event: its verb and the verb's object (投身|扶贫)
    which: str = ""  # "which X" asks for a member of X, named as such (哪个街道 → 某某街道)
    category: str = ""  # the kind of thing a what-question asks for (什么|头衔): the papers name its member instead
    role: bool = False  # asks who holds the focus (某厂的厂长是谁, 谁是某厂厂长): the name must go with it
    unit: str = ""  # the unit a how-many question names (多少吨 → 吨)
    date_unit: str = ""  # how precise a date a when-question asks: 日 (哪天, 几号), 月 (几月), 年 (哪年)
    questions_asked: int = 0  # question words in the question: more than one is a multi-part question
    members: str = ""  # the type of the several answers asked for: person for 各自是谁, place for 哪些国家

    @property
    def wants_list(self) -> bool:
        """Goals, measures, lists: every item is wanted."""
        return self.answer_type == "list" or any(t in L.LIST_CUES for t in self.terms)

    @property
    def wants_fact(self) -> bool:
        """One figure, date, name or place (a multi-part question may be answered in part)."""
        return self.answer_type in TYPED_ANSWERS and self.questions_asked == 1


@dataclass(frozen=True)
class _Token:
    word: str
    flag: str
    asks: str | None = None  # the answer type, for a question word


@lru_cache(maxsize=1024)
def profile(question: str) -> QuestionProfile:
    """Analyse a question (cached: the chain, the answerer and the refusal check share it)."""
    text = question.strip()
    years = tuple(dict.fromkeys(YEAR.findall(normalize(text))))
    numbers = tuple(n for n in dict.fromkeys(NUMBER.findall(normalize(text))) if n not in years)
    tokens = [_token(word, flag) for word, flag in _joined_question_words(jieba.posseg.cut(text))]
    runs = _content_runs(tokens)
    terms: list[str] = []
    entities: list[str] = []
    for run in runs:
        for token in run:
            if len(token.word) >= 2 and _has_letters(token.word) and not NUMBER.fullmatch(token.word):
                terms.append(token.word)
                if token.flag.startswith(_ENTITY_FLAGS) and not token.word.endswith(tuple(L.GENERIC_NOUNS)):
                    entities.append(token.word)
        terms.extend(_joined_singles(run))  # 碳|中|和 → 碳中和
    unit = _asked_unit(tokens)
    asked = _asked(tokens, unit)
    if asked.kind == "number" and not unit and asked.focus and _measures(asked.focus[0]):
        unit = asked.focus[0]  # the 体重 or 年龄 asked: an attribute measured in its own units (公斤, 岁)
    return QuestionProfile(
        text=text,
        terms=tuple(sorted(dict.fromkeys(terms), key=len, reverse=True)),
        entities=tuple(dict.fromkeys(entities)),
        years=years,
        numbers=numbers,
        content_bigrams=frozenset(g for run in runs for g in _run_bigrams(run)),
        answer_type=asked.kind,
        focus=asked.focus,
        owner=asked.owner,
        event=asked.event,
        which=asked.which,
        category=asked.category,
        role=not asked.event and _asks_holder(tokens, asked.focus),  # 某会|是|谁|主持: a deed, not a role
        unit=unit,
        date_unit=_asked_date_unit(tokens),
        questions_asked=sum(1 for t in tokens if t.asks),
        members=_members(tokens, asked.kind),
    )


def _members(tokens: list[_Token], kind: str | None) -> str:
    """The type of the several answers a question asks for, or "": the type noun after a list
    question word (哪些|国家 → place), or a person for 哪几位 and for 谁 with 各自."""
    at = next((i for i, t in enumerate(tokens) if t.asks), None)
    if at is None:
        return ""
    if kind == "list":
        following = next((t for t in tokens[at + 1 :] if not t.flag.startswith("q") and t.flag != "x"), None)
        named = _TYPE_NOUNS.get(following.word, "") if following else ""
        if named in ("person", "place", "organisation"):
            return named
        return "person" if tokens[at].word.endswith(("位", "名")) else ""
    if kind == "person" and any(t.word in L.SEVERAL for t in tokens):
        return "person"
    return ""


def _joined_question_words(pairs) -> list[tuple[str, str]]:
    """jieba's (word, tag) pairs, with a question word it split rejoined (多|大 → 多大, 叫|什么 → 叫什么)."""
    pairs = [(p.word.strip(), p.flag) for p in pairs if p.word.strip()]
    out: list[tuple[str, str]] = []
    i = 0
    while i < len(pairs):
        joined = next(
            (n for n in (3, 2) if i + n <= len(pairs) and "".join(w for w, _ in pairs[i : i + n]) in _INTERROGATIVES), None
        )
        if joined:
            out.append(("".join(w for w, _ in pairs[i : i + joined]), "r"))
            i += joined
        elif pairs[i][0] == "哪" and i + 1 < len(pairs) and pairs[i + 1][0].startswith("几") and pairs[i + 1][1] == "m":
            out.append(("哪" + pairs[i + 1][0], "r"))  # 哪|几栋: which ones, a list
            i += 2
        elif out and _INTERROGATIVES.get(out[-1][0]) == "time" and _DATE_WORD.fullmatch(pairs[i][0]):
            out[-1] = (out[-1][0] + pairs[i][0], "r")  # 哪月|哪天: one date, asked to the day
            i += 1
        elif _asks_degree(pairs, i):
            out.append((pairs[i][0] + pairs[i + 1][0], _DEGREE_FLAG))
            i += 2
        else:
            out.append(pairs[i])
            i += 1
    return out


# A question word for a finer part of a date (几日, 哪天), following one for a coarser part (几月)
_DATE_WORD = re.compile("[几哪][一]?[月日号天]")

# The tag given to 多 joined with the adjective after it (多|深): a question word asking for a number
_DEGREE_FLAG = "r_degree"


def _asks_degree(pairs: list[tuple[str, str]], i: int) -> bool:
    """多 followed by a one-character adjective (多|深, 多|宽): how deep, how wide."""
    return (
        pairs[i][0] == L.DEGREE_PREFIX and i + 1 < len(pairs) and len(pairs[i + 1][0]) == 1 and pairs[i + 1][1] == "a"
    )


def _token(word: str, flag: str) -> _Token:
    if flag == _DEGREE_FLAG:
        return _Token(word, "r", "number")
    asks = _INTERROGATIVES.get(word)
    if asks is None:
        # 几岁, 哪几个: a question word fused with what follows it (one-character
        # question words only where jieba tags the token as a pronoun or numeral)
        prefix = next(
            (w for w in _BY_LENGTH if word.startswith(w) and (len(w) >= 2 or flag in ("r", "m", "l"))), None
        )
        asks = _INTERROGATIVES[prefix] if prefix else None
    return _Token(word, flag, asks)


def _content_runs(tokens: list[_Token]) -> list[list[_Token]]:
    """Runs of adjacent content tokens: question words, function words, numbers and punctuation end a run."""
    runs: list[list[_Token]] = [[]]
    for i, token in enumerate(tokens):
        if token.asks or not _is_content(token, _in_unknown_word(tokens, i)):
            runs.append([])
        else:
            runs[-1].append(token)
    return [run for run in runs if run]


def _is_content(token: _Token, in_unknown_word: bool = False) -> bool:
    word = token.word
    if word in _NOT_CONTENT and not in_unknown_word or not _has_letters(word):
        return False
    if len(word) == 1 and (token.flag.startswith(_JOINING_FLAGS) or word in L.FUNCTION_WORDS and not in_unknown_word):
        return False
    return True


def _in_unknown_word(tokens: list[_Token], i: int) -> bool:
    """Whether a one-character token sits beside another: jieba splits a word it does not
    know into single characters (碳|中|和), and those are content even when one of them
    is also a function word on its own."""
    if len(tokens[i].word) != 1:
        return False
    return any(
        0 <= j < len(tokens) and len(tokens[j].word) == 1 and _has_letters(tokens[j].word)
        and not tokens[j].flag.startswith(_JOINING_FLAGS) and not tokens[j].asks
        for j in (i - 1, i + 1)
    )


def _has_letters(word: str) -> bool:
    return bool(_LETTER.search(word))


def _joined_singles(run: list[_Token]) -> list[str]:
    """Consecutive one-character tokens joined: jieba splits words it does not know (碳|中|和)."""
    joined, current = [], ""
    for token in run + [_Token("", "x")]:
        if len(token.word) == 1 and _has_letters(token.word):
            current += token.word
            continue
        if len(current) >= 2:
            joined.append(current)
        current = ""
    return joined


def _run_bigrams(run: list[_Token]) -> set[str]:
    """Character pairs inside each content word, and across adjacent one-character tokens only.

    碳|中|和|目标 gives 碳中, 中和, 目标, not 和目: a pair across a word boundary would be
    text no passage needs to hold.
    """
    grams: set[str] = set()
    for i, token in enumerate(run):
        word = normalize(token.word)
        grams.update(word[j : j + 2] for j in range(len(word) - 1))
        if i and len(word) == 1 and len(run[i - 1].word) == 1:
            grams.add(normalize(run[i - 1].word) + word)
    return grams


class _Asked(NamedTuple):
    kind: str | None = None
    focus: tuple[str, ...] = ()
    owner: str = ""
    event: tuple[str, ...] = ()
    which: str = ""
    category: str = ""


def _run_head(tokens: list[_Token], i: int) -> int:
    """The position of the last noun of the noun run that starts at ``i`` (纯电|通勤|客车 → 客车;
    jieba tags some nouns inside a compound as names or verbal nouns)."""
    head = i
    for j in range(i + 1, len(tokens)):
        if not tokens[j].flag.startswith(("n", "vn", "b")):
            break
        if _is_focus(tokens[j]):
            head = j
    return head


def _asked(tokens: list[_Token], unit: str = "") -> _Asked:
    """The answer type the question word asks for, the focus (the nouns nearest it), its owner,
    and for a when-question the event, for a which-question the category. ``unit`` is the unit
    the question names (``_asked_unit``): with one, a verb's object is what is counted.

    A noun right after the question word (几位教师) is the focus; failing that, the noun
    heading the phrase just before it (馆长是谁, 货车的最大载重是多少 → 载重). A generic
    noun right after 什么/哪个 names the type instead (什么 + 时候 → time). After a
    when-question word, the word found there is the event's (哪年落成 → the date of 落成).
    """
    at = next((i for i, t in enumerate(tokens) if t.asks), None)
    if at is None:
        return _Asked()
    kind = tokens[at].asks
    after = []  # positions of the next words, up to the end of the clause
    for i in range(at + 1, min(at + 5, len(tokens))):
        if _ends_clause(tokens[i]):
            break
        if tokens[i].flag != "x":
            after.append(i)
    while after and tokens[after[0]].flag.startswith("q") and kind in ("thing", "list", "place", "organisation"):
        after = after[1:]  # 哪|座|城市: the measure word between
    which = tokens[at].word.startswith("哪")
    if after and tokens[after[0]].word in _TYPE_NOUNS and kind in ("thing", "list", "number"):
        if kind == "thing":
            kind = _TYPE_NOUNS[tokens[after[0]].word]
        after = after[1:]
    elif kind == "thing" and (which and after and _is_focus(tokens[after[0]]) or at and tokens[at - 1].word in L.NAMING_VERBS):
        kind = "name"  # 哪个水库, 叫什么: which one, by its name
    if kind == "person" and after and tokens[after[0]].word in L.COPULAS:
        rest = tokens[after[0] + 1 :]
        rest = rest[: next((i for i, t in enumerate(rest) if _ends_clause(t) or t.asks), len(rest))]
        focus, start = _phrase_head(rest)
        if focus:
            return _Asked(kind, focus, _owner(rest[:start]))  # 谁|是|某厂|的|厂长
    for i in after:
        t = tokens[i]
        if t.asks:
            break
        if t.word in L.ASPECT_VERBS:
            continue  # 何时开始施工: the event is the next verb
        if _is_focus(t):
            if kind == "person" and t.flag.startswith(("v", "b")):
                return _Asked("name", (t.word,))  # 谁|主办 (b, vn): a person or an organisation did it
            if kind == "time":
                return _Asked(kind, event=_event(tokens, i, at))
            if kind == "number":
                return _Asked(kind, (tokens[_run_head(tokens, i)].word,))  # 多少辆|纯电|通勤|客车: the buses are counted
            category = t.word if i == after[0] and kind in ("thing", "name") else ""  # 什么|头衔: a kind of thing
            # 哪家|剧院 asks for a member named as such (某某剧院); 哪家|企业 may be named 某某集团
            named_as = kind == "name" or kind == "organisation" and i == after[0] and not t.word.endswith(L.ORGANISATION_NOUNS)
            return _Asked(kind, (t.word,), which=t.word if named_as and which else "", category=category)
        if kind == "number" and i == after[0] and t.flag == "nz" and len(t.word) >= 2:
            return _Asked(kind, (t.word,))  # 多少|铜锭: jieba tags some products as proper names
        if kind == "number" and t.word == "的" and i + 1 < len(tokens) and _is_focus(tokens[i + 1]):
            return _Asked(kind, (tokens[_run_head(tokens, i + 1)].word,))  # 多少钱|的|租金: the noun it qualifies
        if kind == "time" and t.flag == "v" and len(t.word) >= 2 and t.word not in _NOT_CONTENT:
            return _Asked(kind, event=_event(tokens, i, at))  # 哪一年落成: the date of that event is asked
        if kind == "time" and t.flag == "v":
            continue  # 哪年|去|某地|筹办: a one-character verb of motion leads to the event
        if kind == "number" and t.flag.startswith("v"):
            continue  # 多少|参会|代表: the counted noun comes after its verb
        if kind == "person" and t.flag == "v" and len(t.word) >= 2 and t.word not in _NOT_CONTENT | L.ROLE_VERBS:
            focus, start = _phrase_head(tokens[:at])  # 某会|是|谁|主持|的: who did that
            return _Asked(kind, focus, _owner(tokens[:start]) if focus else "", event=_event(tokens, i, at))
        if t.flag.startswith(("v", "p", "c", "u", "d")):
            break  # a verb or preposition follows: the question word qualifies the verb (哪一年获评)
    if kind == "number" and _after_verb(tokens[:at]) and unit:
        return _Asked(kind)  # 某厂|捐了|多少钱: a verb's object, measured in the unit asked, not the subject's attribute
    focus, start = _phrase_head(tokens[:at])
    return _Asked(kind, focus, (_owner(tokens[:start]) or _topic(tokens[:start])) if focus else "")


def _topic(before: list[_Token]) -> str:
    """The name that a clause of its own sets up as the topic (华岳机床的控股方星海集团，现任总裁
    是哪位 → 星海集团): the names ending the clause before the comma, or ""."""
    if not before or before[-1].word not in "，,":
        return ""
    words: list[str] = []
    named = False
    for t in reversed(before[:-1]):
        if t.flag.startswith(_ENTITY_FLAGS):
            named = True
        elif named or t.word not in L.ORGANISATION_SUFFIXES:
            break  # 星海|集团: a generic ending after the name belongs to it
        words.append(t.word)
    return "".join(reversed(words)) if named else ""


def _asks_holder(tokens: list[_Token], focus: tuple[str, ...]) -> bool:
    """Whether a who-question's copula joins its question word to the focus (厂长|是|谁,
    谁|是|某厂的厂长): the question asks who holds that role, not who did something
    (谁|主办|的) or which of a kind did it (哪位|作家|获奖)."""
    at = next((i for i, t in enumerate(tokens) if t.asks), None)
    if at is None or not focus:
        return False
    # 某厂厂长|叫|什么(名字): the office, then the verb of naming
    named = at >= 2 and tokens[at - 1].word in L.NAMING_VERBS and tokens[at - 2].word == focus[0]
    if tokens[at].asks != "person":  # 什么|名字 asks a person's name as 谁 does
        return named and at + 1 < len(tokens) and _TYPE_NOUNS.get(tokens[at + 1].word) == "person"
    before = at - 2 >= 0 and tokens[at - 1].word in L.COPULAS and tokens[at - 2]
    after = at + 1 < len(tokens) and tokens[at + 1].word in L.COPULAS and _clause_end(tokens, at + 2)
    # 某厂厂长|由|谁|兼任: the office before, the verb of holding it after
    held = at + 1 < len(tokens) and tokens[at + 1].word in L.ROLE_VERBS and _clause_end(tokens, at + 1) is tokens[at + 1]
    return any(t and t.word == focus[0] for t in (before, after)) or named \
        or held and any(t.word == focus[0] for t in tokens[max(0, at - 2) : at])


def _clause_end(tokens: list[_Token], start: int) -> _Token | None:
    """The last word of the clause that starts at ``start``."""
    last = None
    for t in tokens[start:]:
        if t.flag == "x":  # punctuation: the clause ends (or a quote or bracket opens)
            break
        last = t
    return last


# The last character of a when-question word says how precise a date it asks for.
_DATE_UNITS = {"天": "日", "日": "日", "号": "日", "月": "月", "年": "年"}


def _asked_date_unit(tokens: list[_Token]) -> str:
    """日, 月 or 年 for a when-question word ending in one (…天, …月, …年), else ""."""
    word = next((t.word for t in tokens if t.asks == "time"), "")
    return _DATE_UNITS.get(word[-1:], "")


def _after_verb(before: list[_Token]) -> bool:
    """Whether the words before the question word end in a verb other than a copula,
    past aspect particles (捐|了, 能产 tagged as a noun is not caught)."""
    words = [t for t in before if not t.flag.startswith("u")]
    return bool(words) and words[-1].flag == "v" and words[-1].word not in L.COPULAS | _NOT_CONTENT


def _measures(word: str) -> bool:
    """Whether ``word`` is an attribute noun of a group of units (年龄 of 岁, 体重 of 公斤)."""
    return word not in L.UNITS and any(word in group for group in L.SAME_MEASURE)


def _asked_unit(tokens: list[_Token]) -> str:
    """The unit right after a how-many question word, fused with it (几岁) or not (多少|吨); for
    多 with an adjective that a group of units measures (多深, 多重), the adjective."""
    for i, t in enumerate(tokens):
        if t.asks != "number":
            continue
        if len(t.word) == 2 and t.word[0] == L.DEGREE_PREFIX and any(t.word[1] in group for group in L.SAME_MEASURE):
            return t.word[1]
        rest = next((t.word[len(w):] for w in _BY_LENGTH if t.word.startswith(w)), "")
        if rest in L.UNITS:
            return rest
        following = [w.word for w in tokens[i + 1 : i + 3]]
        if not rest and following and _measures(following[0]):
            return following[0]  # 多大|年龄: asked in the attribute's units (岁)
        if not rest and following and following[0] in L.UNITS:
            rest, following = following[0], following[1:]
        if rest and following and following[0] in L.UNITS:
            return following[0]  # 多少|个|小时: the classifier counts the unit after it
        return rest if rest in L.UNITS else ""
    return ""


def _phrase_head(before: list[_Token]) -> tuple[tuple[str, ...], int]:
    """The noun (or compound, 营收|目标) heading the phrase that ends where the question word
    starts, and the index where that phrase starts.

    The phrase ends at a clause break, or at 的 once it holds a content word: in
    冷链货车的最大载重是多少 the focus is 载重, never 冷链 from the phrase before 的. It
    also ends at a person's name met before any noun: the question asks what that person
    did, and a noun before the name is the name's title.
    """
    focus: list[str] = []
    passed_content = False
    for i in range(len(before) - 1, -1, -1):
        t = before[i]
        if _ends_clause(t) or focus and not _is_focus(t) or t.flag.startswith("uj") and passed_content:
            return _subject_or(tuple(focus), i + 1, before)
        if not focus and t.flag.startswith("nr") and len(t.word) >= 2 and i and before[i - 1].flag == "n":
            return (), i + 1  # 某厂|司机|张三|每天|几点…: a noun before a person's name is the name's title
        if _is_focus(t):
            focus.append(t.word)
            if len(focus) == 2:
                return tuple(focus), i
        elif _is_content(t) and len(t.word) >= 2:
            passed_content = True
    return _subject_or(tuple(focus), 0, before)


def _subject_or(focus: tuple[str, ...], start: int, before: list[_Token]) -> tuple[tuple[str, ...], int]:
    """``focus``, or when none was found, the subject of a copula (see ``_copula_subject``)."""
    subject = _copula_subject(before) if not focus else None
    return ((before[subject].word,), subject) if subject is not None else (focus, start)


def _copula_subject(before: list[_Token]) -> int | None:
    """The word right before a copula that ends ``before`` (组长|是|谁, 比分|是|多少), whatever
    jieba tagged it (组长/v, 比分/d): the subject of "X 是 what" is what is asked about."""
    if len(before) < 2 or before[-1].word not in L.COPULAS:
        return None
    t = before[-2]
    if len(t.word) >= 2 and _has_letters(t.word) and not t.flag.startswith(_ENTITY_FLAGS + ("r", "m", "q", "uj", "p")) \
            and t.word not in _NOT_CONTENT and t.word not in _TYPE_NOUNS:
        return len(before) - 2
    return None


def _event(tokens: list[_Token], verb: int, asked: int) -> tuple[str, ...]:
    """The word at ``verb`` and the content words of its object (何年开始从事教育工作 → 从事,
    教育, 工作), or with no object, the subject of the question (暴雨|是|哪天|出现 → 出现,
    暴雨): a paper may name the event with another verb, rarely with another object or subject."""
    words = [tokens[verb].word]
    for t in tokens[verb + 1 :]:
        if _ends_clause(t) or t.flag.startswith(("uj", "p", "v")) and not t.flag.startswith("vn"):
            break
        if _is_content(t) and len(t.word) >= 2 and t.word not in L.GENERIC_NOUNS:
            words.append(t.word)
    if len(words) == 1:
        subject = _copula_subject(tokens[:asked])
        if subject is not None:
            words.append(tokens[subject].word)
    return tuple(words)


def _owner(before: list[_Token]) -> str:
    """The phrase joined to the focus by 的 (某集团|的|总经理 → 某集团), or ""."""
    if not before or not before[-1].flag.startswith("uj"):
        return ""
    words: list[str] = []
    for k in range(len(before) - 2, -1, -1):
        t = before[k]
        if words and t.flag.startswith("r"):
            return ""  # 该|银行|的: a demonstrative refers back to what the question named before
        heads_compound = t.flag == "v" and words and len(words[-1]) == 1  # 熔铸|厂: a verb before a one-character head
        if _ends_clause(t) or t.flag.startswith(("uj", "p", "v", "c")) and not t.flag.startswith("vn") and not heads_compound:
            break  # 甲集团|和|乙集团|的 董事长: the owner nearest the focus
        if _is_content(t) and not t.flag.startswith(("r", "m", "q")) or heads_compound:
            words.append(t.word)
    return "".join(reversed(words))


def _ends_clause(token: _Token) -> bool:
    return token.flag == "x" and token.word in "，,。；;？?！!、"


def _is_focus(token: _Token) -> bool:
    """A noun naming an attribute: not a name, a unit or a function word.

    jieba tags some attribute nouns as distinguishing words (``b``: 载重) or set phrases
    (``l``), so those count too.
    """
    return (
        token.flag.startswith(("n", "vn", "b", "l"))
        and not token.flag.startswith(_ENTITY_FLAGS)
        and len(token.word) >= 2
        and token.word not in _NOT_CONTENT
        and token.word not in L.UNITS
        and token.word not in _TYPE_NOUNS
    )


def term_weight(term: str, question: QuestionProfile) -> float:
    """How much finding ``term`` in a passage says: names count double, long words more."""
    weight = 1.0 + 0.25 * min(len(term) - 2, 4)
    if term in question.entities:
        weight *= 2.0
    return weight


def found(term: str, normalized_text: str) -> bool:
    """Whether ``term`` occurs in already-normalised text (a 4+ character term may match by its halves)."""
    term = normalize(term)
    if term in normalized_text:
        return True
    if len(term) >= 4:
        half = len(term) // 2
        return term[:half] in normalized_text and term[half:] in normalized_text
    return False


def abbreviates(term: str, normalized_text: str, gap: int = 3) -> bool:
    """Whether the text holds a full name that ``term`` abbreviates: the term's characters in
    order, at most ``gap`` characters apart (星商联 for 星海商业企业联合会), as Chinese
    abbreviations are made."""
    chars = normalize(term)
    pattern = f".{{0,{gap}}}".join(re.escape(ch) for ch in chars)
    return len(chars) >= 3 and re.search(pattern, normalized_text) is not None


def near(term: str, normalized_text: str, common: frozenset[str] = frozenset()) -> bool:
    """``found``, or a near form: at least half of the term's characters in one word-sized window.

    售价 answers 价格, 经理 answers 副经理: papers and readers name an attribute differently.
    A two-character term shares one character with its near forms; a character in
    ``common`` (measured on the index: 为, 工) is in too much text to count on its own.
    """
    if found(term, normalized_text):
        return True
    term = normalize(term)
    need = max(1, len(term) // 2)
    return sum(1 for ch in set(term) if ch in normalized_text) >= need and _shared_pair_or_char(term, normalized_text, common)


def _shared_pair_or_char(term: str, text: str, common: frozenset[str]) -> bool:
    if len(term) <= 2:
        return any(ch in text and ch not in common for ch in term)
    return any(term[i : i + 2] in text for i in range(len(term) - 1))
