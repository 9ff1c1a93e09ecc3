"""Search filters: parsing the user's values, matching chunks, and Milvus expressions."""

from __future__ import annotations

import pytest

from rag.cli import main
from rag.errors import InputError
from rag.records import Chunk
from rag.store.filters import SearchFilter, parse_date
from rag.store.milvus_store import filter_expression


def chunk(**fields) -> Chunk:
    return Chunk(chunk_id="c", text="t", source=fields.pop("source", "a.txt"), **fields)


@pytest.mark.parametrize("text, iso", [("2024-06-01", "2024-06-01"), ("2024/6/1", "2024-06-01"), ("2024年6月1日", "2024-06-01"),
                                       (" 2023-07-28 ", "2023-07-28"), ("", None), (None, None)])
def test_dates_are_read_as_iso(text, iso):
    assert parse_date(text) == iso


@pytest.mark.parametrize("text", ["2024-13-01", "2024-02-30", "yesterday", "20240601", "2024-06"])
def test_a_malformed_date_is_an_input_error(text):
    with pytest.raises(InputError, match="YYYY-MM-DD"):
        SearchFilter.build(date_from=text)


def test_an_empty_range_is_refused():
    with pytest.raises(InputError, match="empty"):
        SearchFilter.build("2024-06-02", "2024-06-01")


def test_matching():
    june = SearchFilter.build("2024-06-01", "2024-06-30")
    assert june.matches(chunk(date="2024-06-01")) and june.matches(chunk(date="2024-06-30"))
    assert not june.matches(chunk(date="2024-07-01")) and not june.matches(chunk(date=None))
    assert not june.matches(chunk(date="六月"))  # a date that is not ISO is no date
    papers = SearchFilter.build(newspapers="株洲日报, 太钢日报")
    assert papers.newspapers == ("株洲日报", "太钢日报") and papers.matches(chunk(newspaper="太钢日报"))
    assert not papers.matches(chunk(newspaper=None))
    files = SearchFilter.build(sources=["feed.jsonl"])
    assert files.matches(chunk(source="feed.jsonl#2", file="feed.jsonl")) and not files.matches(chunk(source="b.txt"))
    assert SearchFilter.build().is_empty


def test_langchain_style_mapping():
    where = SearchFilter.from_mapping({"date_from": "2024/6/1", "newspaper": "株洲日报", "source": "a.txt"})
    assert where == SearchFilter("2024-06-01", None, ("株洲日报",), ("a.txt",))
    with pytest.raises(InputError, match="Unknown filter field"):
        SearchFilter.from_mapping({"author": "x"})


def test_milvus_expressions_quote_values_as_data():
    assert filter_expression(None) == "" and filter_expression(SearchFilter()) == ""
    expr = filter_expression(SearchFilter.build("2024-06-01", None, 'a" or day != "', "b\\c"))
    assert expr == ('day != "" and day >= "2024-06-01" and newspaper in ["a\\" or day != \\""] and '
                    '(file in ["b\\\\c"] or source in ["b\\\\c"])')


@pytest.mark.parametrize("command", ["search", "ask"])
def test_cli_malformed_date_is_one_line_and_exit_2(command, tmp_path, capsys):
    assert main([command, "太钢", "--date-to", "2024-02-30", "--index", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--date-to" in err and "YYYY-MM-DD" in err
