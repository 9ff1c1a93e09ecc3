"""Splitting the bundled newspaper issues into articles: concrete outcomes on the real files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rag.corpus import articles_from_path, load_path, segment_document
from rag.corpus.clean import strip_continuation_notes
from rag.corpus.segment import PAGE_FURNITURE_TITLE, issue_date, normalize_date
from rag.evaluation.questions import normalize_for_match
from rag.records import Article, SourceDocument

ROOT = Path(__file__).resolve().parents[2]
CORPUS = ROOT / "data" / "corpus"
FILES = sorted(CORPUS.glob("*.txt"))


def compact(text: str) -> str:
    return "".join(text.split())


def is_subsequence(small: str, big: str) -> bool:
    chars = iter(big)
    return all(ch in chars for ch in small)


@pytest.fixture(scope="module")
def issues() -> dict[str, tuple[SourceDocument, list[Article]]]:
    out = {}
    for path in FILES:
        [doc] = load_path(path)
        out[path.name[:3]] = (doc, segment_document(doc))
    return out


def stories(articles: list[Article]) -> list[Article]:
    return [a for a in articles if a.title != PAGE_FURNITURE_TITLE]


def containing(articles: list[Article], text: str) -> list[Article]:
    return [a for a in articles if text in a.text]


# --- the invariant and completeness -------------------------------------------------------


@pytest.mark.parametrize("key", [p.name[:3] for p in FILES])
def test_articles_are_cleaned_spans_of_the_source(issues, key):
    doc, articles = issues[key]
    assert [a.index for a in articles] == list(range(len(articles)))
    previous_end = 0
    for a in stories(articles):
        assert a.source == doc.source
        assert previous_end <= a.start < a.end <= len(doc.text)  # in source order, not overlapping
        previous_end = a.end
        # cleaning removed whitespace and layout pieces only: the rest is the source, in order
        assert is_subsequence(compact(a.text), compact(doc.text[a.start : a.end]))
        assert len(compact(a.text)) >= 15


@pytest.mark.parametrize("key", [p.name[:3] for p in FILES])
def test_no_text_is_lost(issues, key):
    """Every source line is in an article (or is a title, or a figure marker)."""
    doc, articles = issues[key]
    kept = [compact(a.text) for a in articles] + [compact(a.title or "") for a in articles]
    for line in doc.text.split("\n"):
        piece = compact(strip_continuation_notes(line))
        if piece and not set(piece) <= set("①②③④⑤⑥⑦⑧⑨⑩"):
            assert any(piece in text for text in kept), line


def test_every_evaluation_quote_lies_inside_one_article(issues):
    by_file = {doc.source: articles for doc, articles in issues.values()}
    for name in ("questions.jsonl", "holdout.jsonl"):
        path = ROOT / "data" / "eval" / name
        if not path.exists():
            continue
        for line in path.read_text(encoding="utf-8").splitlines():
            question = json.loads(line)
            for evidence in question["evidence"]:
                quote = normalize_for_match(evidence["quote"])
                articles = by_file[evidence["file"]]
                assert any(quote in normalize_for_match(a.text) for a in articles), (question["id"], evidence["quote"])


# --- 000: 太钢日报 --------------------------------------------------------------------------


def test_vertical_headline_titles_the_cold_rolling_mill_article(issues):
    _, articles = issues["000"]
    [article] = [a for a in articles if a.title == "当好自己健康的第一责任人"]
    assert "冷轧厂" in article.text and article.text.startswith("本报讯（通讯员 郭玮）")
    assert containing(articles, "当好自己健康的第一责任人")  # the headline is also kept as text


def test_each_news_lead_starts_its_own_article(issues):
    _, articles = issues["000"]
    leads = [a for a in articles if "本报讯" in a.text]
    assert len(leads) == 3
    assert all(a.text.count("本报讯") == 1 for a in leads)
    assert "本报讯1月5日，新年伊始，太钢集团党委书记、董事长盛更红" in containing(articles, "盛更红")[0].text


def test_doubled_slogan_is_gone_from_the_stories(issues):
    _, articles = issues["000"]
    assert not any("环境保护环境保护" in a.text or "人人有责人人有责" in a.text for a in stories(articles))
    furniture = articles[0]
    assert furniture.title == PAGE_FURNITURE_TITLE and "人人有责人人有责" in furniture.text


def test_captions_and_credits_stay_with_their_story(issues):
    _, articles = issues["000"]
    [roadmap] = containing(articles, "低碳冶金技术路线图")
    assert roadmap.text.endswith("图为发布现场。张可树 摄")
    [visit] = containing(articles, "（太钢工会）")
    assert visit.title == "盛更红到太钢帮扶点调研"
    assert "图为盛更红在河北庄村羊肚菌大棚基地调研。吕勇军 摄" in visit.text


def test_carbon_targets_sentence_is_whole(issues):
    _, articles = issues["000"]
    assert containing(articles, "为2025年实现降碳6%、2030年实现降碳16%、2035年实现降碳30%、2050年实现碳中和的目标")


# --- 001, 002, 003 ------------------------------------------------------------------------------


def test_headline_printed_after_its_story_titles_it(issues):
    _, articles = issues["001"]
    [inspection] = containing(articles, "覆盖率达到30.77%")
    assert "太钢集团首轮政治巡察圆满结束" in (inspection.title or "")
    [safety] = containing(articles, "太钢电气公司积极行动")
    assert safety.title == "太钢电气公司做实安全工作"


def test_continuation_note_is_removed(issues):
    doc, articles = issues["001"]
    assert "（下转第二版）" in doc.text
    assert not containing(articles, "下转")


def test_running_head_naming_the_paper_is_kept_apart(issues):
    _, articles = issues["003"]
    assert articles[0].title == PAGE_FURNITURE_TITLE and "太重新闻" in articles[0].text
    assert not any("太重新闻太重新闻" in a.text for a in stories(articles))


def test_double_spaced_issue_reads_as_sentences(issues):
    _, articles = issues["003"]
    assert containing(articles, "集团公司党委书记、董事长韩珍堂主持会议并讲话。")
    assert containing(articles, "中国冶金报社与太重集团结下了深厚的友谊")


def test_signatures_and_credits_close_articles(issues):
    _, articles = issues["002"]
    [statement] = containing(articles, "长城铝业党委将学习贯彻")
    assert statement.title == "提升党建工作价值创造力"
    assert statement.text.endswith("长城铝业党委书记 苏其军")
    [zinc] = containing(articles, "15万吨锌冶炼项目成功产出首批锌锭")
    assert zinc.title == "云铜锌业搬迁项目生产工序全面贯通"


# --- 004: 株洲日报 ------------------------------------------------------------------------


def test_masthead_gives_newspaper_and_date(issues):
    _, articles = issues["004"]
    assert {(a.newspaper, a.date) for a in articles} == {("株洲日报", "2024-06-01")}
    furniture = articles[0]
    assert furniture.title == PAGE_FURNITURE_TITLE
    assert "2024年6月1日 星期六" in furniture.text and "第2366期" in furniture.text


def test_bylined_stories_with_headlines_above(issues):
    _, articles = issues["004"]
    [liu] = containing(articles, "刘光跃赴涪陵区调研")
    assert liu.title == "刘光跃在涪陵区调研时要求 更好发挥基层人大代表作用"
    [carbon] = containing(articles, "株洲日报全媒体记者/高晓燕")
    assert carbon.title == "株企抢占“双碳”风口"  # lifted out of the sentence it interrupted
    assert "绿色园区18家、绿色供应链管理示范企业27家" in carbon.text


def test_phone_numbers_survive(issues):
    _, articles = issues["004"]
    assert containing(articles, "举报电话：0731-12388(工作时间人工接听，其他时间可留言)")
    assert containing(articles, "专门值班电话：0731-82673688")


def test_other_issues_have_no_invented_metadata(issues):
    for key in ("000", "001", "002", "003"):
        _, articles = issues[key]
        assert {(a.newspaper, a.date) for a in articles} == {(None, None)}


# --- other documents ------------------------------------------------------------------------


def test_a_record_with_its_own_title_is_one_article():
    doc = SourceDocument(
        source="news.jsonl#1", text="本报讯 近日，云铝股份组建劳模工匠\n宣讲团。\n\n本报讯 另一条。", title="劳模宣讲",
        date="2025/6/5", newspaper="中国铝业报",
    )
    [article] = segment_document(doc)
    assert (article.title, article.date, article.newspaper) == ("劳模宣讲", "2025-06-05", "中国铝业报")
    assert article.text == "本报讯 近日，云铝股份组建劳模工匠宣讲团。\n本报讯 另一条。"
    assert (article.start, article.end) == (0, len(doc.text))


def test_plain_text_file(tmp_path: Path):
    path = tmp_path / "extra.txt"
    path.write_text("株洲云龙示范区今年新建了三座图书馆。\n\n馆长张三介绍，藏书共计十二万册。\n", encoding="utf-8")
    [article] = articles_from_path(path)
    assert article.text == "株洲云龙示范区今年新建了三座图书馆。\n馆长张三介绍，藏书共计十二万册。"
    assert (article.source, article.index, article.title) == ("extra.txt", 0, None)


def test_dates():
    assert normalize_date("2024年6月1日") == normalize_date("2024-6-1") == "2024-06-01"
    assert normalize_date("六月初") == "六月初" and normalize_date(" ") is None
    assert issue_date("株洲日报\n2024年6月1日 星期六\n") == "2024-06-01"
    assert issue_date("2022年4月18日") is None  # a date without weekday is not a masthead date
