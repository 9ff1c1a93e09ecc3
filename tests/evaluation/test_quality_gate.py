"""CI quality gate: the dev-set evaluation must stay above data/eval/thresholds.json.

Runs `rag eval` on the dev question set against a real index of the bundled corpus
(the session's ``corpus_settings`` fixture), then checks:

- every figure named under ``max`` (false refusals) stays at or below its ceiling, and
- every figure named under ``min`` in thresholds.json (retrieval hit@5, answer
  key-point recall) is at or above its floor;
- the independent scorer (bench/score_independent.py) recomputes the same figures
  from the per-question output file and the question file;
- hybrid retrieval is at least as good as BM25 only and dense only on hit@k.

The floors sit just under the figures measured when they were set (see ``measured``);
raise them when the system improves, never lower them to make a change pass.
"""

from __future__ import annotations

import json

import pytest

from rag.config import PROJECT_ROOT

THRESHOLDS = PROJECT_ROOT / "data" / "eval" / "thresholds.json"

pytestmark = pytest.mark.integration


def lookup(report: dict, dotted: str):
    value = report
    for part in dotted.split("."):
        value = value[part]
    return value


@pytest.fixture(scope="module")
def thresholds() -> dict:
    return json.loads(THRESHOLDS.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def dev_run(corpus_settings, thresholds, tmp_path_factory):
    """The dev-set evaluation, run once through the CLI: (report, output directory)."""
    from rag.cli import main

    out = tmp_path_factory.mktemp("eval")
    args = ["eval", "--questions", str(PROJECT_ROOT / thresholds["questions"]), "-k", str(thresholds["k"]),
            "--mode", thresholds["mode"], "--out", str(out), "--no-judge", "--index", str(corpus_settings.index_dir)]
    if thresholds.get("generator"):
        args += ["--generator", thresholds["generator"]]
    assert main(args) == 0
    return json.loads((out / "report.json").read_text(encoding="utf-8")), out


def test_thresholds_file_is_well_formed(thresholds):
    assert set(thresholds["min"]) >= {"retrieval.hit@k", "answer.key_point_recall", "answer.refusal_accuracy"}
    assert set(thresholds["max"]) >= {"answer.false_refusal_rate"}
    for name, floor in thresholds["min"].items():
        measured = thresholds["measured"][name]
        assert 0.0 < floor <= measured <= 1.0, name
        assert measured - floor <= 0.05, f"{name}: floor {floor} is far below the measured {measured}; raise it"
    for name, ceiling in thresholds["max"].items():
        measured = thresholds["measured"][name]
        assert 0.0 <= measured <= ceiling < 1.0, name
        assert ceiling - measured <= 0.05, f"{name}: ceiling {ceiling} is far above the measured {measured}; lower it"


def test_dev_set_meets_thresholds(dev_run, thresholds):
    report, _ = dev_run
    assert report["config"]["k"] == thresholds["k"]
    assert not report["answer"].get("skipped"), report["answer"]
    failures = []
    for name, floor in thresholds["min"].items():
        value = lookup(report, name)
        if value is None or value < floor:
            failures.append(f"{name} = {value} < {floor}")
    for name, ceiling in thresholds.get("max", {}).items():
        value = lookup(report, name)
        if value is None or value > ceiling:
            failures.append(f"{name} = {value} > {ceiling}")
    assert not failures, "quality gate: " + "; ".join(failures)


def test_independent_scorer_agrees_on_the_dev_run(dev_run, thresholds):
    import importlib.util

    spec = importlib.util.spec_from_file_location("score_independent", PROJECT_ROOT / "bench" / "score_independent.py")
    scorer = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(scorer)
    report, out = dev_run
    questions = scorer.read_jsonl(PROJECT_ROOT / thresholds["questions"])
    mine = scorer.score(questions, scorer.read_jsonl(out / "questions.jsonl"), thresholds["k"])
    assert scorer.differences(mine, report) == []


def test_hybrid_at_least_as_good_as_each_single_method(searcher, thresholds):
    from rag.evaluation.baselines import score_texts, searcher_fn
    from rag.evaluation.metrics import aggregate_retrieval
    from rag.evaluation.questions import load_questions

    questions = load_questions(PROJECT_ROOT / thresholds["questions"])
    k = thresholds["k"]
    hit = {mode: aggregate_retrieval(score_texts(questions, searcher_fn(searcher, mode), k))["hit@k"] for mode in ("bm25", "dense", "hybrid")}
    assert hit["hybrid"] >= hit["bm25"] and hit["hybrid"] >= hit["dense"], hit
