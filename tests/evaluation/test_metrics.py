"""Unit tests of the pure metric functions (synthetic texts, no model, no index)."""

from __future__ import annotations

import pytest

from rag.evaluation import metrics as m

CHUNKS = [
    "太钢集团今天召开大会。会议讨论了生产安排。",
    "路线图明确了太钢集团低碳发展的时序表，为2025\n年实现降碳6%的目标提供支撑。",
    "2050年实现碳中和。",
]


# --- retrieval --------------------------------------------------------------------


def test_first_hit_rank_ignores_whitespace_and_nfkc():
    # the quote crosses a line break in the chunk, and uses a full-width percent sign
    assert m.first_hit_rank(CHUNKS, ["为2025年实现降碳6％的目标"]) == 2


def test_first_hit_rank_any_quote_counts():
    assert m.first_hit_rank(CHUNKS, ["不存在的句子", "2050年实现碳中和"]) == 3
    assert m.first_hit_rank(CHUNKS, ["2050年实现碳中和", "太钢集团今天召开大会"]) == 1
    assert m.first_hit_rank(CHUNKS, ["不存在"]) is None
    assert m.first_hit_rank([], ["太钢"]) is None


def test_quote_split_across_two_chunks_is_not_a_hit():
    assert m.first_hit_rank(["前半句话", "后半句话"], ["前半句话后半句话"]) is None


def test_hit_at_and_reciprocal_rank():
    assert m.hit_at(1, 1) == 1.0 and m.hit_at(2, 1) == 0.0 and m.hit_at(5, 5) == 1.0 and m.hit_at(None, 5) == 0.0
    assert m.reciprocal_rank(4) == 0.25 and m.reciprocal_rank(None) == 0.0


def test_score_retrieval_cuts_at_k_and_skips_questions_without_evidence():
    assert m.score_retrieval(CHUNKS, ["2050年实现碳中和"], k=2) == {"hit_rank": None, "hit@1": 0.0, "hit@k": 0.0, "mrr": 0.0}
    assert m.score_retrieval(CHUNKS, ["2050年实现碳中和"], k=3) == {"hit_rank": 3, "hit@1": 0.0, "hit@k": 1.0, "mrr": pytest.approx(1 / 3)}
    assert m.score_retrieval(CHUNKS, [], k=3) == {"hit_rank": None, "hit@1": None, "hit@k": None, "mrr": None}


# --- key points -------------------------------------------------------------------


def test_key_point_recall_on_one_text_and_on_passages():
    assert m.key_point_recall("2025年降碳6%，2050年碳中和", ["2025", "降碳6％", "2030"]) == pytest.approx(2 / 3)
    assert m.missing_key_points("2025年降碳6%", ["2025", "2030"]) == ["2030"]
    assert m.key_point_recall(CHUNKS, ["时序表", "碳中和", "营收"]) == pytest.approx(2 / 3)
    assert m.key_point_recall("anything", []) is None


def test_key_point_must_lie_inside_one_passage():
    assert m.missing_key_points(["降碳", "6%"], ["降碳6%"]) == ["降碳6%"]


# --- citations --------------------------------------------------------------------


def test_citation_markers():
    assert m.citation_markers("甲[1]。乙[2][3]，丙[1, 4]。") == [1, 2, 3, 1, 4]
    assert m.citation_markers("没有引用。") == []


def test_cited_sentences_attach_trailing_markers_to_the_previous_sentence():
    answer = "太钢发布了路线图。[1] 2050年实现碳中和[2]。\n没有引用的句子。"
    assert m.cited_sentences(answer) == [("太钢发布了路线图", [1]), ("2050年实现碳中和", [2]), ("没有引用的句子", [])]


def test_citations_valid():
    assert m.citations_valid("甲[1]。乙[2]。", {1, 2, 3}) is True
    assert m.citations_valid("甲[1]。乙[7]。", {1, 2, 3}) is False
    assert m.citations_valid("没有引用。", {1}) is None


def test_citation_support_counts_cited_sentences_only():
    passages = {1: CHUNKS[0], 2: CHUNKS[2]}
    answer = "太钢集团今天召开大会。[1] 2050年实现碳中和[1]。会议讨论了生产安排[1][2]。虚构的内容[2]。没有引用。"
    # supported: sentence 1 (by [1]), sentence 3 (by [1]); not: sentence 2 (cites [1] only), sentence 4
    assert m.citation_support(answer, passages) == (2, 4)
    assert m.citation_support("甲[9]。", passages) == (0, 1)
    assert m.citation_support("", passages) == (0, 0)


def test_score_answer_for_answerable_and_unanswerable():
    passages = {1: CHUNKS[2]}
    good = m.score_answer("2050年实现碳中和[1]。", False, ["2050", "碳中和"], True, passages)
    assert good["key_point_recall"] == 1.0 and good["all_key_points"] == 1.0 and good["missing_key_points"] == []
    assert good["false_refusal"] == 0.0 and good["refusal_correct"] is None
    assert good["citation_valid"] is True and (good["supported_sentences"], good["cited_sentences"]) == (1, 1)

    refused = m.score_answer("资料中没有相关信息。", True, ["2050"], True, passages)
    assert refused["key_point_recall"] == 0.0 and refused["false_refusal"] == 1.0 and refused["missing_key_points"] == ["2050"]

    unanswerable = m.score_answer("资料中没有相关信息。", True, [], False, {})
    assert unanswerable["key_point_recall"] is None and unanswerable["refusal_correct"] == 1.0 and unanswerable["false_refusal"] is None


# --- aggregates -------------------------------------------------------------------


def test_percentile_linear_interpolation():
    assert m.percentile([10, 20, 30, 40], 50) == 25
    assert m.percentile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11], 95) == pytest.approx(10.5)
    assert m.percentile([7], 95) == 7
    assert m.percentile([], 50) is None
    assert m.percentile([None, 3.0], 50) == 3.0


def test_mean_and_ratio_skip_not_applicable():
    assert m.mean([1.0, None, 0.0]) == 0.5
    assert m.mean([None]) is None
    assert m.ratio(1, 0) is None


def _row(qid, qtype, file, retrieved, answer=None, refused=False, key_points=("碳中和",), quotes=("2050年实现碳中和",), timings=None):
    answerable = qtype != "unanswerable"
    if not answerable:
        key_points, quotes = (), ()
    view = None if answer is None else {"text": answer, "refused": refused, "passages": {i + 1: t for i, t in enumerate(retrieved)}}
    row = m.score_question(list(key_points), list(quotes), answerable, retrieved, 3, retrieved, view)
    return {"id": qid, "type": qtype, "file": file, "answerable": answerable, "timings_ms": timings or {}, **row}


def test_summarize_and_breakdown():
    rows = [
        _row("a", "factoid", "x.txt", CHUNKS, "2050年实现碳中和[3]。", timings={"retrieval": 10, "generation": 100}),
        _row("b", "factoid", "x.txt", CHUNKS[:2], "不知道。", refused=True, timings={"retrieval": 30, "generation": 300}),
        _row("c", "unanswerable", "", CHUNKS, "资料中没有相关信息。", refused=True),
        _row("d", "numeric", "y.txt", list(reversed(CHUNKS)), "碳中和[9]。"),
    ]
    s = m.summarize(rows)
    assert s["retrieval"] == {"hit@1": pytest.approx(1 / 3), "hit@k": pytest.approx(2 / 3), "mrr": pytest.approx((1 / 3 + 0 + 1) / 3),
                              "context_key_point_recall": pytest.approx(2 / 3)}
    a = s["answer"]
    assert a["key_point_recall"] == pytest.approx(2 / 3)
    assert a["all_key_points_rate"] == pytest.approx(2 / 3)
    assert a["refusal_accuracy"] == 1.0
    assert a["false_refusal_rate"] == pytest.approx(1 / 3)
    assert a["citation_validity"] == 0.5  # a is valid, d cites [9] with 3 passages
    assert a["citation_rate"] == 1.0
    assert a["citation_support"] == 0.5
    assert s["counts"] == {"questions": 4, "answerable": 3, "unanswerable": 1, "with_evidence": 3, "with_key_points": 3,
                           "answered": 4, "refused": 2, "answers_with_citations": 2, "cited_sentences": 2}

    by_type = m.breakdown(rows, "type", ("factoid", "numeric", "list", "unanswerable"))
    assert list(by_type) == ["factoid", "numeric", "unanswerable"]
    assert by_type["factoid"]["retrieval"]["hit@k"] == 0.5
    assert by_type["unanswerable"]["retrieval"]["hit@k"] is None
    assert list(m.breakdown(rows, "file")) == ["(none)", "x.txt", "y.txt"]

    lat = m.aggregate_latency(rows)
    assert lat["retrieval"] == {"p50": 20.0, "p95": pytest.approx(29.0), "n": 2}
    assert lat["total"]["n"] == 0


def test_summarize_without_answers():
    rows = [_row("a", "factoid", "x.txt", CHUNKS)]
    s = m.summarize(rows)
    assert s["answer"] is None and s["counts"]["answered"] == 0


def test_bootstrap_intervals_hold_the_rate_and_widen_with_fewer_questions():
    from rag.evaluation.metrics import aggregate_retrieval, confidence_intervals

    def row(hit):
        return {"retrieval": {"hit@1": hit, "hit@k": hit, "mrr": hit}, "context_key_point_recall": None}

    many = [row(1.0)] * 80 + [row(0.0)] * 20
    few = [row(1.0)] * 8 + [row(0.0)] * 2
    low, high = confidence_intervals(many)["retrieval"]["hit@1"]
    assert low < aggregate_retrieval(many)["hit@1"] < high
    few_low, few_high = confidence_intervals(few)["retrieval"]["hit@1"]
    assert few_high - few_low > high - low
