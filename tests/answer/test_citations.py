import numpy as np

from rag.answer.citations import check_citations, lexical_support, normalize_markers
from tests.answer.fakes import MODEL, ROADMAP, VISIT, make_results

CONTEXTS = make_results([ROADMAP, MODEL, VISIT])


def test_marker_pointing_nowhere_is_removed():
    checked = check_citations("太钢正式发布了不锈钢低碳冶金技术路线图[1][9]。", CONTEXTS)
    assert checked.answer == "太钢正式发布了不锈钢低碳冶金技术路线图[1]。"
    assert checked.removed_markers == [9]
    assert [c.n for c in checked.citations] == [1]


def test_invalid_only_marker_is_replaced_by_the_supporting_passage():
    checked = check_citations("太钢确立了“13460”绿色低碳发展模式[9]。", CONTEXTS)
    assert checked.answer == "太钢确立了“13460”绿色低碳发展模式[2]。"
    assert [c.n for c in checked.citations] == [2]
    assert checked.citations[0].support == ["太钢确立了“13460”绿色低碳发展模式。"]


def test_unmarked_sentence_gets_its_passage_and_unsupported_is_flagged():
    draft = "盛更红到娄烦县调研帮扶村产业项目情况。太钢的营收在2060年将达到一万亿元。"
    checked = check_citations(draft, CONTEXTS)
    assert checked.answer.startswith("盛更红到娄烦县调研帮扶村产业项目情况[3]。")
    assert checked.unsupported == ["太钢的营收在2060年将达到一万亿元。"]
    assert [c.n for c in checked.citations] == [3]


def test_embedding_match_is_the_fallback_for_paraphrases():
    paraphrase = "两位地方主官全程陪着看了项目"  # no lexical overlap with any passage
    texts = [paraphrase] + [r.chunk.text for r in CONTEXTS]

    def embed(batch):  # the paraphrase points the same way as passage 3, nothing else does
        rows = {paraphrase: [0, 0, 1], ROADMAP: [1, 0, 0], MODEL: [0.6, 0.8, 0], VISIT: [0, 0.3, 0.954]}
        return np.asarray([rows[t] for t in batch], dtype=np.float32)

    assert texts  # all known to the stub
    assert check_citations(paraphrase, CONTEXTS).unsupported == [paraphrase]
    checked = check_citations(paraphrase, CONTEXTS, embed=embed, min_cosine=0.9)
    assert checked.answer == paraphrase + "[3]" and [c.n for c in checked.citations] == [3]
    assert checked.unsupported == []


def test_every_citation_is_a_marker_in_the_answer():
    draft = "路线图明确了太钢集团低碳发展的时序表[1]。最终实现零碳目标[2][2]。没有出处的话[7]。"
    checked = check_citations(draft, CONTEXTS)
    assert "[7]" not in checked.answer and checked.answer.count("[2]") == 1
    shown = {int(n) for n in __import__("re").findall(r"\[(\d+)\]", checked.answer)}
    assert shown == {c.n for c in checked.citations}


def test_refusal_text_needs_no_citation():
    checked = check_citations("资料中没有相关信息", CONTEXTS, exempt=["资料中没有相关信息"])
    assert checked.answer == "资料中没有相关信息"
    assert checked.citations == [] and checked.unsupported == []


def test_marker_spellings_are_normalised():
    assert normalize_markers("见［1］和【2】以及[1,3]、[2、4]") == "见[1]和[2]以及[1][3]、[2][4]"


def test_lexical_support_is_one_for_verbatim_quotes():
    assert lexical_support("太钢正式发布了不锈钢低碳冶金技术路线图[1]。", ROADMAP) == 1.0
    assert lexical_support("宝武集团发布了氢冶金示范工程", ROADMAP) < 0.6


def test_a_marker_whose_passage_does_not_support_the_sentence_is_re_pointed():
    # an LLM-style reply citing the wrong passage: the sentence is passage 2's, not 1's
    checked = check_citations("太钢确立了“13460”绿色低碳发展模式[1]。", CONTEXTS)
    assert checked.answer == "太钢确立了“13460”绿色低碳发展模式[2]。"
    assert checked.removed_markers == [1]
    assert [c.n for c in checked.citations] == [2]


def test_swapped_markers_are_each_sent_to_their_own_passage():
    draft = "太钢正式发布了不锈钢低碳冶金技术路线图[3]。盛更红到娄烦县调研帮扶村产业项目情况[1]。"
    checked = check_citations(draft, CONTEXTS)
    assert checked.answer == "太钢正式发布了不锈钢低碳冶金技术路线图[1]。盛更红到娄烦县调研帮扶村产业项目情况[3]。"
    assert sorted(checked.removed_markers) == [1, 3]


def test_an_invented_claim_with_a_real_marker_is_unsupported():
    draft = "太钢正式发布了不锈钢低碳冶金技术路线图[1]。太钢的营收在2060年将达到一万亿元[1]。"
    checked = check_citations(draft, CONTEXTS)
    assert checked.unsupported == ["太钢的营收在2060年将达到一万亿元。"]
    assert checked.answer.count("[1]") == 1  # only the supported sentence keeps its marker
    assert checked.citations[0].support == ["太钢正式发布了不锈钢低碳冶金技术路线图。"]


def test_of_two_markers_only_the_supporting_one_stays():
    checked = check_citations("太钢正式发布了不锈钢低碳冶金技术路线图[1][3]。", CONTEXTS)
    assert checked.answer == "太钢正式发布了不锈钢低碳冶金技术路线图[1]。"
    assert checked.removed_markers == [3]


def test_a_short_paraphrase_holding_the_passages_facts_is_supported_and_a_changed_fact_is_not():
    passage = make_results(["云铝某厂叉车女工王芳独创“稳、准、快”操作法，将叉运精度精准控制在±2厘米，实现“万吨零事故”。"])
    paraphrase = "王芳能把叉运精度控制到±2厘米[1]。"  # 控制到 for 控制在: the joints change, not the facts
    assert lexical_support(paraphrase, passage[0].chunk.text) < 0.6
    assert [c.n for c in check_citations(paraphrase, passage).citations] == [1]
    changed = check_citations("王芳能把叉运精度控制到±5厘米[1]。", passage)
    assert changed.citations == [] and changed.unsupported == ["王芳能把叉运精度控制到±5厘米。"]


def test_what_an_answer_repeats_of_the_question_is_no_claim_of_the_passage():
    passage = make_results(["◆基础防护 1.科学佩戴口罩：每个口罩累计佩戴时间不超过8小时。"])
    question = "按照防护小贴士，一只口罩累计最多能戴多久？"
    answer = "按照防护小贴士，一只口罩累计最多能戴8小时[1]。"
    assert check_citations(answer, passage).citations == []  # most of its words are the question's
    assert [c.n for c in check_citations(answer, passage, question=question).citations] == [1]
    assert check_citations("按照防护小贴士，一只口罩累计最多能戴12小时[1]。", passage, question=question).citations == []
