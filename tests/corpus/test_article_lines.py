"""Files holding one news article per line (the CRUD-RAG news dumps): detection, offsets, dates."""

from __future__ import annotations

from pathlib import Path

import pytest

from rag.chunking import chunk_articles
from rag.config import PROJECT_ROOT
from rag.corpus import articles_from_path
from rag.corpus.article_lines import article_text, is_article_per_line, stamp_date

CRUD_NEWS = PROJECT_ROOT.parent / "shared" / "crud_news"

LINES = [
    "[ 2023-07-28 16：40 ] ，正文：人民网柏林7月28日电 （记者刘仲华）7月27日晚，使馆举行招待会。约350人出席。",
    "2023-07-31 07:16，正文：原标题：日本渔民：老调重弹【环球时报】近来，日本政府高官不断造访福岛。",
    "",
    "07-20 22:43，正文：世名科技(12.340, -0.93, -7.01%)（300522）7月20日公开信息显示。",
    "，正文：来源：中国企业家俱乐部昨晚，《意见》重磅发布。\u00a0\u00a0      这一消息广泛传播。",
    "发布时间：2023-07-26 08:46:02，正文：今天上午，光伏项目正式开工。",
]


def compact(text: str) -> str:
    return "".join(text.split())


@pytest.fixture
def dump(tmp_path: Path) -> Path:
    path = tmp_path / "news_dump.txt"
    path.write_text("\n".join(LINES) + "\n", encoding="utf-8")
    return path


def test_each_line_is_one_article_named_by_the_file(dump: Path):
    articles = articles_from_path(dump)
    assert len(articles) == 5  # the blank line is no article
    assert {a.source for a in articles} == {"news_dump.txt"}
    assert [a.index for a in articles] == [0, 1, 2, 3, 4]
    assert [a.title for a in articles] == [None] * 5
    assert [a.date for a in articles] == ["2023-07-28", "2023-07-31", None, None, "2023-07-26"]
    assert articles[0].text == "人民网柏林7月28日电 （记者刘仲华）7月27日晚，使馆举行招待会。约350人出席。"
    assert articles[1].text.startswith("原标题：日本渔民：老调重弹")  # a colon inside the text stays


def test_offsets_point_at_the_article_in_the_file(dump: Path):
    text = dump.read_text(encoding="utf-8")
    for article in articles_from_path(dump):
        span = text[article.start : article.end]
        assert "\n" not in span and "正文" not in span[:3]
        assert compact(article.text) == compact(span)  # verbatim but for whitespace


def test_paragraph_gaps_become_line_breaks():
    assert article_text("昨晚，《意见》重磅发布。\u00a0\u00a0      这一消息 广泛传播。 ") == "昨晚，《意见》重磅发布。\n这一消息 广泛传播。"


def test_chunks_keep_the_article_text_verbatim(dump: Path):
    articles = articles_from_path(dump)
    for chunk in chunk_articles(articles, chunk_size=20, overlap=5):
        assert compact(chunk.text) in compact(articles[[a.index for a in articles].index(chunk.article_index)].text)
        assert chunk.source == "news_dump.txt"


def test_detection_needs_most_lines():
    assert is_article_per_line("\n".join(LINES))
    assert not is_article_per_line("株洲日报\n2024年6月1日 星期六\n本报讯 覆盖率达到30.77%。\n")
    assert not is_article_per_line(LINES[0] + "\n普通的一行。\n又一行。\n")  # one line in three is not most
    assert not is_article_per_line("关于正文：这是一段说明。")  # "正文：" behind ordinary text


def test_stamp_dates():
    assert stamp_date("[ 2023-07-28 16：40 ] ") == "2023-07-28"
    assert stamp_date("2023/7/6 ") == "2023-07-06"
    assert stamp_date("08/16  13:50") is None and stamp_date("") is None


def test_bundled_newspaper_issues_are_not_taken_for_dumps():
    for path in sorted((PROJECT_ROOT / "data" / "corpus").glob("*.txt")):
        assert not is_article_per_line(path.read_text(encoding="utf-8"))


@pytest.mark.skipif(not CRUD_NEWS.is_dir(), reason="needs ../shared/crud_news")
def test_first_lines_of_a_real_crud_news_file(tmp_path: Path):
    source = CRUD_NEWS / "documents_dup_part_1_part_1.txt"
    lines = source.read_text(encoding="utf-8").split("\n")[:20]
    sample = tmp_path / source.name
    sample.write_text("\n".join(lines) + "\n", encoding="utf-8")
    articles = articles_from_path(sample)
    assert len(articles) == 20
    assert articles[0].date == "2023-07-28" and articles[0].text.startswith("人民网柏林7月28日电")
    assert articles[3].date is None  # "08/16  13:50": no year
    text = sample.read_text(encoding="utf-8")
    for article, line in zip(articles, lines):
        assert compact(article.text) == compact(line.split("正文：", 1)[1])
        assert compact(text[article.start : article.end]) == compact(article.text)
