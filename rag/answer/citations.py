"""Check the citations of a generated answer against the passages it was given.

- A marker ``[n]`` that points to no passage is removed.
- Every sentence that carries a marker is checked against the passage the marker points
  to; a marker whose passage does not support its sentence is removed (an LLM's wrong,
  swapped or invented ``[1]``).
- A sentence left without a marker gets the passage that clearly supports it (lexical
  match first, then embedding cosine when an embedding function is given): it is
  re-pointed there, or flagged as unsupported.
- The citations returned are exactly the passages the remaining markers point to, so
  every citation shown is real.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np

from rag.answer.sentences import answer_spans, markers, strip_markers
from rag.records import Citation, SearchResult
from rag.text.answer_type import stated_facts
from rag.text.features import bigrams, containment, normalize

# A sentence is lexically supported by a passage holding this share of its character bigrams,
MIN_LEXICAL_SUPPORT = 0.6
# or this share when the passage also holds every fact the sentence states (its numbers and
# names): a model's short paraphrase (升到3.5米 for 升至3.5米) changes the joints
# between words, not the facts.
MIN_FACTUAL_SUPPORT = 0.45
# ... or, failing that, when their embedding cosine reaches this position on the index's own
# cosine scale (rag.store.calibration: 0 = passages of different articles, 1 = consecutive
# passages of one article). The chain passes the cosine; without it only lexical support counts.
SUPPORT_POSITION = 0.35

Embed = Callable[[list[str]], np.ndarray]  # texts -> L2-normalised vectors

_ALT_MARKER = re.compile(r"[［【\[]\s*(\d{1,3}(?:\s*[,，、]\s*\d{1,3})*)\s*[］】\]]")
_CLOSING = re.compile(r"[。！？!?；;，,：:]*$")


@dataclass
class CheckedAnswer:
    answer: str
    citations: list[Citation] = field(default_factory=list)
    unsupported: list[str] = field(default_factory=list)
    removed_markers: list[int] = field(default_factory=list)  # pointing nowhere, or to a passage that does not support the sentence
    added_markers: dict[str, int] = field(default_factory=dict)  # sentence -> passage it was given (or re-pointed to)


def normalize_markers(text: str) -> str:
    """Write every citation as ``[n]``: ``［1］``, ``【1】`` and ``[1,2]`` / ``[1、2]`` become ``[1]``, ``[1][2]``."""

    def repl(match: re.Match) -> str:
        return "".join(f"[{int(n)}]" for n in re.findall(r"\d+", match.group(1)))

    return _ALT_MARKER.sub(repl, text)


def lexical_support(sentence: str, passage_text: str) -> float:
    """1.0 when the sentence is quoted verbatim (ignoring whitespace), else the share of its bigrams in the passage."""
    body = normalize(strip_markers(sentence)).strip("。！？!?；;，,：: ")
    if body and body in normalize(passage_text):
        return 1.0
    return containment(bigrams(body), bigrams(passage_text))


def supports(sentence: str, passage_text: str, question: str = "") -> bool:
    """Whether the passage supports the sentence lexically (see ``MIN_LEXICAL_SUPPORT``).

    What the sentence repeats of the ``question`` (每台设备每天最多能运转…) is no claim of
    the passage's: the factual test reads only the rest of it.
    """
    if lexical_support(sentence, passage_text) >= MIN_LEXICAL_SUPPORT:
        return True
    body = strip_markers(sentence)
    asked, asked_facts = bigrams(question), set(stated_facts(question))
    claimed = bigrams(body) - asked or bigrams(body)
    held = [fact for fact in stated_facts(body) if fact not in asked_facts]
    passage = normalize(passage_text)
    return containment(claimed, bigrams(passage_text)) >= MIN_FACTUAL_SUPPORT and bool(held) and all(f in passage for f in held)


def check_citations(
    draft: str,
    contexts: Sequence[SearchResult],
    *,
    embed: Embed | None = None,
    min_cosine: float | None = None,
    exempt: Sequence[str] = (),
    question: str = "",
) -> CheckedAnswer:
    """Validate and complete the ``[n]`` markers of ``draft``; ``n`` is a context's ``rank``.

    ``min_cosine`` is the embedding cosine that counts as support (``SUPPORT_POSITION`` on
    the index's scale); ``exempt`` lists sentences that need no citation (the refusal text);
    ``question`` is what was asked (an answer may repeat it, see ``supports``).
    """
    draft = normalize_markers(draft)
    by_n = {r.rank: r for r in contexts}
    spans = answer_spans(draft)
    sentences = [draft[s:e] for s, e in spans]
    exempt_norm = {normalize(x).strip("。") for x in exempt}

    removed: list[int] = []
    kept: list[list[int]] = []
    for sentence in sentences:
        valid = []
        for n in markers(sentence):
            if n in by_n:
                if n not in valid:
                    valid.append(n)
            else:
                removed.append(n)
        kept.append(valid)

    # sentences with markers: keep only the markers whose passage supports the sentence
    marked = [i for i, valid in enumerate(kept) if valid]
    for i, supported in zip(marked, _supported_by(
        [strip_markers(sentences[i]) for i in marked], [[by_n[n] for n in kept[i]] for i in marked], embed, min_cosine, question
    )):
        removed.extend(n for n in kept[i] if n not in supported)
        kept[i] = supported

    # sentences without a valid marker: find the passage that supports them
    needs = [
        i for i, s in enumerate(sentences)
        if not kept[i] and normalize(strip_markers(s)).strip("。！？!?；;，,：: ") not in exempt_norm
    ]
    found = _best_support([strip_markers(sentences[i]) for i in needs], contexts, embed, min_cosine, question)
    unsupported: list[str] = []
    added: dict[str, int] = {}
    for i, n in zip(needs, found):
        if n is None:
            unsupported.append(strip_markers(sentences[i]).strip())
        else:
            kept[i] = [n]
            added[strip_markers(sentences[i]).strip()] = n

    # rebuild the answer with only the checked markers, keeping the text between sentences
    out, position = [], 0
    support: dict[int, list[str]] = {}
    for (start, end), sentence, valid in zip(spans, sentences, kept):
        out.append(draft[position:start])
        out.append(_with_markers(sentence, valid))
        position = end
        for n in valid:
            support.setdefault(n, []).append(strip_markers(sentence).strip())
    out.append(draft[position:])
    answer = "".join(out) if spans else strip_markers(draft)
    citations = [Citation(n, by_n[n], support[n]) for n in sorted(support)]
    return CheckedAnswer(answer.strip(), citations, unsupported, removed, added)


def _with_markers(sentence: str, numbers: list[int]) -> str:
    """The sentence with its markers replaced by ``numbers``, placed before the closing punctuation.

    A sentence whose markers are already exactly ``numbers`` is returned unchanged.
    """
    if markers(sentence) == numbers:
        return sentence
    body = strip_markers(sentence).rstrip()
    tail = _CLOSING.search(body).group(0)
    core = body[: len(body) - len(tail)] if tail else body
    return core + "".join(f"[{n}]" for n in numbers) + tail


def _supported_by(
    sentences: list[str], cited: list[list[SearchResult]], embed: Embed | None, min_cosine: float | None, question: str = ""
) -> list[list[int]]:
    """For each sentence, the ranks among its cited passages that support it (lexically, else by cosine)."""
    results = [[r.rank for r in passages if supports(s, r.chunk.text, question)] for s, passages in zip(sentences, cited)]
    missing = [i for i, ranks in enumerate(results) if not ranks]
    if embed is None or min_cosine is None or not missing:
        return results
    passages = {r.rank: r for i in missing for r in cited[i]}
    order = list(passages)
    vectors = embed([sentences[i] for i in missing] + [passages[n].chunk.text for n in order])
    sent_vecs, passage_vecs = vectors[: len(missing)], dict(zip(order, vectors[len(missing) :]))
    for row, i in enumerate(missing):
        results[i] = [r.rank for r in cited[i] if float(sent_vecs[row] @ passage_vecs[r.rank]) >= min_cosine]
    return results


def _best_support(
    sentences: list[str], contexts: Sequence[SearchResult], embed: Embed | None, min_cosine: float | None, question: str = ""
) -> list[int | None]:
    """For each sentence, the rank of the passage that clearly supports it, or None."""
    if not sentences or not contexts:
        return [None] * len(sentences)
    results: list[int | None] = []
    for sentence in sentences:
        scores = [(lexical_support(sentence, r.chunk.text), -r.rank, r) for r in contexts]
        best = max(scores, key=lambda x: x[:2])[2]
        results.append(best.rank if supports(sentence, best.chunk.text, question) else None)
    missing = [i for i, n in enumerate(results) if n is None]
    if embed is not None and min_cosine is not None and missing:
        vectors = embed([sentences[i] for i in missing] + [r.chunk.text for r in contexts])
        sent_vecs, passage_vecs = vectors[: len(missing)], vectors[len(missing) :]
        cosine = sent_vecs @ passage_vecs.T
        for row, i in enumerate(missing):
            j = int(np.argmax(cosine[row]))
            if cosine[row, j] >= min_cosine:
                results[i] = contexts[j].rank
    return results
