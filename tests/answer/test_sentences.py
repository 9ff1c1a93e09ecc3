from rag.answer.sentences import answer_spans, markers, split_answer, split_spans, strip_markers


def test_spans_are_verbatim_slices():
    text = "  本报讯（记者）太钢发布路线图。路线图明确了“目标”。\n第二段；再说！尾句"
    spans = split_spans(text, passage=3)
    assert [s.text for s in spans] == ["本报讯（记者）太钢发布路线图。", "路线图明确了“目标”。", "第二段；", "再说！", "尾句"]
    for s in spans:
        assert text[s.start : s.end] == s.text
        assert s.passage == 3
    assert [s.position for s in spans] == [0, 1, 2, 3, 4]


def test_answer_sentences_keep_their_markers():
    answer = "太钢2025年降碳6%[1]。2030年降碳16%。[2]还有[9]；最后一句"
    assert split_answer(answer) == ["太钢2025年降碳6%[1]。", "2030年降碳16%。[2]", "还有[9]；", "最后一句"]
    rebuilt = answer
    for start, end in answer_spans(answer):
        assert answer[start:end] in rebuilt


def test_list_lines_are_sentences():
    assert split_answer("1. 第一项[1]\n2. 第二项[2]\n") == ["1. 第一项[1]", "2. 第二项[2]"]


def test_marker_helpers():
    assert markers("a[1]b[12]c[x]") == [1, 12]
    assert strip_markers("降碳6%[1]。") == "降碳6%。"
