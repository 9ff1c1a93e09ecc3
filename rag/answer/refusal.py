"""Decide from the evidence whether the passages answer the question at all.

The extractive answerer always finds *some* sentence, so it needs an explicit check.
Every signal is general: it reads the question's analysis (``rag.text.question``), the
passages and the answerer's best sentences, never a list of topics.

- the question asks for the assistant's own instructions and no passage mentions them;
- the year (or every year / number) named in the question appears in no passage;
- a name (person, place, organisation) in the question appears in no passage;
- the question's focus, the attribute asked for (厂长, 员工, 售价), appears in no
  passage, not even in a near form (``rag.text.question.near``); not for lists, whose
  category (措施, 主张) the papers rarely name, nor for "who took / wrote it" when a
  credit or byline is at hand;
- the question asks for a fact of a type (a person, a date, a quantity, a place, an
  organisation) and no relevant sentence both covers the focus and holds such a fact
  (a sentence giving the focus to another organisation than the asked one does not count);
- the best sentence covers too little of the question (lexical), and the question is
  not close to any sentence in embedding space either (the cosine cut-off is calibrated
  on the index, see ``rag.store.calibration``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping, Sequence

from rag.records import SearchResult
from rag.text.answer_type import (
    NAME_FLAGS, another_grade, another_ordinal, another_year, credits_person, deputy_only, holds_answer, names_another_work, names_holder, names_member,
    owned_by_another, tagged,
)
from rag.text.features import normalize
from rag.text.sentences import clause_spans
from rag.text.lexicon import AUTHORING_WORDS, INSTRUCTION_TERMS, ORGANISATION_SUFFIXES
from rag.text.question import QuestionProfile, abbreviates, found, near

# Answer types whose fact is stated in the clause that names what it measures (a date
# often opens the sentence in a clause of its own, a person's title may be far from the name).
CLAUSE_TYPES = ("number",)

# Share of the question's terms the best sentence must hold to count as evidence on its
# own (the lexical score is 0..1 and model-independent).
MIN_SENTENCE_COVERAGE = 0.45


@dataclass
class Evidence:
    """What the passages say about the question, as facts a rule can act on."""

    asked_years: int = 0
    asked_numbers: int = 0
    missing_years: list[str] = field(default_factory=list)
    missing_numbers: list[str] = field(default_factory=list)
    missing_entities: list[str] = field(default_factory=list)
    missing_focus: list[str] = field(default_factory=list)
    untyped: str | None = None  # the answer type no relevant sentence holds for the focus
    instructions_asked: str | None = None  # the question asks for the assistant's own instructions
    sentence_coverage: float = 0.0  # best sentence's lexical score (0..1)
    cosine: float | None = None  # best question-sentence cosine
    min_cosine: float | None = None  # the index's cut-off for "close in embedding space"

    def reason(self) -> str | None:
        """Why the passages do not answer the question, or None when they do."""
        if self.instructions_asked:
            return f"asks for the assistant's instructions ({self.instructions_asked}), not the news"
        # several years or numbers: a multi-part question may be answered in part
        if self.missing_years and len(self.missing_years) == self.asked_years:
            return f"year {'/'.join(self.missing_years)} not in the passages"
        if self.missing_numbers and len(self.missing_numbers) == self.asked_numbers:
            return f"number {'/'.join(self.missing_numbers)} not in the passages"
        if self.missing_entities:
            return f"{'/'.join(self.missing_entities)} not in the passages"
        if self.missing_focus:
            return f"the passages do not mention {'/'.join(self.missing_focus)}"
        if self.untyped:
            return f"no relevant sentence gives a {self.untyped}"
        weak_lexical = self.sentence_coverage < MIN_SENTENCE_COVERAGE
        weak_dense = self.cosine is None or self.min_cosine is None or self.cosine < self.min_cosine
        if weak_lexical and weak_dense:
            return f"low relevance (coverage {self.sentence_coverage:.2f}, cosine {self.cosine})"
        return None


def assess(
    question: QuestionProfile,
    contexts: Sequence[SearchResult],
    relevant_sentences: Sequence[str],
    sentence_coverage: float,
    cosine: float | None,
    min_cosine: float | None = None,
    common: frozenset[str] = frozenset(),
    passage_of: Mapping[str, str] | None = None,
) -> Evidence:
    """Collect the refusal signals; ``relevant_sentences`` are the answerer's best candidates,
    ``common`` the index's common characters (``rag.store.calibration.common_characters``),
    ``passage_of`` each sentence's passage text."""
    everything = "\n".join(normalize(r.chunk.text) for r in contexts)
    evidence = Evidence(
        len(question.years), len(question.numbers), sentence_coverage=sentence_coverage, cosine=cosine, min_cosine=min_cosine
    )
    dated = everything + "".join(r.chunk.date or "" for r in contexts)  # an article's date names its year
    evidence.missing_years = [y for y in question.years if y not in dated]
    evidence.missing_numbers = [n for n in question.numbers if n not in everything]
    # jieba mis-tags two-character fragments as names, so only longer names count here
    evidence.missing_entities = [e for e in _long_names(question) if not _names(e, everything)]
    credited = any(credits(question, s) for s in relevant_sentences)
    if question.answer_type != "list" and not question.category and not credited:
        # a list question names a category (措施, 主张) whose items the papers name instead, and so
        # does a what-question (什么头衔: 总工程师)
        evidence.missing_focus = [f for f in question.focus if not near(f, everything)]
    passage_of = passage_of or {}
    if question.wants_fact and not any(answers(question, s, common, passage_of.get(s, "")) for s in relevant_sentences):
        evidence.untyped = question.answer_type
    evidence.instructions_asked = instructions_asked(question.text, everything)
    return evidence


def answers(question: QuestionProfile, sentence: str, common: frozenset[str] = frozenset(), passage: str = "") -> bool:
    """Whether ``sentence`` covers the question's focus (or a near form) and holds a fact of the asked type.

    Asked for an organisation's attribute (某厂的厂长), a sentence of a ``passage`` that never
    names that organisation (a 公司总经理 in another company's story) does not answer.

    The focus's head must be named: asked for 发电|效率, a sentence naming 发电 alone gives
    another attribute.

    A quantity must sit in the clause that names the focus: 某厂投入资金3亿元 answers how
    much was invested, 某厂投入资金改造生产线，成本降低13% does not.
    """
    if credits(question, sentence):
        return holds_answer(question.answer_type, sentence, question.text)
    article = normalize(passage)
    if question.owner and article and not mentions(question.owner, article):
        return False  # the passage is another organisation's story
    asked_names = _long_names(question)
    if article and asked_names and not any(_names(e, article) for e in asked_names):
        return False  # the passage names none of the people, places or organisations asked about
    if question.focus and owned_by_another(question.owner, question.focus[0], sentence):
        return False  # the asked attribute, but of another organisation
    if question.focus and deputy_only(question.focus[0], sentence, question.text):
        return False  # 副局长 when the 局长 is asked
    if question.role and not names_holder(question.focus[0], sentence, question.text):
        return False  # a name, but not said to hold the asked role
    if another_year(question.years, sentence):
        return False  # a 2024 figure when 2023 is asked
    if another_ordinal(question.text, sentence):
        return False  # the first round when the second is asked
    if another_grade(question.text, sentence):
        return False  # a 中型 figure when the 大型 one is asked
    if names_another_work(question.text, sentence):
        return False  # the running time of another film than the asked one
    pieces = [sentence]
    if question.answer_type in CLAUSE_TYPES:
        pieces = _clauses(sentence)
    # with no focus (某馆|修缮|屋顶|花了|多少钱), the quantity's clause must say something the question asks about
    # (a clause naming the asked year is about it: 2035年实现节能18% for 到2035年节能多少)
    topic = () if question.focus else question.terms + tuple(f"{year}年" for year in question.years)
    # who did it (某会|是|谁|主持|的): the sentence names the deed (主持会议), not always the thing;
    # an attribute measured in units of its own (年龄, 身高) is named by the quantity (48岁)
    measured = bool(question.focus) and question.unit == question.focus[0]
    focus = () if question.answer_type == "person" and question.event or measured else question.focus
    return any(
        (not focus or near(focus[0], text, common))
        and (question.answer_type not in CLAUSE_TYPES or not topic or any(found(t, text) for t in topic))
        and (not question.event or _tells_event(question.event, text, common, deed=question.answer_type == "person"))
        # 哪家|洗煤厂: a member named as such (某某洗煤厂) is the name asked for, whatever jieba tags it
        and (names_member(question.which, piece, question.text) if question.which
             else holds_answer(question.answer_type, piece, question.text, question.unit or question.date_unit))
        for piece, text in ((piece, normalize(piece)) for piece in pieces)
    )


def _long_names(question: QuestionProfile) -> list[str]:
    """The question's names of three characters or more: jieba mis-tags two-character
    fragments as names, so only the longer ones are looked for in the passages."""
    return [e for e in question.entities if len(e) >= 3]


def _names(name: str, normalized_text: str) -> bool:
    """Whether the text names ``name`` in full or by an abbreviation of it."""
    return found(name, normalized_text) or abbreviates(name, normalized_text)


def _clauses(sentence: str) -> list[str]:
    """The sentence's clauses, a label kept with what it labels (服务热线：0351-66668888)."""
    pieces: list[str] = []
    for start, end in clause_spans(sentence):
        piece = sentence[start:end]
        if pieces and pieces[-1].rstrip().endswith(("：", ":")):
            pieces[-1] += piece
        else:
            pieces.append(piece)
    return pieces


def _tells_event(event: tuple[str, ...], text: str, common: frozenset[str], deed: bool = False) -> bool:
    """Whether ``text`` tells the asked event: its verb (or a near form: 建成 for 落成) and, when
    the question names one, its object. A date of another thing done to the same object
    (2021年报社开启合作, asked when the paper was founded) does not answer."""
    verb, objects = event[0], event[1:]
    if deed:  # who did it: the deed's verb (jieba may split it: 来开|的|球) or its object names it
        return near(verb, text, common) or any(found(w, text) for w in objects)
    return _tells_verb(verb, text, common) and (not objects or any(near(w, text, common) for w in objects))


def _tells_verb(verb: str, text: str, common: frozenset[str]) -> bool:
    """Whether ``text`` holds ``verb`` or a verb near it (建成 for 落成): a noun sharing a
    character (院长 for 延长) names no event."""
    if found(verb, text):
        return True
    return any(
        flag.startswith("v") and near(verb, word, common) for word, flag in tagged(text) if len(word) >= 2
    )


def mentions(owner: str, normalized_text: str) -> bool:
    """Whether the text names ``owner`` by one of its names (华岳 or 机床 for 华岳机床公司); an
    owner with no name in it (会上的决定) is given the benefit of the doubt."""
    words = [(w, flag) for w, flag in tagged(owner) if len(w) >= 2 and w not in ORGANISATION_SUFFIXES]
    # jieba tags some short names as common nouns (太钢|电气|公司): then any word of the owner counts
    names = [w for w, flag in words if flag.startswith(NAME_FLAGS)] or [w for w, flag in words if flag.startswith("n")]
    return not names or any(found(w, normalized_text) for w in names)


def credits(question: QuestionProfile, sentence: str) -> bool:
    """A credit or byline answers "who took / wrote it" without naming the photo or the article."""
    asks_author = question.answer_type == "person" and any(w in question.text for w in AUTHORING_WORDS)
    return asks_author and credits_person(sentence)


def instructions_asked(question: str, passages_text: str) -> str | None:
    """The term by which the question asks for the assistant's instructions, unless a passage has it too."""
    text, passages = normalize(question).lower(), passages_text.lower()
    for term in sorted(INSTRUCTION_TERMS, key=len, reverse=True):
        if term in text and term not in passages:
            return term
    return None
