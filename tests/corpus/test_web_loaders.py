"""HTML pages (trafilatura) and Word documents (python-docx)."""

from __future__ import annotations

import pytest

from rag.corpus import load_path, segment_document
from rag.errors import InputError

ARTICLE = """<html><head><title>太钢发布低碳路线图 - 太钢日报</title>
<meta property="article:published_time" content="2022-06-10"></head>
<body><nav><a href="/">首页</a> <a href="/news">新闻</a> <a href="/about">关于我们</a></nav>
<article><h1>太钢发布低碳路线图</h1>
<p>本报讯 在日前召开的太钢高质量发展大调研成果发布会上，太钢正式发布了不锈钢低碳冶金技术路线图。</p>
<p>路线图为2025年实现降碳6%、2050年实现碳中和的目标，提供了科技和技术支撑。</p></article>
<footer>版权所有 © 太钢日报社 联系电话 0351-0000000</footer></body></html>"""


def test_html_article_body_title_and_date(tmp_path):
    pytest.importorskip("trafilatura")
    page = tmp_path / "news.html"
    page.write_text(ARTICLE, encoding="utf-8")
    [doc] = load_path(page)
    assert doc.title == "太钢发布低碳路线图" and doc.date == "2022-06-10"
    assert "2050年实现碳中和" in doc.text and "首页" not in doc.text and "版权所有" not in doc.text
    [article] = segment_document(doc)
    assert article.title == "太钢发布低碳路线图" and article.date == "2022-06-10"


def test_html_without_an_article_is_refused(tmp_path):
    pytest.importorskip("trafilatura")
    page = tmp_path / "menu.html"
    page.write_text("<html><body><nav><a href='/'>首页</a> <a href='/x'>新闻</a></nav></body></html>", encoding="utf-8")
    with pytest.raises(InputError, match="no article found"):
        load_path(page)


def test_docx_paragraphs_and_title(tmp_path):
    docx = pytest.importorskip("docx")
    document = docx.Document()
    document.add_heading("株企抢占“双碳”风口", level=1)
    document.add_paragraph("5月28日，2024年湖南省重点企业能效提升对接暨“双碳”工作推进会在株洲召开。")
    document.add_paragraph("“双碳”风口与警钟联袂而至，这是新的分水岭。")
    path = tmp_path / "memo.docx"
    document.save(path)
    [doc] = load_path(path)
    assert doc.title == "株企抢占“双碳”风口"
    assert doc.text.splitlines() == ["5月28日，2024年湖南省重点企业能效提升对接暨“双碳”工作推进会在株洲召开。", "“双碳”风口与警钟联袂而至，这是新的分水岭。"]


def test_damaged_docx_is_refused(tmp_path):
    pytest.importorskip("docx")
    path = tmp_path / "broken.docx"
    path.write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(InputError, match="not a readable Word"):
        load_path(path)
