"""Filters end to end on the bundled corpus: `rag search`, `rag ask` and the LangChain retriever."""

from __future__ import annotations

import json

import pytest

from rag.cli import main
from rag.retrieval import NewsRetriever

pytestmark = pytest.mark.integration

CANONICAL = "太钢的碳中和目标是什么"
ZHUZHOU = "004_a03633453cf80aeb.txt"  # the only issue with a printed date (2024-06-01) and paper (株洲日报)


def run(capsys, *argv) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_search_by_paper_returns_k_passages_of_that_paper(corpus_settings, capsys):
    code, out, _ = run(capsys, "search", CANONICAL, "-k", "4", "--paper", "株洲日报", "--json", "--index", str(corpus_settings.index_dir))
    results = json.loads(out)["results"]
    assert code == 0 and len(results) == 4 and {r["source"] for r in results} == {ZHUZHOU}


def test_search_by_date_range_and_source(corpus_settings, capsys):
    code, out, _ = run(capsys, "search", CANONICAL, "--date-from", "2024-06-01", "--date-to", "2024/6/1", "--source", ZHUZHOU,
                       "--json", "--index", str(corpus_settings.index_dir))
    results = json.loads(out)["results"]
    assert code == 0 and results and {r["date"] for r in results} == {"2024-06-01"}


def test_a_filter_matching_nothing_says_so(corpus_settings, capsys):
    code, out, err = run(capsys, "search", CANONICAL, "--paper", "人民日报", "--json", "--index", str(corpus_settings.index_dir))
    assert code == 0 and json.loads(out)["results"] == [] and "no article matches the filter" in err
    code, out, err = run(capsys, "ask", CANONICAL, "--date-to", "1999-12-31", "--json", "--index", str(corpus_settings.index_dir))
    answer = json.loads(out)
    assert code == 0 and answer["refused"] and answer["contexts"] == [] and "no article matches the filter" in err


def test_ask_with_a_filter_answers_from_that_paper_only(corpus_settings, capsys):
    code, out, _ = run(capsys, "ask", "株洲企业如何抢占双碳风口", "--paper", "株洲日报", "--json", "--index", str(corpus_settings.index_dir))
    answer = json.loads(out)
    assert code == 0 and {c["source"] for c in answer["contexts"]} == {ZHUZHOU}


def test_langchain_retriever_takes_a_filter(searcher):
    retriever = NewsRetriever(searcher=searcher, search_kwargs={"k": 3, "filter": {"newspaper": "株洲日报"}})
    documents = retriever.invoke(CANONICAL)
    assert len(documents) == 3 and {d.metadata["source"] for d in documents} == {ZHUZHOU}
