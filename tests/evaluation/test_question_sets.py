"""The bundled question sets are well formed and grounded in the corpus; the loader rejects bad files."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from rag.errors import InputError
from rag.evaluation.questions import (
    QUESTION_TYPES,
    Evidence,
    Question,
    contains,
    load_questions,
    normalize_for_match,
)

ROOT = Path(__file__).resolve().parents[2]
CORPUS_DIR = ROOT / "data" / "corpus"
DEV_PATH = ROOT / "data" / "eval" / "questions.jsonl"
HOLDOUT_PATH = ROOT / "data" / "eval" / "holdout.jsonl"
SETS = {"dev": DEV_PATH, "holdout": HOLDOUT_PATH}
CRUD_DIR = ROOT.parent / "shared" / "crud_news"
CRUD_DEV_PATH = ROOT / "data" / "eval" / "crud_questions.jsonl"
CRUD_HOLDOUT_PATH = ROOT / "data" / "eval" / "crud_holdout.jsonl"
CRUD_SETS = {"crud_dev": CRUD_DEV_PATH, "crud_holdout": CRUD_HOLDOUT_PATH}
CRUD_FILES = {"documents_dup_part_1_part_1.txt", "documents_dup_part_5_part_2.txt", "documents_dup_part_9_part_3.txt"}


@pytest.fixture(scope="module")
def corpus() -> dict[str, str]:
    """Corpus file name -> normalised raw text."""
    texts = {p.name: normalize_for_match(p.read_text(encoding="utf-8")) for p in sorted(CORPUS_DIR.glob("*.txt"))}
    assert len(texts) == 5
    return texts


@pytest.fixture(scope="module")
def dev() -> list[Question]:
    return load_questions(DEV_PATH)


@pytest.fixture(scope="module")
def holdout() -> list[Question]:
    return load_questions(HOLDOUT_PATH)


@pytest.fixture(scope="module", params=sorted(SETS))
def question_set(request) -> list[Question]:
    return load_questions(SETS[request.param])


# --------------------------------------------------------------------------- set composition


def test_dev_set_size(dev):
    assert len(dev) >= 80


def test_holdout_set_size(holdout):
    assert len(holdout) >= 20


def test_dev_covers_all_corpus_files(dev, corpus):
    main_files = {q.file for q in dev if q.file}
    evidence_files = {e.file for q in dev for e in q.evidence}
    assert main_files == set(corpus)
    assert evidence_files == set(corpus)


def test_dev_has_all_types(dev):
    assert {q.type for q in dev} == set(QUESTION_TYPES)


def test_holdout_has_all_types(holdout):
    assert {q.type for q in holdout} == set(QUESTION_TYPES)


def test_unanswerable_share(question_set):
    share = sum(q.type == "unanswerable" for q in question_set) / len(question_set)
    assert share >= 0.10


def test_ids_unique_within_and_across_sets(dev, holdout):
    ids = [q.id for q in dev + holdout]
    assert [i for i, n in Counter(ids).items() if n > 1] == []


def test_no_dev_question_repeated_in_holdout(dev, holdout):
    dev_texts = {normalize_for_match(q.question) for q in dev}
    assert [q.id for q in holdout if normalize_for_match(q.question) in dev_texts] == []


def test_no_duplicate_questions_within_a_set(question_set):
    texts = Counter(normalize_for_match(q.question) for q in question_set)
    assert [t for t, n in texts.items() if n > 1] == []


def test_canonical_carbon_neutrality_question(dev):
    matches = [q for q in dev if q.question.rstrip("？?") == "太钢的碳中和目标是什么"]
    assert len(matches) == 1
    q = matches[0]
    assert q.type == "list"
    for point in ("降碳6%", "降碳16%", "降碳30%", "2050", "碳中和"):
        assert point in q.key_points


# --------------------------------------------------------------------------- grounding


def test_every_evidence_quote_occurs_in_its_file(question_set, corpus):
    bad = [
        (q.id, e.file, e.quote)
        for q in question_set
        for e in q.evidence
        if e.file not in corpus or normalize_for_match(e.quote) not in corpus[e.file]
    ]
    assert bad == []


def test_evidence_quotes_are_short_spans(question_set):
    bad = [(q.id, e.quote) for q in question_set for e in q.evidence if not 10 <= len(normalize_for_match(e.quote)) <= 80]
    assert bad == []


def test_every_key_point_is_in_an_evidence_quote_and_the_corpus(question_set, corpus):
    everything = "".join(corpus.values())
    bad = [
        (q.id, point)
        for q in question_set
        for point in q.key_points
        if not any(contains(e.quote, point) for e in q.evidence) or normalize_for_match(point) not in everything
    ]
    assert bad == []


def test_main_file_is_consistent_with_evidence(question_set, corpus):
    for q in question_set:
        if q.file:
            assert q.file in corpus, q.id
        if q.type == "multi_article":
            assert q.file == "", q.id
            assert len(q.evidence) >= 2, q.id
        elif q.evidence:
            assert {e.file for e in q.evidence} == {q.file}, q.id


def test_key_point_counts(question_set):
    for q in question_set:
        if q.type == "unanswerable":
            assert q.key_points == [] and q.evidence == [], q.id
        else:
            # 1-6 facts; only the canonical carbon question lists each year and target separately
            limit = 8 if q.question.startswith("太钢的碳中和目标") else 6
            assert 1 <= len(q.key_points) <= limit, q.id


# --------------------------------------------------------------------------- CRUD news sets
# Fact questions over the large news archive in ../shared/crud_news (one article per line; many
# articles retell the same story). Each question rests on one quote that singles out one article.


@pytest.fixture(scope="module", params=sorted(CRUD_SETS))
def crud_set(request) -> list[Question]:
    return load_questions(CRUD_SETS[request.param])


@pytest.fixture(scope="module")
def crud_articles() -> list[tuple[str, str]]:
    """(file name, normalised article line) for every article of the CRUD news corpus."""
    if not CRUD_DIR.is_dir():
        pytest.skip(f"{CRUD_DIR} not found: the CRUD news corpus lives in ../shared beside the repository")
    return [
        (path.name, normalize_for_match(line))
        for path in sorted(CRUD_DIR.glob("*.txt"))
        for line in path.read_text(encoding="utf-8").splitlines()
        if line.strip()
    ]


def _articles_with(quote: str, articles: list[tuple[str, str]]) -> list[int]:
    """Indices of the articles whose normalised text contains ``quote``."""
    needle = normalize_for_match(quote)
    return [i for i, (_, text) in enumerate(articles) if needle in text]


def test_crud_set_sizes():
    assert len(load_questions(CRUD_DEV_PATH)) >= 60
    assert len(load_questions(CRUD_HOLDOUT_PATH)) >= 20


def test_crud_dev_covers_all_three_files():
    assert {q.file for q in load_questions(CRUD_DEV_PATH)} == CRUD_FILES


def test_crud_questions_are_single_quote_facts(crud_set):
    for q in crud_set:
        assert q.type in {"factoid", "numeric", "list"}, q.id
        assert q.file in CRUD_FILES, q.id
        assert [e.file for e in q.evidence] == [q.file], q.id
        assert 15 <= len(normalize_for_match(q.evidence[0].quote)) <= 60, q.id
        assert 1 <= len(q.key_points) <= 6, q.id
        for point in q.key_points:
            assert contains(q.evidence[0].quote, point), (q.id, point)
            assert not contains(q.question, point), (q.id, point)  # the question does not give the answer away


def test_crud_ids_unique_across_all_sets():
    ids = [q.id for path in {**SETS, **CRUD_SETS}.values() for q in load_questions(path)]
    assert [i for i, n in Counter(ids).items() if n > 1] == []


def test_crud_questions_and_quotes_not_repeated():
    crud = load_questions(CRUD_DEV_PATH) + load_questions(CRUD_HOLDOUT_PATH)
    texts = Counter(normalize_for_match(q.question) for q in crud)
    quotes = Counter(normalize_for_match(q.evidence[0].quote) for q in crud)
    assert [t for t, n in texts.items() if n > 1] == []
    assert [t for t, n in quotes.items() if n > 1] == []


def test_every_crud_quote_occurs_in_its_file(crud_set, crud_articles):
    bad = [
        (q.id, q.file)
        for q in crud_set
        if not any(crud_articles[i][0] == q.file for i in _articles_with(q.evidence[0].quote, crud_articles))
    ]
    assert bad == []


def test_every_crud_quote_singles_out_one_article(crud_set, crud_articles):
    counts = {q.id: len(_articles_with(q.evidence[0].quote, crud_articles)) for q in crud_set}
    assert {qid: n for qid, n in counts.items() if n != 1} == {}


def test_crud_dev_and_holdout_ask_about_different_articles(crud_articles):
    crud = load_questions(CRUD_DEV_PATH) + load_questions(CRUD_HOLDOUT_PATH)
    articles = Counter(i for q in crud for i in _articles_with(q.evidence[0].quote, crud_articles))
    assert [i for i, n in articles.items() if n > 1] == []


# --------------------------------------------------------------------------- matching helpers


def test_normalize_for_match_removes_whitespace_and_applies_nfkc():
    assert normalize_for_match("2035年实\n现降碳30％ ，") == "2035年实现降碳30%,"
    assert normalize_for_match("\u3000记者 薛 华\t") == "记者薛华"


def test_contains_ignores_line_breaks_and_width():
    assert contains("通过“笃行五年、展望十年、畅想十五年”\n三个阶段", "畅想十五年”三个阶段")
    assert contains("能效ＡＡＡＡ级", "AAAA级")
    assert not contains("降碳16%", "降碳6％以上")
    assert not contains("任何文本", "   ")


# --------------------------------------------------------------------------- loader


def _record(**overrides) -> dict:
    record = {
        "id": "t001",
        "question": "太钢的碳中和目标是什么",
        "answer": "2050年实现碳中和。",
        "key_points": ["2050"],
        "evidence": [{"file": "000_a73fe32ef8bc3bea.txt", "quote": "2050年实现碳中和的目标"}],
        "type": "list",
        "file": "000_a73fe32ef8bc3bea.txt",
    }
    record.update(overrides)
    return record


def _write(tmp_path: Path, lines: list[str]) -> Path:
    path = tmp_path / "set.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_load_round_trip_and_blank_lines(tmp_path):
    unanswerable = _record(id="t002", type="unanswerable", key_points=[], evidence=[], file="")
    path = _write(tmp_path, ["", json.dumps(_record(), ensure_ascii=False), "   ", json.dumps(unanswerable), ""])
    questions = load_questions(path)
    assert [q.id for q in questions] == ["t001", "t002"]
    assert questions[0].evidence == [Evidence(file="000_a73fe32ef8bc3bea.txt", quote="2050年实现碳中和的目标")]
    assert questions[0].answerable and not questions[1].answerable
    assert json.loads(questions[0].to_json()) == _record()
    assert "碳中和" in questions[0].to_json()  # ensure_ascii=False


def test_bad_json_names_file_and_line(tmp_path):
    path = _write(tmp_path, [json.dumps(_record()), '{"id": "t002", "question": '])
    with pytest.raises(InputError, match=r"set\.jsonl:2: invalid JSON"):
        load_questions(path)


def test_missing_key(tmp_path):
    record = _record()
    del record["answer"]
    path = _write(tmp_path, ["", json.dumps(record)])
    with pytest.raises(InputError, match=r"set\.jsonl:2: missing key\(s\): answer"):
        load_questions(path)


def test_unknown_type(tmp_path):
    path = _write(tmp_path, [json.dumps(_record(type="trivia"))])
    with pytest.raises(InputError, match=r"set\.jsonl:1: .*\"type\" must be one of"):
        load_questions(path)


@pytest.mark.parametrize(
    "overrides",
    [
        {"id": 7},
        {"question": ""},
        {"key_points": "2050"},
        {"key_points": [2050]},
        {"evidence": [{"file": "000_a73fe32ef8bc3bea.txt"}]},
        {"evidence": "2050年实现碳中和"},
        {"file": None},
        {"extra": 1},
    ],
)
def test_wrongly_typed_values(tmp_path, overrides):
    path = _write(tmp_path, [json.dumps(_record(**overrides))])
    with pytest.raises(InputError, match=r"set\.jsonl:1: "):
        load_questions(path)


def test_not_an_object(tmp_path):
    path = _write(tmp_path, ['["q001"]'])
    with pytest.raises(InputError, match=r"set\.jsonl:1: expected a JSON object"):
        load_questions(path)


def test_unanswerable_must_have_no_key_points_or_evidence(tmp_path):
    path = _write(tmp_path, [json.dumps(_record(type="unanswerable"))])
    with pytest.raises(InputError, match=r"set\.jsonl:1: .*unanswerable"):
        load_questions(path)


def test_answerable_needs_key_points_and_evidence(tmp_path):
    path = _write(tmp_path, [json.dumps(_record(key_points=[], evidence=[]))])
    with pytest.raises(InputError, match=r"set\.jsonl:1: .*at least one key point"):
        load_questions(path)


def test_duplicate_id(tmp_path):
    path = _write(tmp_path, [json.dumps(_record()), json.dumps(_record(question="另一个问题"))])
    with pytest.raises(InputError, match=r"set\.jsonl:2: duplicate id 't001' \(first used on line 1\)"):
        load_questions(path)


def test_missing_file(tmp_path):
    with pytest.raises(InputError, match="not found"):
        load_questions(tmp_path / "nope.jsonl")
