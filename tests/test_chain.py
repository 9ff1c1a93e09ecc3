"""The answering chain: contract (fast, with a toy searcher) and anchor cases (real model and index)."""

from __future__ import annotations

import re

import pytest
from langchain_core.runnables import Runnable

from rag.answer import Draft
from rag.answer.sentences import strip_markers
from rag.chain import AnswerPipeline
from rag.config import Settings
from rag.errors import InputError
from rag.evaluation.metrics import citation_support
from rag.records import Answer
from rag.text.features import normalize
from tests.answer.fakes import ToySearcher

CANONICAL = "太钢的碳中和目标是什么"
ROADMAP_FILE = "000_a73fe32ef8bc3bea.txt"


@pytest.fixture
def pipeline(tmp_path) -> AnswerPipeline:
    return AnswerPipeline(Settings(index_dir=tmp_path / "index"), searcher=ToySearcher())


def assert_citations_real(answer: Answer) -> None:
    """Every [n] is a listed citation, every citation is used, and each cited sentence is in its passage."""
    shown = {int(n) for n in re.findall(r"\[(\d+)\]", answer.answer)}
    assert shown == {c.n for c in answer.citations}
    assert {c.n for c in answer.citations} <= {r.rank for r in answer.contexts}
    by_n = {r.rank: r.chunk.text for r in answer.contexts}
    supported, cited = citation_support(answer.answer, by_n)
    assert supported == cited
    for c in answer.citations:
        assert c.result.rank == c.n
        for sentence in c.support:
            assert normalize(sentence).rstrip("。；！？") in normalize(c.result.chunk.text)


def test_invoke_returns_a_cited_answer_with_timings(pipeline):
    answer = pipeline.invoke(CANONICAL)
    assert not answer.refused
    assert "2050年" in answer.answer and "碳中和" in answer.answer
    assert sum(m in normalize(answer.answer) for m in ("2025年实现降碳6%", "2030年实现降碳16%", "2035年实现降碳30%")) >= 2
    assert any(c.result.chunk.source == ROADMAP_FILE for c in answer.citations)
    assert_citations_real(answer)
    assert set(answer.timings_ms) == {"retrieve", "generate", "total"}
    assert answer.timings_ms["total"] >= answer.timings_ms["retrieve"]
    assert [r.rank for r in answer.contexts] == list(range(1, len(answer.contexts) + 1))


def test_json_shape(pipeline):
    data = pipeline.invoke(CANONICAL).to_json()
    assert list(data) == ["question", "answer", "refused", "citations", "contexts", "timings_ms"]
    assert data["question"] == CANONICAL
    for item in data["citations"] + data["contexts"]:
        assert list(item) == ["n", "chunk_id", "source", "title", "date", "text", "score"]
    assert list(data["timings_ms"]) == ["retrieve", "generate", "total"]


def test_unanswerable_question_is_refused_with_related_passages_but_no_citations(pipeline):
    answer = pipeline.invoke("太钢2060年的营收目标是多少")
    assert answer.refused and answer.answer == "资料中没有相关信息"
    assert answer.citations == [] and answer.contexts


def test_stream_yields_text_then_the_same_answer(pipeline):
    parts = list(pipeline.stream(CANONICAL))
    assert isinstance(parts[-1], Answer)
    deltas = parts[:-1]
    assert deltas and all(isinstance(d, str) for d in deltas)
    assert "".join(deltas) == parts[-1].answer
    assert parts[-1].answer == pipeline.invoke(CANONICAL).answer


def test_follow_up_is_rewritten_before_retrieval(tmp_path):
    searcher = ToySearcher()
    pipeline = AnswerPipeline(Settings(index_dir=tmp_path / "index"), searcher=searcher)
    first = pipeline.invoke(CANONICAL)
    assert first.standalone_question is None
    answer = pipeline.invoke("那2030年呢？", [(CANONICAL, first.answer)])
    assert answer.standalone_question == "太钢2030年的碳中和目标是什么"
    assert searcher.queries[-1] == "太钢2030年的碳中和目标是什么"
    assert answer.question == "那2030年呢？"
    assert "2030年实现降碳16%" in normalize(answer.answer)


def test_as_runnable_is_the_lcel_chain(pipeline):
    chain = pipeline.as_runnable()
    assert isinstance(chain, Runnable)
    answer = chain.invoke({"question": CANONICAL, "history": [], "k": 3, "mode": "hybrid", "generator": "extractive"})
    assert isinstance(answer, Answer) and len(answer.contexts) == 3
    names = [step.name for step in chain.bound.steps] if hasattr(chain, "bound") else []
    assert names[-2:] == ["generate", "check_citations"]


def test_k_mode_and_generator_can_be_given_per_call(pipeline):
    assert len(pipeline.invoke(CANONICAL, k=2).contexts) == 2
    with pytest.raises(InputError, match="generator"):
        pipeline.invoke(CANONICAL, generator="gpt-9")


def test_a_generator_object_is_accepted_and_its_markers_are_checked(pipeline):
    class Parrot:
        name = "parrot"

        def generate(self, question, contexts):
            return Draft("太钢正式发布了不锈钢低碳冶金技术路线图[7]。")

        def stream(self, question, contexts):
            yield "太钢正式发布了不锈钢低碳冶金技术路线图[7]。"
            yield self.generate(question, contexts)

    answer = pipeline.invoke(CANONICAL, generator=Parrot())
    assert "[7]" not in answer.answer and answer.citations
    assert_citations_real(answer)


def test_empty_question_is_an_input_error(pipeline):
    with pytest.raises(InputError, match="empty"):
        pipeline.invoke("   ")


# --- real model and index -------------------------------------------------------------


@pytest.fixture(scope="module")
def real_pipeline(request):
    settings = request.getfixturevalue("corpus_settings")
    searcher = request.getfixturevalue("searcher")
    return AnswerPipeline(settings, searcher=searcher)


@pytest.mark.integration
def test_anchor_answered(real_pipeline):
    answer = real_pipeline.invoke(CANONICAL)
    assert not answer.refused
    text = normalize(answer.answer)
    assert "2050年" in text and "碳中和" in text
    assert sum(m in text for m in ("2025年实现降碳6%", "2030年实现降碳16%", "2035年实现降碳30%")) >= 2
    assert any(c.result.chunk.source == ROADMAP_FILE for c in answer.citations)
    assert_citations_real(answer)
    assert len(strip_markers(answer.answer)) <= 360


@pytest.mark.integration
def test_anchor_refused(real_pipeline):
    answer = real_pipeline.invoke("太钢2060年的营收目标是多少")
    assert answer.refused and answer.answer == "资料中没有相关信息" and answer.citations == []


@pytest.mark.integration
def test_real_follow_up(real_pipeline):
    first = real_pipeline.invoke(CANONICAL)
    answer = real_pipeline.invoke("那2030年呢？", [(CANONICAL, first.answer)])
    assert answer.standalone_question and "2030" in answer.standalone_question and "太钢" in answer.standalone_question
    assert "降碳16%" in normalize(answer.answer)
    assert_citations_real(answer)


def test_question_is_embedded_once_for_retrieval_and_scoring(tmp_path):
    """With a real ``Searcher`` (toy vectors), retrieval reuses the scorer's query vector."""
    from rag.retrieval import Searcher
    from rag.store.dense import DenseIndex
    from rag.store.lexical import LexicalIndex
    from rag.store.tokenize import tokenize
    from tests.answer.fakes import PASSAGES, ToyEmbeddings, make_chunk

    class CountingEmbeddings(ToyEmbeddings):
        calls = 0

        def encode_queries(self, texts):
            CountingEmbeddings.calls += 1
            return super().encode_queries(texts)

    class Manifest:
        def check_model(self, model_id, dimension):
            pass

    def Store(chunks, vectors):
        from rag.store.local_store import LocalStore

        return LocalStore(Manifest(), chunks, DenseIndex.build(vectors, vectors.shape[1]),
                          LexicalIndex.build([tokenize(c.text) for c in chunks]))

    embeddings = CountingEmbeddings()
    chunks = [make_chunk(text, source, n) for n, (source, text) in enumerate(PASSAGES)]
    searcher = Searcher(Store(chunks, embeddings.encode_passages([c.text for c in chunks])), embeddings)
    pipeline = AnswerPipeline(Settings(index_dir=tmp_path / "index"), searcher=searcher)
    answer = pipeline.invoke(CANONICAL, k=3)
    assert CountingEmbeddings.calls == 1
    assert len(answer.contexts) == 3
    assert pipeline.searcher is searcher and searcher.embeddings is embeddings  # the searcher is untouched
