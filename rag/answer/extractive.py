"""The offline, deterministic answerer: a short summary quoted sentence by sentence from the passages.

1. Split every passage into verbatim sentences (long ones also into clause runs); a
   sentence repeated by overlapping chunks is kept once, and "what follows what" is
   remembered across chunk boundaries.
2. Score each sentence (``rag.answer.scoring``): lexical overlap with the question,
   embedding cosine for the most promising candidates, the passage's retrieval rank,
   the kind of fact it holds; headings and interview questions count less.
3. News elaborates in the next sentence ("…4台机组获奖。其中，六盘山热电1号机组…"), so a
   sentence right after a strong one inherits part of its score; for questions about
   goals, measures or lists more of it, so the whole run of items is gathered.
4. Select the best sentence, then every other strong, non-redundant one within the
   character budget (Settings.answer_max_chars).
5. Order passages by their best chosen sentence, sentences by position, and end each
   sentence with its marker ``[n]`` (n = the passage's rank). Text is never edited.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Callable, Mapping, Sequence

import numpy as np

from rag.answer import Draft
from rag.answer import refusal as refusal_check
from rag.answer.scoring import PHOTO_CREDIT, kind_bonus, shape_factor
from rag.answer.sentences import Sentence, split_spans
from rag.records import Chunk, SearchResult
from rag.text.features import bigrams, containment, jaccard, normalize
from rag.text.matching import lexical_score
from rag.text.answer_type import answer_clause, holds_answer, tagged
from rag.text.question import QuestionProfile, profile
from rag.text.sentences import answer_pieces

Embed = Callable[[list[str]], np.ndarray]  # texts -> L2-normalised vectors
# The question's cosine with the index's chunks, as (mean, standard deviation): cosines are
# read as z-scores against it, so no cut-off is tied to one model's cosine scale.
CosineMoments = Callable[[np.ndarray], tuple[float, float]]

LONG_SENTENCE = 160  # characters: longer sentences are also offered as clause runs
MIN_CONTENT = 2  # word characters: shorter pieces are debris
EMBED_CANDIDATES = 8  # sentences embedded per question (the best by lexical score)
CACHE_LIMIT = 20000  # sentence vectors kept in memory
EMBED_CHARS = 80  # only a sentence's opening is embedded: cost grows with length, the gist is up front
# A sentence's cosine counts as "close to the question" this many standard deviations above
# the question's mean cosine with the index (about e5's 0.86 for a typical question).
MIN_COSINE_Z = 1.0
# z-scores mapped onto 0..1 for the sentence score: from well below an unrelated passage
# to well above the best on-topic ones (e5's 0.72..0.92 for a typical question).
COSINE_Z_RANGE = (-6.8, 4.6)
REDUNDANT = 0.6  # bigram Jaccard above which a sentence repeats one already chosen
KEEP_RATIO = 0.62  # a sentence is kept when it scores this share of the best one
KEEP_RATIO_FACT = 0.75  # ... for a question asking one fact: fewer sentences that do not serve it
RELEVANT = 6  # the best candidates the direct answer and the refusal check look at
LONG_DIRECT = 60  # characters: a longer direct-answer sentence is opened by its answering clause
CARRY = 0.75  # share of a sentence's score the next sentence inherits
CARRY_LIST = 0.85  # ... for questions about goals, measures, lists
# Without the index's moments (a bare answerer in a test), cosines are placed as if the
# question's mean cosine were 0.84 with spread 0.02.
DEFAULT_MOMENTS = (0.84, 0.02)


@dataclass
class Scored:
    sentence: Sentence
    score: float
    lexical: float
    cosine: float | None = None
    bigrams: set[str] = field(default_factory=set)


@dataclass
class Selection:
    """The chosen sentences plus the evidence the refusal check reads."""

    sentences: list[Scored]
    candidates: list[Scored]  # best first
    best_lexical: float = 0.0
    best_cosine: float | None = None
    min_cosine: float | None = None  # the cosine that counts as close to this question (MIN_COSINE_Z)
    relevant: list[Scored] = field(default_factory=list)  # what the direct answer and the refusal check look at
    direct: Scored | None = None  # the sentence holding the asked fact (a who / when / how-many question)
    direct_clause: str | None = None  # its answering clause, when the sentence is long
    articles: dict[int, str] = field(default_factory=dict)  # each passage's rank → its article (``article_texts``)


@dataclass
class Candidates:
    sentences: list[Sentence]
    following: dict[int, list[int]]  # index → indexes of the sentences right after it


def candidate_sentences(contexts: Sequence[SearchResult]) -> Candidates:
    """Verbatim sentences of all passages, each once, with their successors."""
    index_of: dict[str, int] = {}
    sentences: list[Sentence] = []
    following: dict[int, list[int]] = {}
    for r in sorted(contexts, key=lambda r: r.rank):
        previous: int | None = None
        for s in split_spans(r.chunk.text, passage=r.rank):
            key = normalize(s.text)
            if len(re.sub(r"[^\w]", "", key)) < MIN_CONTENT:
                continue
            if key not in index_of:
                index_of[key] = len(sentences)
                sentences.append(s)
                if len(s.text) > LONG_SENTENCE:
                    for run in _clause_runs(r.chunk.text, s):
                        if normalize(run.text) not in index_of:
                            index_of[normalize(run.text)] = len(sentences)
                            sentences.append(run)
            current = index_of[key]
            if previous is not None and current not in following.setdefault(previous, []):
                following[previous].append(current)
            previous = current
    return Candidates(sentences, following)


def _clause_runs(text: str, s: Sentence, size: int = 90) -> list[Sentence]:
    """Consecutive clauses of a long sentence, grouped to about ``size`` characters, as verbatim spans."""
    runs: list[Sentence] = []
    cuts = [m.end() for m in re.finditer(r"[，,：:、]", s.text)]
    begin = 0
    for cut in cuts + [len(s.text)]:
        if cut - begin >= size or cut == len(s.text):
            piece = s.text[begin:cut]
            if piece.strip():
                lead = len(piece) - len(piece.lstrip())
                start = s.start + begin + lead
                runs.append(Sentence(piece.strip(), start, start + len(piece.strip()), s.passage, s.position))
            begin = cut
    return [r for r in runs if r.text != s.text]


class ExtractiveAnswerer:
    """Build a cited extractive answer. Stateless apart from a sentence-vector cache."""

    def __init__(
        self,
        max_chars: int = 300,
        embed: Embed | None = None,
        embed_candidates: int = EMBED_CANDIDATES,
        cache: dict[str, np.ndarray] | None = None,
        cosine_moments: CosineMoments | None = None,
        common: frozenset[str] = frozenset(),
    ):
        self.max_chars = max_chars
        self.common = common  # the index's common characters (near forms, rag.store.calibration)
        self.embed = embed
        self.cosine_moments = cosine_moments
        self.embed_candidates = embed_candidates
        self._vectors: dict[str, np.ndarray] = {} if cache is None else cache  # sentence text -> vector

    # -- scoring ---------------------------------------------------------------

    def score(self, question: str, contexts: Sequence[SearchResult], query_vector: np.ndarray | None = None) -> list[Scored]:
        """Every candidate sentence with its score, best first."""
        q = profile(question)
        found = candidate_sentences(contexts)
        lexical = [lexical_score(q, s.text) for s in found.sentences]
        passage_best: dict[int, float] = {}
        for s, value in zip(found.sentences, lexical):
            passage_best[s.passage] = max(passage_best.get(s.passage, 0.0), value)
        scored = []
        for s, value in zip(found.sentences, lexical):
            # the passage's best match vouches a little for its other sentences (bylines, credits, dates)
            prior = (0.08 / s.passage if s.passage else 0.0) + 0.1 * passage_best[s.passage]
            own = (0.6 * value + prior) * shape_factor(q, s.text) + kind_bonus(q, s.text)
            scored.append(Scored(s, own, value, None, bigrams(s.text)))
        if query_vector is not None and self.embed is not None and scored:
            self._add_cosine(scored, query_vector)
        _carry(scored, found.following, CARRY_LIST if q.wants_list else CARRY)
        return sorted(scored, key=lambda x: (-x.score, x.sentence.passage, x.sentence.start))

    def _add_cosine(self, scored: list[Scored], query_vector: np.ndarray) -> None:
        """Embed the best lexical candidates and blend in their cosine with the question."""
        top = sorted(scored, key=lambda x: -x.score)[: self.embed_candidates]
        vectors = {x.sentence.text: self._vectors.get(x.sentence.text) for x in top}
        missing = [text for text, vector in vectors.items() if vector is None]
        if missing:
            fresh = self.embed([text[:EMBED_CHARS] for text in missing])
            vectors.update(zip(missing, fresh))
            if len(self._vectors) > CACHE_LIMIT:  # a bounded cache; sentences recur across questions
                self._vectors.clear()
            self._vectors.update(zip(missing, fresh))
        if not top:
            return
        scale = self._cosine_scale(query_vector)
        # one matrix product, not a dot per sentence: each NumPy call may hand the GIL to
        # another answer's thread and wait to get it back
        cosines = np.stack([vectors[x.sentence.text] for x in top]) @ query_vector
        for x, cosine in zip(top, cosines.tolist()):
            x.cosine = cosine
            x.score += 0.35 * scale(cosine)
        floor = min(x.cosine for x in top)
        for x in scored:  # not embedded: assume a little less than the weakest embedded one
            if x.cosine is None and floor is not None:
                x.score += 0.35 * scale(floor) * 0.8

    def _cosine_scale(self, query_vector: np.ndarray) -> Callable[[float], float]:
        """Cosine → 0..1 for this question: its z-score against the index, placed on COSINE_Z_RANGE."""
        mean, spread = self._moments(query_vector)
        low, high = COSINE_Z_RANGE
        return lambda cosine: float(min(1.0, max(0.0, ((cosine - mean) / spread - low) / (high - low))))

    def _moments(self, query_vector: np.ndarray) -> tuple[float, float]:
        if self.cosine_moments is None:
            return DEFAULT_MOMENTS
        mean, spread = self.cosine_moments(query_vector)
        return mean, max(spread, 1e-6)

    def min_cosine(self, query_vector: np.ndarray | None) -> float | None:
        """The cosine above which a sentence is close to this question (None without moments)."""
        if query_vector is None or self.cosine_moments is None:
            return None
        mean, spread = self._moments(query_vector)
        return mean + MIN_COSINE_Z * spread

    # -- selection -------------------------------------------------------------

    def select(self, question: str, contexts: Sequence[SearchResult], query_vector: np.ndarray | None = None) -> Selection:
        candidates = self.score(question, contexts, query_vector)
        if not candidates:
            return Selection([], [])
        q = profile(question)
        relevant = _with_continuations(candidates, RELEVANT, q.focus)
        articles = article_texts(contexts)
        direct = _direct_answer(q, relevant, self.common, articles) or _credit_line(q, candidates, self.common)
        parts = [] if direct else _part_answers(question, relevant, self.common, articles)
        best = direct or (parts[0] if parts else candidates[0])
        threshold = candidates[0].score * (KEEP_RATIO_FACT if q.wants_fact else KEEP_RATIO)
        chosen: list[Scored] = [best]
        used = len(best.sentence.text)
        for x in parts[1:]:  # each part of a multi-part question answered first
            if x not in chosen and used + len(x.sentence.text) <= self.max_chars:
                chosen.append(x)
                used += len(x.sentence.text)
        for x in candidates:
            if x is best:
                continue
            if x.score < threshold:
                break
            if used + len(x.sentence.text) > self.max_chars:
                continue
            if any(_redundant(x, c) for c in chosen):
                continue
            chosen.append(x)
            used += len(x.sentence.text)
        if q.members:
            chosen = _with_list_items(chosen, _members_named(q, candidates, best), self.max_chars)
        elif q.wants_list:
            chosen = _with_list_items(chosen, _list_items(candidates, best), self.max_chars)
        cosines = [x.cosine for x in candidates if x.cosine is not None]
        clause = None
        if direct is not None and len(direct.sentence.text) > LONG_DIRECT:
            span = answer_clause(q.answer_type, direct.sentence.text, q.text, q.unit or q.date_unit, q.focus)
            if span is not None:
                clause = direct.sentence.text[span[0] : span[1]].strip().rstrip("，,；;：:")
        return Selection(
            _ordered(chosen, direct) if not parts else _parts_first(chosen, parts),
            candidates,
            best_lexical=max(x.lexical for x in candidates),
            best_cosine=max(cosines) if cosines else None,
            min_cosine=self.min_cosine(query_vector),
            relevant=relevant,
            direct=direct,
            direct_clause=clause,
            articles=articles,
        )

    def render(self, selection: Selection) -> list[str]:
        """The answer as pieces: each a verbatim sentence with its ``[n]`` before the closing punctuation."""
        pieces = []
        if selection.direct_clause and selection.direct is not None:
            pieces.append(f"{selection.direct_clause}[{selection.direct.sentence.passage}]。\n")
        for x in selection.sentences:
            text = x.sentence.text
            marker = f"[{x.sentence.passage}]"
            tail = re.search(r"[。！？!?；;]*$", text).group(0)
            if tail:
                pieces.append(text[: len(text) - len(tail)] + marker + tail)
            elif re.search(r"[。！？!?；;][”’」』）)]+$", text):  # …召开。” : the marker follows the quote
                pieces.append(text + marker)
            else:
                # a heading, credit, "……" or clause without a sentence terminator: a line
                # break ends it, so the next sentence is not read as part of it
                pieces.append(text + marker + "\n")
        if pieces:
            pieces[-1] = pieces[-1].rstrip("\n")
        return pieces

    def answer(self, question: str, contexts: Sequence[SearchResult], query_vector: np.ndarray | None = None) -> str:
        return "".join(self.render(self.select(question, contexts, query_vector)))


def _carry(scored: list[Scored], following: dict[int, list[int]], share: float) -> None:
    """Let sentences inherit part of their neighbours' scores.

    Forward: a sentence right after another inherits ``share`` of its score (never a
    heading or a question, which start something new). Backward: a sentence that starts
    with 这/此 ("这是他的口头禅") points at the one before it, which inherits as much.
    """
    own = [x.score for x in scored]
    for i in range(len(scored)):  # candidates are in passage order, so one pass carries along runs
        for j in following.get(i, ()):
            if j <= i:
                continue
            if _continues(scored[j].sentence.text):
                scored[j].score = max(scored[j].score, share * scored[i].score)
            if _POINTS_BACK.match(scored[j].sentence.text):
                scored[i].score = max(scored[i].score, share * own[j])


_POINTS_BACK = re.compile(r"^(?:这是|这就是|这也是|此即|以上|这些|这句话|这一)")


def _continues(text: str) -> bool:
    """Whether ``text`` can continue the sentence before it (not a heading, not a question)."""
    text = text.strip()
    return bool(re.search(r"[。！？!?；;…]", text)) and not text.endswith(("？", "?")) or bool(PHOTO_CREDIT.search(text))


def _redundant(a: Scored, b: Scored) -> bool:
    if a.sentence.passage == b.sentence.passage and a.sentence.start < b.sentence.end and b.sentence.start < a.sentence.end:
        return True  # a clause run inside a chosen sentence, or the reverse
    return jaccard(a.bigrams, b.bigrams) >= REDUNDANT or containment(a.bigrams, b.bigrams) >= 0.85 or containment(b.bigrams, a.bigrams) >= 0.85


def _ordered(chosen: list[Scored], direct: Scored | None = None) -> list[Scored]:
    """The direct answer first; then passages by their best chosen sentence's score, sentences in passage order."""
    best_of: dict[int, float] = {}
    for x in chosen:
        best_of[x.sentence.passage] = max(best_of.get(x.sentence.passage, 0.0), x.score)
    ordered = sorted(chosen, key=lambda x: (-best_of[x.sentence.passage], x.sentence.passage, x.sentence.start))
    if direct is not None and direct in ordered:
        ordered.remove(direct)
        ordered.insert(0, direct)
    return ordered


# An item of an enumeration: 一是…, 其一，…, （一）…, 一、…, 第一，…
_ENUMERATED = re.compile(r"^(?:[一二三四五六七八九十]+是|其[一二三四五六七八九十]+[，、,：:]|[（(][一二三四五六七八九十]+[）)]|[一二三四五六七八九十]+、|第[一二三四五六七八九十]+[，、,])")
ITEM_CHARS = 40  # a list item printed as a heading (强化政治担当，主动扛起责任) is short


def _list_items(candidates: Sequence[Scored], best: Scored) -> list[Scored]:
    """The items of the list the best sentence's passage sets out, in passage order: its
    enumerated sentences (一是…) or, failing those, its short sentences opening with a verb
    (加强组织领导，落实责任。开展隐患治理，…), the way news reports print measures as headings.
    Two at least, or none."""
    same = _in_passage_order(candidates, best)
    enumerated = [x for x in same if _ENUMERATED.match(x.sentence.text.strip())]
    if len(enumerated) >= 2:
        return enumerated
    headings = [x for x in same if len(x.sentence.text.strip()) <= ITEM_CHARS and _opens_with_verb(x.sentence.text)]
    return headings if len(headings) >= 2 else []


def _members_named(question: QuestionProfile, candidates: Sequence[Scored], best: Scored) -> list[Scored]:
    """For a question asking for several people or places (各自是谁, 哪些国家), the sentences of
    the best sentence's passage that each name one the question does not, in passage order:
    a report introduces the members one sentence each. Two at least, or none."""
    named = [x for x in _in_passage_order(candidates, best) if holds_answer(question.members, x.sentence.text, question.text)]
    return named if len(named) >= 2 else []


def _in_passage_order(candidates: Sequence[Scored], best: Scored) -> list[Scored]:
    """The candidates of ``best``'s passage, in the order the passage prints them."""
    return sorted((x for x in candidates if x.sentence.passage == best.sentence.passage), key=lambda x: x.sentence.start)


def _opens_with_verb(text: str) -> bool:
    words = tagged(text.strip()[:8])
    return bool(words) and len(words[0][0]) >= 2 and words[0][1] in ("v", "vn", "vd")


def _with_list_items(chosen: list[Scored], items: list[Scored], max_chars: int) -> list[Scored]:
    """The best sentence, then the list's items, then what else was chosen, within ``max_chars``."""
    if not items:
        return chosen
    out = [chosen[0]]
    used = len(chosen[0].sentence.text)
    for x in items + chosen[1:]:
        if x in out or used + len(x.sentence.text) > max_chars or any(_redundant(x, c) for c in out):
            continue
        out.append(x)
        used += len(x.sentence.text)
    return out


def _with_continuations(candidates: Sequence[Scored], count: int, focus: tuple[str, ...]) -> list[Scored]:
    """The best ``count`` candidates, and the sentence right after each that goes on about the
    asked thing by its bare name (…星海大桥扩建列入市重点项目。大桥位于某街道。): a paper names the
    subject in full once, then by its head noun or 该/此 + noun."""
    best = list(candidates[:count])
    if not focus:
        return best
    opening = re.compile(f"^(?:该|此|这一?)?{re.escape(focus[0])}")
    for x in list(best):
        after = [y for y in candidates if y.sentence.passage == x.sentence.passage and y.sentence.start >= x.sentence.end]
        nxt = min(after, key=lambda y: y.sentence.start, default=None)
        if nxt is not None and nxt not in best and opening.match(nxt.sentence.text.strip()):
            best.append(nxt)
    return best


def _direct_answer(
    question: QuestionProfile, candidates: Sequence[Scored], common: frozenset[str] = frozenset(), articles: Mapping[int, str] | None = None
) -> Scored | None:
    """The best candidate that covers the question's focus with a fact of the asked type (who /
    when / how many / where / which organisation), or None for other questions. ``articles``
    maps a passage's rank to its article's text (``article_texts``): a sentence of another
    story than the asked one does not answer."""
    if not question.wants_fact:
        return None
    articles = articles or {}
    return next(
        (x for x in candidates if refusal_check.answers(question, x.sentence.text, common, articles.get(x.sentence.passage, ""))), None
    )


def article_texts(contexts: Sequence[SearchResult]) -> dict[int, str]:
    """Each passage's rank → its article as retrieved: the headline and every retrieved passage
    of the same story. A story names its subject in full once, often in the headline or the
    first passage, and refers to it by a short name or 该公司 after."""
    articles: dict[tuple[str, int], str] = {}
    for r in contexts:
        key = (r.chunk.source, r.chunk.article_index)
        articles[key] = articles.get(key, r.chunk.title or "") + "\n" + r.chunk.text
    return {r.rank: articles[(r.chunk.source, r.chunk.article_index)] for r in contexts}


def _part_answers(
    question: str, candidates: Sequence[Scored], common: frozenset[str] = frozenset(), articles: Mapping[int, str] | None = None
) -> list[Scored]:
    """For a question in several parts (新馆占地多大？总投资几何？), the best candidate
    answering each part that asks one typed fact, in the question's order, each once."""
    if profile(question).questions_asked < 2:
        return []
    found: list[Scored] = []
    for part in re.split(r"[？?；;，,]", question):
        asked = profile(part)
        x = _direct_answer(asked, candidates, common, articles) if asked.questions_asked == 1 else None
        if x is not None and x not in found:
            found.append(x)
    return found


def _parts_first(chosen: list[Scored], parts: list[Scored]) -> list[Scored]:
    """The chosen part answers in the question's order, then the rest as ``_ordered`` puts them."""
    first = [x for x in parts if x in chosen]
    return first + _ordered([x for x in chosen if x not in first])


def _credit_line(question: QuestionProfile, candidates: Sequence[Scored], common: frozenset[str] = frozenset()) -> Scored | None:
    """For "who wrote / took it": the byline or photo credit of the best-ranked passage that
    has one, however low the line itself scores (a byline shares no words with the question)."""
    if not question.wants_fact:
        return None
    credits = [x for x in candidates if refusal_check.credits(question, x.sentence.text) and refusal_check.answers(question, x.sentence.text, common)]
    return min(credits, key=lambda x: (x.sentence.passage, x.sentence.start), default=None)


class ExtractiveGenerator:
    """The ``extractive`` generator: the refusal check, then the quoted summary.

    ``embed_query`` / ``embed_passages`` are the index's embedding model (callables
    returning L2-normalised vectors); without them only lexical signals are used.
    """

    name = "extractive"

    def __init__(
        self,
        refusal: str,
        max_chars: int = 300,
        embed_query: Callable[[str], np.ndarray] | None = None,
        embed_passages: Embed | None = None,
        sentence_cache: dict[str, np.ndarray] | None = None,
        cosine_moments: CosineMoments | None = None,
        common: frozenset[str] = frozenset(),
    ):
        self.refusal = refusal
        self.embed_query = embed_query
        self.answerer = ExtractiveAnswerer(
            max_chars, embed=embed_passages, cache=sentence_cache, cosine_moments=cosine_moments, common=common
        )

    def generate(self, question: str, contexts: Sequence[SearchResult]) -> Draft:
        if not contexts:
            return Draft(self.refusal, True, "no passages")
        query_vector = self.embed_query(question) if self.embed_query else None
        selection = self.answerer.select(question, contexts, query_vector)
        if not selection.sentences:
            return Draft(self.refusal, True, "no usable sentences")
        relevant = [x.sentence.text for x in selection.relevant]
        if selection.direct is not None and selection.direct.sentence.text not in relevant:
            relevant.append(selection.direct.sentence.text)  # a credit line found further down
        passage_of = {x.sentence.text: selection.articles.get(x.sentence.passage, "") for x in selection.candidates}
        evidence = refusal_check.assess(
            profile(question), contexts, relevant, selection.best_lexical, selection.best_cosine, selection.min_cosine,
            self.answerer.common, passage_of,
        )
        reason = evidence.reason()
        if reason:
            return Draft(self.refusal, True, reason)
        source = selection.direct.sentence.passage if selection.direct is not None else None
        return Draft("".join(self.answerer.render(selection)), source=source)

    def stream(self, question: str, contexts: Sequence[SearchResult]):
        """The answer sentence by sentence, then the ``Draft``."""
        draft = self.generate(question, contexts)
        if draft.refused:
            yield draft.text
        else:
            yield from answer_pieces(draft.text)
        yield draft


def warm_sentence_cache(chunks: Sequence[Chunk], embed: Embed, cache: dict[str, np.ndarray], batch: int = 32) -> int:
    """Embed every candidate sentence of ``chunks`` into ``cache`` ahead of the questions.

    A server calls this in a background thread at start-up, so that answering a question
    costs one query embedding instead of also embedding the passages' sentences. The
    vectors are exactly those the answerer would compute on demand. Returns how many
    sentences were embedded; stops at the cache limit.
    """
    texts: dict[str, None] = {}  # ordered set
    for chunk in chunks:
        for s in candidate_sentences([SearchResult(chunk, 0.0, 1)]).sentences:
            if s.text not in cache:
                texts[s.text] = None
    todo = list(texts)[: max(0, CACHE_LIMIT - len(cache))]
    for start in range(0, len(todo), batch):
        part = todo[start : start + batch]
        cache.update(zip(part, embed([t[:EMBED_CHARS] for t in part])))
    return len(todo)
