"""How well one sentence matches one question: pure functions, no model.

``lexical_score`` is the weighted share of the question's key terms, content bigrams,
years and numbers found in a text (0..1). Retrieval uses it to re-rank passages by their
best sentence; the extractive answerer, to choose sentences.
"""

from __future__ import annotations

from functools import lru_cache

from rag.text.features import bigrams, containment, normalize
from rag.text.question import QuestionProfile, found, term_weight

def lexical_score(question: QuestionProfile, text: str) -> float:
    """0..1: weighted share of the question's terms, bigrams and numbers found in ``text``."""
    norm = normalize(text)
    parts: list[tuple[float, float]] = []  # (weight, score)
    if question.terms:
        weighted, total = _weighted_terms(question)
        hit = sum(weight for term, weight in weighted if term_in(term, norm))
        parts.append((0.5, hit / total))
    if question.content_bigrams:
        parts.append((0.3, containment(question.content_bigrams, bigrams(text))))
    exact = question.years + question.numbers
    if exact:
        parts.append((0.3, sum(1 for x in exact if x in norm) / len(exact)))
    if not parts:
        return 0.0
    return sum(w * s for w, s in parts) / sum(w for w, _ in parts)


@lru_cache(maxsize=1024)
def _weighted_terms(question: QuestionProfile) -> tuple[tuple[tuple[str, float], ...], float]:
    """The question's terms with their weights, and the weights' sum: the same for every
    sentence it is compared with (a hundred or so per answer), so worked out once."""
    weighted = tuple((term, term_weight(term, question)) for term in question.terms)
    return weighted, sum(weight for _, weight in weighted)


def term_in(term: str, norm: str) -> bool:
    return found(term, norm)
