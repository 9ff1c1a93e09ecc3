"""`rag eval` end to end on synthetic components, and on the real index (integration)."""

from __future__ import annotations

import csv
import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from langchain_core.embeddings import Embeddings

from rag.cli import main
from rag.config import PROJECT_ROOT
from rag.records import Answer, Chunk, Citation, SearchResult
from rag.retrieval import reciprocal_rank_fusion

ARTICLES = {
    "a.txt": "太钢发布了不锈钢低碳冶金技术路线图。路线图提出2050年实现碳中和。会议在太原召开。",
    "b.txt": "山西省今年新增光伏装机300万千瓦。光伏项目主要分布在晋北地区。全省新能源装机占比提升。",
    "c.txt": "某公司举办职工运动会，共有1200名职工参加。运动会设置了拔河、跳绳等项目。",
}

QUESTIONS = [
    {"id": "t1", "question": "太钢什么时候实现碳中和", "answer": "2050年。", "key_points": ["2050年", "碳中和"],
     "evidence": [{"file": "a.txt", "quote": "路线图提出2050年实现碳中和"}], "type": "numeric", "file": "a.txt"},
    {"id": "t2", "question": "山西新增光伏装机多少", "answer": "300万千瓦。", "key_points": ["300万千瓦"],
     "evidence": [{"file": "b.txt", "quote": "新增光伏装机300万千瓦"}], "type": "numeric", "file": "b.txt"},
    {"id": "t3", "question": "运动会有哪些项目", "answer": "拔河、跳绳。", "key_points": ["拔河", "跳绳"],
     "evidence": [{"file": "c.txt", "quote": "运动会设置了拔河、跳绳等项目"}], "type": "list", "file": "c.txt"},
    {"id": "t4", "question": "光伏项目分布在哪里，职工运动会多少人参加", "answer": "晋北；1200名。", "key_points": ["晋北", "1200名"],
     "evidence": [{"file": "b.txt", "quote": "光伏项目主要分布在晋北地区"}, {"file": "c.txt", "quote": "共有1200名职工参加"}],
     "type": "multi_article", "file": ""},
    {"id": "t5", "question": "火星基地的预算是多少", "answer": "资料中没有提到。", "key_points": [], "evidence": [],
     "type": "unanswerable", "file": ""},
]


def sentences(text: str) -> list[str]:
    return [s + "。" for s in text.split("。") if s]


class FakeEmbeddings(Embeddings):
    """Character-bag vectors: deterministic, no model."""

    model_id = "fake"
    dimension = 64

    def _vector(self, text: str) -> list[float]:
        v = [0.0] * self.dimension
        for ch in text:
            v[ord(ch) % self.dimension] += 1.0
        norm = sum(x * x for x in v) ** 0.5 or 1.0
        return [x / norm for x in v]

    def embed_documents(self, texts):
        return [self._vector(t) for t in texts]

    def embed_query(self, text):
        return self._vector(text)


class FakeManifest:
    def __init__(self, files):
        self.chunk_size = 40
        self.files = files


class FakeStore:
    def __init__(self, chunks, files):
        self.chunks = chunks
        self.manifest = FakeManifest(files)

    def count(self):
        return len(self.chunks)

    def stats(self):
        return {"documents": len(self.manifest.files), "chunks": len(self.chunks), "chunk_size": 40, "chunk_overlap": 0, "embedding_model": "fake"}


class FakeSearcher:
    """Sentence chunks; 'bm25' ranks by shared characters, 'dense' by the fake vectors."""

    def __init__(self, corpus_dir: Path):
        chunks, files = [], {}
        for name, text in ARTICLES.items():
            path = corpus_dir / name
            path.write_text(text, encoding="utf-8")
            files[name] = type("Entry", (), {"path": str(path)})()
            for i, s in enumerate(sentences(text)):
                chunks.append(Chunk(chunk_id=f"{name}-{i}", text=s, source=name, title=name))
        self.store = FakeStore(chunks, files)
        self.embeddings = FakeEmbeddings()

    def _ranking(self, query, mode):
        if mode == "bm25":
            scores = [len(set(query) & set(c.text)) for c in self.store.chunks]
        else:
            q = self.embeddings.embed_query(query)
            scores = [sum(a * b for a, b in zip(q, self.embeddings.embed_query(c.text))) for c in self.store.chunks]
        return sorted(enumerate(scores), key=lambda x: (-x[1], x[0]))

    def search(self, query, k=5, mode="hybrid"):
        if mode == "hybrid":
            ranked = reciprocal_rank_fusion([self._ranking(query, "dense"), self._ranking(query, "bm25")])
        else:
            ranked = self._ranking(query, mode)
        return [SearchResult(self.store.chunks[row], float(score), rank) for rank, (row, score) in enumerate(ranked[:k], start=1)]


class FakePipeline:
    """Answers with the top passage, cited [1]; refuses when the question shares < 3 characters with it."""

    def __init__(self, searcher):
        self.searcher = searcher
        self.calls = []

    def invoke(self, question, history=(), *, k=None, mode=None, generator=None):
        self.calls.append({"k": k, "mode": mode, "generator": generator})
        contexts = self.searcher.search(question, k or 5, mode or "hybrid")
        top = contexts[0]
        timings = {"retrieval": 10.0 + len(question), "generation": 100.0 + len(question)}
        if len(set(question) & set(top.chunk.text)) < 3:
            return Answer(question, "资料中没有找到相关信息。", True, [], contexts, timings)
        return Answer(question, top.chunk.text.rstrip("。") + "[1]。", False, [Citation(1, top)], contexts, timings)


@pytest.fixture
def fake_env(tmp_path, monkeypatch):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    searcher = FakeSearcher(corpus)
    pipeline = FakePipeline(searcher)
    monkeypatch.setattr("rag.retrieval.load_searcher", lambda settings: searcher)
    monkeypatch.setattr("rag.cli.eval_cmd.load_pipeline", lambda settings, searcher: (pipeline, None))
    for name in ("RAG_LLM_BASE_URL", "RAG_LLM_MODEL"):
        monkeypatch.delenv(name, raising=False)
    questions = tmp_path / "questions.jsonl"
    questions.write_text("".join(json.dumps(q, ensure_ascii=False) + "\n" for q in QUESTIONS), encoding="utf-8")
    return {"questions": questions, "out": tmp_path / "out", "pipeline": pipeline, "searcher": searcher}


def load_independent_scorer():
    spec = importlib.util.spec_from_file_location("score_independent", PROJECT_ROOT / "bench" / "score_independent.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_eval_json_prints_metrics_and_writes_every_output(fake_env, capsys):
    code = main(["eval", "--questions", str(fake_env["questions"]), "--out", str(fake_env["out"]), "-k", "3", "--json"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    report = json.loads(captured.out)  # stdout holds the JSON and nothing else
    assert "eval" in captured.err  # the progress bar
    assert set(report) >= {"retrieval", "answer", "latency_ms", "by_type", "by_file", "baselines", "judge", "config", "counts"}
    assert set(report["retrieval"]) == {"hit@1", "hit@k", "mrr", "context_key_point_recall"}
    assert set(report["answer"]) == {"key_point_recall", "all_key_points_rate", "refusal_accuracy", "false_refusal_rate",
                                     "citation_validity", "citation_rate", "citation_support"}
    assert report["counts"]["questions"] == 5 and report["counts"]["unanswerable"] == 1
    assert report["config"]["k"] == 3 and report["config"]["answers"] is True
    assert report["judge"]["skipped"] is True and "no LLM configured" in report["judge"]["reason"]
    assert report["baselines"]["skipped"] is True
    assert report["answer"]["refusal_accuracy"] == 1.0
    assert report["answer"]["citation_validity"] == 1.0 and report["answer"]["citation_support"] == 1.0
    assert report["latency_ms"]["generation"]["n"] == 5
    assert list(report["by_type"]) == ["numeric", "list", "multi_article", "unanswerable"]
    assert fake_env["pipeline"].calls[0] == {"k": 3, "mode": "hybrid", "generator": None}

    out = fake_env["out"]
    assert json.loads((out / "report.json").read_text(encoding="utf-8")) == report
    assert (out / "eval_by_type.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    md = (out / "report.md").read_text(encoding="utf-8")
    assert "| hit@3 |" in md and "## By question type" in md and "eval_by_type.png" in md and "## Failures" in md
    low, high = report["intervals_95"]["answer"]["key_point_recall"]
    assert f"| key-point recall | {report['answer']['key_point_recall']:.3f} | [{low:.3f}–{high:.3f}] |" in md

    rows = [json.loads(line) for line in (out / "questions.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [r["id"] for r in rows] == ["t1", "t2", "t3", "t4", "t5"]
    assert list(rows[0])[:8] == ["id", "type", "file", "question", "hit_rank", "missing_key_points", "answer", "refused"]
    with (out / "questions.csv").open(encoding="utf-8-sig") as handle:
        table = list(csv.DictReader(handle))
    assert table[0]["id"] == "t1" and list(table[0])[:5] == ["id", "type", "file", "question", "hit_rank"]


def test_independent_scorer_agrees(fake_env, capsys):
    assert main(["eval", "--questions", str(fake_env["questions"]), "--out", str(fake_env["out"]), "-k", "3", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    scorer = load_independent_scorer()
    questions = scorer.read_jsonl(fake_env["questions"])
    rows = scorer.read_jsonl(fake_env["out"] / "questions.jsonl")
    mine = scorer.score(questions, rows, 3)
    assert scorer.differences(mine, report) == []
    # and the check has teeth: a changed answer is noticed
    rows[0]["answer"] = "不相关"
    assert scorer.differences(scorer.score(questions, rows, 3), report)


def test_retrieval_only(fake_env, capsys):
    assert main(["eval", "--questions", str(fake_env["questions"]), "--out", str(fake_env["out"]), "--retrieval-only", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["answer"]["skipped"] is True and report["config"]["answers"] is False
    assert report["retrieval"]["hit@k"] is not None
    assert report["latency_ms"]["retrieval"]["n"] == 5 and report["latency_ms"]["generation"]["n"] == 0
    assert fake_env["pipeline"].calls == []


def test_compare_scores_every_baseline(fake_env, capsys):
    assert main(["eval", "--questions", str(fake_env["questions"]), "--out", str(fake_env["out"]), "-k", "2", "--compare", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    baselines = report["baselines"]
    assert list(baselines) == ["bm25", "dense", "hybrid", "langchain_naive"]
    for b in baselines.values():
        assert {"hit@1", "hit@k", "mrr", "context_key_point_recall", "context_chars", "chunks", "description", "hit@k_by_type"} <= set(b)
    assert baselines["hybrid"]["hit@k"] == report["retrieval"]["hit@k"]  # same searcher, same mode
    assert baselines["langchain_naive"]["chunks"] == 3  # each small file fits in one 500-char chunk
    assert "## Baselines" in (fake_env["out"] / "report.md").read_text(encoding="utf-8")


def test_human_summary(fake_env, capsys):
    assert main(["eval", "--questions", str(fake_env["questions"]), "--out", str(fake_env["out"]), "--no-judge"]) == 0
    out = capsys.readouterr().out
    assert "hit@5" in out and "key-point recall" in out and "judge: skipped (--no-judge)" in out and "report.md" in out


def test_limit(fake_env, capsys):
    assert main(["eval", "--questions", str(fake_env["questions"]), "--out", str(fake_env["out"]), "--limit", "2", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["counts"]["questions"] == 2


def test_missing_question_file_is_a_clear_error(fake_env, capsys, tmp_path):
    missing = tmp_path / "nope.jsonl"
    assert main(["eval", "--questions", str(missing), "--out", str(fake_env["out"])]) == 2
    err = capsys.readouterr().err
    assert str(missing) in err and "Traceback" not in err


def test_invalid_question_file_names_the_line(fake_env, capsys, tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps(QUESTIONS[0], ensure_ascii=False) + "\n{not json\n", encoding="utf-8")
    assert main(["eval", "--questions", str(bad), "--out", str(fake_env["out"])]) == 2
    err = capsys.readouterr().err
    assert f"{bad}:2" in err


def test_empty_question_file_and_bad_k(fake_env, capsys, tmp_path):
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n", encoding="utf-8")
    assert main(["eval", "--questions", str(empty), "--out", str(fake_env["out"])]) == 2
    assert "no questions" in capsys.readouterr().err
    assert main(["eval", "--questions", str(fake_env["questions"]), "-k", "0"]) == 2
    assert "k must be at least 1" in capsys.readouterr().err


@pytest.mark.filterwarnings("ignore:Glyph")
def test_chart_uses_cjk_labels_only_with_a_font(tmp_path, monkeypatch):
    from matplotlib import font_manager

    from rag.evaluation import report as report_mod

    monkeypatch.setattr(report_mod.subprocess, "run", lambda *a, **kw: (_ for _ in ()).throw(FileNotFoundError("fc-list")))
    assert report_mod.find_cjk_font() is None
    by_type = {"factoid": {"retrieval": {"hit@k": 0.5, "context_key_point_recall": 0.7}, "answer": {"key_point_recall": 0.6, "refusal_accuracy": None},
                           "counts": {"questions": 4}},
               "unanswerable": {"retrieval": {"hit@k": None, "context_key_point_recall": None}, "answer": {"key_point_recall": None, "refusal_accuracy": 1.0},
                                "counts": {"questions": 2}}}
    assert report_mod.write_chart(by_type, tmp_path / "en.png", k=5, font_path=None) is False
    any_font = font_manager.findfont("DejaVu Sans")
    assert report_mod.write_chart(by_type, tmp_path / "zh.png", k=5, font_path=any_font) is True
    assert (tmp_path / "en.png").stat().st_size > 1000


# --- integration: the real index and answer chain ---------------------------------


@pytest.mark.integration
def test_unseen_question_file_json_end_to_end(corpus_settings, tmp_path):
    """`rag eval --questions <unseen file> --json` on the real index prints the metrics."""
    env = {**os.environ, "RAG_INDEX_DIR": str(corpus_settings.index_dir), "RAG_UPLOAD_DIR": str(corpus_settings.upload_dir)}
    env.pop("RAG_LLM_BASE_URL", None)
    out = tmp_path / "out"
    proc = subprocess.run(
        [sys.executable, "-m", "rag.cli", "eval", "--questions", str(PROJECT_ROOT / "data" / "eval" / "holdout.jsonl"), "--out", str(out), "--json"],
        capture_output=True, text=True, env=env, cwd=tmp_path, timeout=900,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads(proc.stdout)
    assert report["counts"]["questions"] > 0
    assert 0.0 <= report["retrieval"]["hit@k"] <= 1.0
    assert not report["answer"].get("skipped"), report["answer"]
    assert report["judge"]["skipped"] is True
    scorer = load_independent_scorer()
    mine = scorer.score(scorer.read_jsonl(PROJECT_ROOT / "data" / "eval" / "holdout.jsonl"), scorer.read_jsonl(out / "questions.jsonl"), 5)
    assert scorer.differences(mine, report) == []


def test_memo_searcher_reuses_an_identical_search(tmp_path):
    from rag.evaluation.runner import MemoSearcher

    inner = FakeSearcher(tmp_path)
    calls = []
    original = inner.search
    inner.search = lambda q, k=5, mode="hybrid": calls.append((q, k, mode)) or original(q, k, mode)
    memo = MemoSearcher(inner, size=2)
    first = memo.search("光伏", 2, "bm25")
    assert memo.search("光伏", 2, "bm25") == first and len(calls) == 1
    memo.search("光伏", 3, "bm25")
    memo.search("太钢", 2, "bm25")  # evicts the oldest entry
    memo.search("光伏", 2, "bm25")
    assert len(calls) == 4
    assert memo.store is inner.store  # everything else passes through
