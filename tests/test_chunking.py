"""Sentence splitting and chunking, on small cases and on the bundled corpus."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from rag.chunking import chunk_article, chunk_articles, passage_text
from rag.text.sentences import sentence_spans, split_sentences
from rag.corpus import articles_from_path
from rag.errors import InputError
from rag.evaluation.questions import normalize_for_match
from rag.records import Article

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "data" / "corpus"


@pytest.fixture(scope="module")
def articles() -> list[Article]:
    return articles_from_path(CORPUS)


def article(text: str, **meta) -> Article:
    return Article(source=meta.pop("source", "t.txt"), text=text, **meta)


# --- sentences ------------------------------------------------------------------------------


def test_chinese_sentence_ends_with_closing_quotes():
    text = "“每个人都是自己健康的第一责任人！”为进一步做好工作。他说：“好。”然后走了……真的？是；对"
    assert split_sentences(text) == [
        "“每个人都是自己健康的第一责任人！”",
        "为进一步做好工作。",
        "他说：“好。”",
        "然后走了……",
        "真的？",
        "是；",
        "对",
    ]


def test_numbers_and_ascii_punctuation():
    assert split_sentences("覆盖率达到30.77%。举报电话：0731-12388。") == ["覆盖率达到30.77%。", "举报电话：0731-12388。"]
    assert split_sentences("Hello! Is it 3.5? Yes; fine") == ["Hello!", "Is it 3.5?", "Yes;", "fine"]


def test_line_breaks_end_sentences_and_spans_point_into_the_text():
    text = "标题\n  第一句。第二句\n\n"
    assert split_sentences(text) == ["标题", "第一句。", "第二句"]
    assert [text[s:e] for s, e in sentence_spans(text)] == ["标题", "第一句。", "第二句"]


# --- chunks --------------------------------------------------------------------------------


def test_short_article_is_one_chunk():
    [chunk] = chunk_article(article("一句话。", title="标题", date="2024-06-01", newspaper="株洲日报", index=3))
    assert (chunk.text, chunk.position, chunk.start, chunk.end) == ("一句话。", 0, 0, 4)
    assert (chunk.title, chunk.date, chunk.newspaper, chunk.source, chunk.article_index) == (
        "标题", "2024-06-01", "株洲日报", "t.txt", 3,
    )
    assert re.fullmatch("[0-9a-f]{16}", chunk.chunk_id)


def test_whole_sentences_with_overlap():
    sentences = [f"第{i}句话写得比较长一些用来测试分块。" for i in range(10)]  # 18 characters each
    text = "".join(sentences)
    chunks = chunk_article(article(text), chunk_size=60, overlap=20)
    for chunk in chunks:
        assert len(chunk.text) <= 60
        assert chunk.text == text[chunk.start : chunk.end]
        assert chunk.text.endswith("。") and chunk.text.startswith("第")  # whole sentences
    for a, b in zip(chunks, chunks[1:]):
        assert b.start < a.end and a.end - b.start <= 20  # one sentence carried over
        assert b.end > a.end  # progress
    assert chunks[0].start == 0 and chunks[-1].end == len(text)
    assert [c.position for c in chunks] == list(range(len(chunks)))


def test_overlong_sentence_is_split_at_commas_first():
    clause = "面对人工操作效率低劳动强度大的难题，"  # 18 characters
    text = clause * 5 + "最终实现一次投产成功。"
    chunks = chunk_article(article(text), chunk_size=40, overlap=0)
    assert all(len(c.text) <= 40 for c in chunks)
    assert all(c.text.endswith(("，", "。")) for c in chunks)
    assert "".join(c.text for c in chunks) == text


def test_hard_cut_is_last_resort_and_spares_numbers():
    text = "甲" * 35 + "30.77%" + "乙" * 30
    chunks = chunk_article(article(text), chunk_size=40, overlap=0)
    assert "".join(c.text for c in chunks) == text
    assert any("30.77%" in c.text for c in chunks)
    assert all(len(c.text) <= 40 for c in chunks)


def test_empty_article_has_no_chunks():
    assert chunk_article(article("")) == []


@pytest.mark.parametrize(("size", "overlap"), [(0, 0), (100, 100), (100, -1)])
def test_bad_settings_are_input_errors(size, overlap):
    with pytest.raises(InputError):
        chunk_article(article("一句话。"), chunk_size=size, overlap=overlap)


def test_passage_text_adds_the_title_once():
    [chunk] = chunk_article(article("正文。", title="标题"))
    assert passage_text(chunk) == "标题\n正文。"
    [chunk] = chunk_article(article("标题\n正文。", title="标题"))
    assert passage_text(chunk) == "标题\n正文。"
    [chunk] = chunk_article(article("正文。"))
    assert passage_text(chunk) == "正文。"


# --- the corpus at default settings ----------------------------------------------------------


def test_corpus_chunks_respect_size_and_sentences(articles):
    chunks = chunk_articles(articles, 300, 80)
    by_article = {(a.source, a.index): a for a in articles}
    for chunk in chunks:
        source = by_article[(chunk.source, chunk.article_index)]
        assert chunk.text == source.text[chunk.start : chunk.end]
        assert len(chunk.text) <= 300  # over-long sentences are split, so nothing is longer
        assert (chunk.title, chunk.date, chunk.newspaper) == (source.title, source.date, source.newspaper)


def test_every_sentence_is_whole_in_some_chunk(articles):
    for a in articles:
        chunks = chunk_article(a, 300, 80)
        for start, end in sentence_spans(a.text):
            if end - start <= 300:
                assert any(c.start <= start and end <= c.end for c in chunks), a.text[start:end]


def test_carbon_neutral_target_stands_in_one_chunk(articles):
    chunks = chunk_articles(articles, 300, 80)
    holding = [c for c in chunks if "2050年实现碳中和" in c.text]
    assert holding
    assert any("为2025年实现降碳6%、2030年实现降碳16%、2035年实现降碳30%、2050年实现碳中和的目标" in c.text for c in holding)


def test_numbers_survive_chunking(articles):
    texts = [c.text for c in chunk_articles(articles, 300, 80)]
    assert any("30.77%" in t for t in texts) and any("0731-12388" in t for t in texts)


def test_chunk_ids_are_stable_and_unique(articles):
    first = [c.chunk_id for c in chunk_articles(articles, 300, 80)]
    second = [c.chunk_id for c in chunk_articles(articles_from_path(CORPUS), 300, 80)]
    assert first == second
    assert len(set(first)) == len(first)


def test_evaluation_quotes_mostly_fit_in_one_chunk(articles):
    """Evidence quotes are short; with an 80-character overlap nearly all sit inside one chunk."""
    chunks = chunk_articles(articles, 300, 80)
    by_file: dict[str, list[str]] = {}
    for c in chunks:
        by_file.setdefault(c.source, []).append(normalize_for_match(c.text))
    found = total = 0
    for name in ("questions.jsonl", "holdout.jsonl"):
        path = ROOT / "data" / "eval" / name
        if not path.exists():
            continue
        for line in path.read_text(encoding="utf-8").splitlines():
            for evidence in json.loads(line)["evidence"]:
                total += 1
                quote = normalize_for_match(evidence["quote"])
                found += any(quote in text for text in by_file.get(evidence["file"], []))
    assert total == 0 or found / total >= 0.95
