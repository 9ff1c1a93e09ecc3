"""Each repair of PDF-extracted text, on small cases, and the invariant on the real corpus."""

from __future__ import annotations

from pathlib import Path

import pytest

from rag.corpus.clean import (
    clean_text,
    collapse_spaces,
    is_doubled_line,
    is_layout_artifact,
    split_paragraphs,
    strip_continuation_notes,
)

CORPUS = Path(__file__).resolve().parents[2] / "data" / "corpus"


def compact(text: str) -> str:
    return "".join(text.split())


def is_subsequence(small: str, big: str) -> bool:
    chars = iter(big)
    return all(ch in chars for ch in small)


# --- joining broken lines --------------------------------------------------------------


def test_lines_broken_mid_sentence_are_joined_without_spaces():
    raw = "本报讯（记者 薛 华）在日前召开的太钢高质量\n发展大调研成果发布会上，太钢正式发布了不锈钢\n低碳冶金技术路线图。\n"
    assert clean_text(raw) == "本报讯（记者 薛华）在日前召开的太钢高质量发展大调研成果发布会上，太钢正式发布了不锈钢低碳冶金技术路线图。"


def test_column_breaks_with_blank_lines_are_joined():
    raw = "确立了“13460”绿色低碳发展模式，即围绕“提高碳生产率”一个中心，通过\n\n“笃行五年、展望十年、畅想十五年”三个阶段。\n"
    assert clean_text(raw) == "确立了“13460”绿色低碳发展模式，即围绕“提高碳生产率”一个中心，通过“笃行五年、展望十年、畅想十五年”三个阶段。"


def test_double_spaced_text_is_joined():
    raw = (
        "4月18日，集团公司党委召开中心组学习会，\n\n传达学习习近平总书记在海南考察调研时的重要\n\n"
        "讲话和在中共中央政治局常务委员会、北京冬奥会\n\n冬残奥会总结表彰大会上的讲话精神等。集团公司\n\n"
        "党委书记、董事长韩珍堂主持会议并讲话。\n"
    )
    assert clean_text(raw) == (
        "4月18日，集团公司党委召开中心组学习会，传达学习习近平总书记在海南考察调研时的重要讲话和在中共中央政治局"
        "常务委员会、北京冬奥会冬残奥会总结表彰大会上的讲话精神等。集团公司党委书记、董事长韩珍堂主持会议并讲话。"
    )


def test_numbers_split_over_lines_stay_whole():
    raw = "路线图明确了太钢集团低碳发展的时序表和基\n于不锈钢产品冶炼的六大碳中和技术路径，为2025\n年实现降碳6%、2030年实现降碳16%、2035年实\n现降碳30%、2050年实现碳中和的目标。\n"
    assert "为2025年实现降碳6%、2030年实现降碳16%、2035年实现降碳30%、2050年实现碳中和的目标。" in clean_text(raw)


def test_latin_words_keep_a_space_across_a_break():
    assert clean_text("The plant cut its energy use\nby a third last year.") == "The plant cut its energy use by a third last year."


def test_paragraphs_stay_separate():
    raw = "会议强调，要做好疫情防控工作。\n\n会议指出，要全面落实\n巡视工作会议精神。\n"
    assert clean_text(raw) == "会议强调，要做好疫情防控工作。\n会议指出，要全面落实巡视工作会议精神。"


def test_headline_is_not_glued_to_the_next_story():
    raw = "（太钢工会）\n\n盛 更 红 到 太 钢 帮 扶 点 调 研\n\n本报讯（通讯员 郭 玮）为进一步做好常态化疫情防控工作。\n"
    assert clean_text(raw).split("\n") == [
        "（太钢工会）",
        "盛更红到太钢帮扶点调研",
        "本报讯（通讯员 郭玮）为进一步做好常态化疫情防控工作。",
    ]


def test_one_paragraph_per_line_text_is_not_joined():
    long = "5月29日，国务院发布了《2024—2025年节能降碳行动方案》，明确了单位国内生产总值能源消耗和二氧化碳排放的降低目标，规模以上工业企业单位增加值能源消耗降低3.5%左右"
    raw = f"重点用能企业 成为首轮降碳对象\n\n工业领域节能降碳，箭在弦上。\n\n{long}。\n\n{long}。\n"
    assert clean_text(raw).split("\n")[:2] == ["重点用能企业 成为首轮降碳对象", "工业领域节能降碳，箭在弦上。"]


def test_headline_dropped_into_a_sentence_is_lifted_out():
    long = "近年来，全省工信系统持续开展工业节能监察和诊断、节能技术推广、绿色工厂创建等工作。2023年，全省累计培育国家级绿色工厂213家、绿色园区18"
    raw = f"{long}\n\n株企抢占“双碳”风口\n\n家、绿色供应链管理示范企业27家，绿色创建综合绩效在全国排名第6。\n"
    paragraphs = split_paragraphs(raw)
    assert paragraphs[0].text.endswith("绿色园区18家、绿色供应链管理示范企业27家，绿色创建综合绩效在全国排名第6。")
    assert (paragraphs[1].kind, paragraphs[1].text) == ("lifted", "株企抢占“双碳”风口")
    assert "风口" not in clean_text(raw)


# --- headlines, spaces, artifacts ----------------------------------------------------


def test_vertical_headline_is_rebuilt():
    raw = "称职地当好自己的“第一责任人”。\n\n" + "\n".join("当好自己健康的第一责任人") + "\n"
    assert clean_text(raw).split("\n") == ["称职地当好自己的“第一责任人”。", "当好自己健康的第一责任人"]


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("盛 更 红 到 太 钢 帮 扶 点 调 研", "盛更红到太钢帮扶点调研"),
        ("本报讯（记者 薛 华）在日前", "本报讯（记者 薛华）在日前"),
        ("□ 赵 桐", "□ 赵桐"),
        ("本报讯 1 月 5日，新年伊", "本报讯1月5日，新年伊"),
        ("覆盖率达到 30.77%。", "覆盖率达到30.77%。"),
        ("举报电话：0731-12388(工作时间人工接听)", "举报电话：0731-12388(工作时间人工接听)"),
        ("图为发布现场。 张可树 摄", "图为发布现场。张可树 摄"),
        ("吕 茹 摄", "吕茹 摄"),
        ("发现问题形成震慑 推动改革促进发展", "发现问题形成震慑 推动改革促进发展"),
        ("国内统一连续出版物号CN 43-0005", "国内统一连续出版物号CN 43-0005"),
        ("在智装公司生产车间 ，车间设备", "在智装公司生产车间，车间设备"),
        ("程 ，记 录 太 重 集 团 更 加 辉 煌", "程，记录太重集团更加辉煌"),
    ],
)
def test_layout_spaces(line: str, expected: str):
    assert collapse_spaces(line) == expected


@pytest.mark.parametrize(
    "line",
    [
        " 环境保护环境保护 人人有责人人有责 从我做起从我做起",
        "服 务党党 群群 太重新闻太重新闻",
        "管 理产产 经经",
        "““以一为基谋新局以一为基谋新局 勇争第一创价值勇争第一创价值””",
    ],
)
def test_doubled_running_heads_are_artifacts(line: str):
    assert is_doubled_line(line) and is_layout_artifact(line)


@pytest.mark.parametrize("line", ["人人都是安全员，天天讲安全。", "确保项目保质、保量完工交付……", "担当……", "太钢集团首轮政治巡察圆满结束"])
def test_ordinary_lines_are_not_doubled(line: str):
    assert not is_doubled_line(line)


def test_figure_markers_and_page_labels_are_artifacts():
    assert is_layout_artifact("①①") and is_layout_artifact("第04版")
    assert not is_layout_artifact("第二版的报道。")


def test_doubled_slogan_is_dropped():
    raw = " 环境保护环境保护 人人有责人人有责 从我做起从我做起\n\n本报讯（记者 薛 华）太钢正式发布了路线图。\n"
    assert clean_text(raw) == "本报讯（记者 薛华）太钢正式发布了路线图。"


def test_continuation_notes_are_removed():
    assert strip_continuation_notes("必须毫不松懈抓好疫情防控， （下装第二版）") == "必须毫不松懈抓好疫情防控， "
    assert strip_continuation_notes("(上接第一版)坚决守好太重阵地") == "坚决守好太重阵地"
    assert strip_continuation_notes("推动国家长期繁荣强盛。 （未完待续）") == "推动国家长期繁荣强盛。 "
    assert clean_text("我感到骄傲。\n\n（下转第二版）\n") == "我感到骄傲。"


def test_a_note_ends_the_paragraph():
    raw = "关键期，必须毫不松懈抓好疫\n\n情防控， （下装第二版）\n\n慰 问 信\n“统筹疫情防控和经济社会发展。”\n"
    assert clean_text(raw).split("\n") == ["关键期，必须毫不松懈抓好疫情防控，", "慰问信", "“统筹疫情防控和经济社会发展。”"]


# --- the invariant on the real corpus ----------------------------------------------------


@pytest.mark.parametrize("path", sorted(CORPUS.glob("*.txt")), ids=lambda p: p.name[:3])
def test_cleaning_only_removes(path: Path):
    """Cleaned text is the raw text with whitespace and whole layout pieces taken out, in order."""
    raw = path.read_text(encoding="utf-8")
    assert is_subsequence(compact(clean_text(raw)), compact(raw))
    paragraphs = split_paragraphs(raw)
    lifted = [p for p in paragraphs if p.kind == "lifted"]
    for p in paragraphs:
        span = raw[p.start : p.end]
        assert is_subsequence(compact(p.text), compact(span))
        if p.kind == "text":  # exactly the source minus whitespace, notes and lifted headlines
            expected = compact(strip_continuation_notes(span))
            for headline in lifted:
                if p.start <= headline.start < p.end:
                    expected = expected.replace(compact(headline.text), "", 1)
            assert compact(p.text) == expected
