"""Loading files: encodings, line endings, JSONL records, folders, errors, the loader registry."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rag.corpus import loaders
from rag.corpus.loaders import load_path, register_loader, strip_markdown, supported_files
from rag.errors import InputError
from rag.records import SourceDocument

TEXT = "株洲日报\n2024年6月1日 星期六\n本报讯 覆盖率达到30.77%。\n"


@pytest.mark.parametrize(
    ("encoding", "expected"),
    [("utf-8", "utf-8"), ("utf-8-sig", "utf-8-sig"), ("gb18030", "gb18030"), ("gbk", "gb18030")],
)
def test_text_file_in_each_encoding(tmp_path: Path, encoding: str, expected: str):
    path = tmp_path / "issue.txt"
    path.write_bytes(TEXT.encode(encoding))
    [doc] = load_path(path)
    assert doc.text == TEXT  # a UTF-8 BOM is stripped
    assert doc.encoding == expected
    assert doc.source == "issue.txt"


def test_line_endings_are_normalised(tmp_path: Path):
    path = tmp_path / "crlf.txt"
    path.write_bytes("第一行\r\n第二行\r第三行\n".encode("utf-8"))
    assert load_path(path)[0].text == "第一行\n第二行\n第三行\n"


def test_utf16_with_bom(tmp_path: Path):
    path = tmp_path / "wide.txt"
    path.write_bytes(TEXT.encode("utf-16"))
    [doc] = load_path(path)
    assert doc.text == TEXT and doc.encoding == "utf-16"


def test_binary_file_is_an_input_error(tmp_path: Path):
    path = tmp_path / "image.txt"
    path.write_bytes(b"\x89PNG\r\n\x00\x00\x00\rIHDR\x00\xff")
    with pytest.raises(InputError, match="image.txt"):
        load_path(path)


def test_jsonl_records(tmp_path: Path):
    path = tmp_path / "news.jsonl"
    records = [
        {"text": "第一篇。", "title": "标题一", "date": "2024年6月1日", "source": "株洲日报-0601"},
        {"text": "第二篇。"},
    ]
    lines = [json.dumps(records[0], ensure_ascii=False), "", json.dumps(records[1], ensure_ascii=False)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    first, second = load_path(path)
    assert (first.source, first.title, first.date, first.text) == ("株洲日报-0601", "标题一", "2024年6月1日", "第一篇。")
    assert second.source == "news.jsonl#3"  # the line number, blank lines counted
    assert second.title is None


@pytest.mark.parametrize(
    ("line", "message"),
    [("{not json", "news.jsonl line 2"), ('{"title": "无正文"}', "news.jsonl line 2.*text"), ('["a"]', "line 2")],
)
def test_bad_jsonl_line_names_file_and_line(tmp_path: Path, line: str, message: str):
    path = tmp_path / "news.jsonl"
    path.write_text('{"text": "好的。"}\n' + line + "\n", encoding="utf-8")
    with pytest.raises(InputError, match=message):
        load_path(path)


def test_markdown_is_plain_text_titled_by_its_first_heading(tmp_path: Path):
    path = tmp_path / "note.md"
    path.write_text("# 株洲 **“厂BA”** 开赛\n\n昨晚，[篮球锦标赛](http://x.cn)鸣哨开赛，*14支*球队参赛。\n", encoding="utf-8")
    [doc] = load_path(path)
    assert doc.title == "株洲 “厂BA” 开赛"
    assert "昨晚，篮球锦标赛鸣哨开赛，14支球队参赛。" in doc.text
    assert "#" not in doc.text and "http" not in doc.text and "*" not in doc.text


def test_strip_markdown_keeps_text():
    assert strip_markdown("## 小标题\n> 引文 `代码` ![图](a.png) __粗__") == "小标题\n引文 代码 图 粗"


def test_folder_is_searched_recursively_in_order(tmp_path: Path):
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "2.txt").write_text("第二。", encoding="utf-8")
    (tmp_path / "1.txt").write_text("第一。", encoding="utf-8")
    (tmp_path / "3.md").write_text("第三。", encoding="utf-8")
    (tmp_path / "empty.txt").write_text("  \n", encoding="utf-8")  # skipped in a folder
    (tmp_path / "notes.xyz").write_bytes(b"%PDF")  # unknown suffix: skipped in a folder
    (tmp_path / ".hidden.txt").write_text("隐藏。", encoding="utf-8")
    (tmp_path / ".git").mkdir()
    (tmp_path / ".git" / "x.txt").write_text("隐藏。", encoding="utf-8")
    docs = load_path(tmp_path)
    assert [d.text for d in docs] == ["第一。", "第三。", "第二。"]
    # sorted by path: b/2.txt before empty.txt
    assert [f.name for f in supported_files(tmp_path)] == ["1.txt", "3.md", "2.txt", "empty.txt"]


def test_named_problem_files_are_input_errors(tmp_path: Path):
    empty = tmp_path / "empty.txt"
    empty.write_text("", encoding="utf-8")
    with pytest.raises(InputError, match="empty.txt is empty"):
        load_path(empty)
    other = tmp_path / "issue.xyz"
    other.write_bytes(b"%PDF")
    with pytest.raises(InputError, match="unsupported"):
        load_path(other)
    with pytest.raises(InputError, match="does not exist"):
        load_path(tmp_path / "missing.txt")
    nothing = tmp_path / "nothing"
    nothing.mkdir()
    with pytest.raises(InputError, match="no supported files"):
        load_path(nothing)
    assert supported_files(nothing) == []  # listing an empty folder is not an error


def test_unreadable_file_is_an_input_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    path = tmp_path / "locked.txt"
    path.write_text("内容。", encoding="utf-8")

    def refuse(self):
        raise PermissionError(13, "Permission denied", str(self))

    monkeypatch.setattr(Path, "read_bytes", refuse)
    with pytest.raises(InputError, match="locked.txt.*Permission denied"):
        load_path(path)


def test_registering_a_loader_adds_a_format(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(loaders, "_LOADERS", dict(loaders._LOADERS))  # undone after the test

    @register_loader(".xyz")
    def load_xyz(path: Path) -> list[SourceDocument]:
        return [SourceDocument(source=path.name, text=path.read_text(encoding="utf-8").upper(), encoding="xyz")]

    path = tmp_path / "data.xyz"
    path.write_text("abc", encoding="utf-8")
    assert ".xyz" in loaders.supported_suffixes()
    [doc] = load_path(path)
    assert (doc.text, doc.encoding) == ("ABC", "xyz")
    assert [d.source for d in load_path(tmp_path)] == ["data.xyz"]
