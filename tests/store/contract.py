"""What every store backend must do, as mixin test classes (one file per backend subclasses them).

A backend's test module provides one fixture, ``store_settings(tmp_path, base_settings)``:
``Settings`` for an empty index of that backend. Everything else is here, run against the
real embedding model on three small files:

- ``steel.txt``: 太钢's carbon roadmap (no date, no paper);
- ``library.txt``: libraries in 株洲 (no date, no paper);
- ``news.jsonl``: three dated records from two papers;
- ``paper.pdf``: two passages of a PDF page, committed as chunks (one with its page and
  article box, one without), for what a store keeps of where a passage is printed.
"""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from rag.config import PROJECT_ROOT
from rag.errors import StoreError
from rag.records import Chunk
from rag.retrieval import Searcher
from rag.store import ingest, remove_sources
from rag.store.base import ChangeSet, FileBatch
from rag.store.factory import open_store
from rag.store.filters import SearchFilter
from rag.store.manifest import FileEntry, Manifest

STEEL = (
    "太钢正式发布了不锈钢低碳冶金技术路线图。\n\n"
    "路线图明确了太钢集团低碳发展的时序表，为2025年实现降碳6%、2030年实现降碳16%、2050年实现碳中和的目标提供了技术支撑。\n"
)
LIBRARY = "株洲云龙示范区今年新建了三座图书馆。\n\n馆长张三介绍，三座图书馆藏书共计十二万册，周末也对市民开放。\n"
LIBRARY_CHANGED = "株洲云龙示范区今年新建了五座图书馆。\n\n馆长李四介绍，五座图书馆藏书共计二十万册。\n"
NEWS = [
    {"text": "株洲日报讯：株洲轨道交通一号线六月一日开通试运营，全长二十公里。", "title": "轨道交通开通",
     "date": "2024-06-01", "newspaper": "株洲日报", "source": "轨道交通"},
    {"text": "太钢日报讯：太钢不锈钢冷轧厂完成节能改造，每年减少碳排放三万吨。", "title": "冷轧厂节能改造",
     "date": "2023-07-28", "newspaper": "太钢日报", "source": "冷轧厂"},
    {"text": "株洲日报讯：株洲市图书馆推出夜间阅读服务，每晚开放到十点。", "title": "夜间阅读",
     "date": "2022-01-05", "newspaper": "株洲日报", "source": "夜间阅读"},
]


class CountingEmbeddings:
    """The real model, counting the passages it embeds."""

    def __init__(self, inner):
        self.inner = inner
        self.model_id, self.dimension = inner.model_id, inner.dimension
        self.embedded = 0

    def encode_passages(self, texts, **kwargs):
        self.embedded += len(texts)
        return self.inner.encode_passages(texts, **kwargs)

    def encode_queries(self, texts, **kwargs):
        return self.inner.encode_queries(texts, **kwargs)


def write_corpus(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "steel.txt").write_text(STEEL, encoding="utf-8")
    (folder / "library.txt").write_text(LIBRARY, encoding="utf-8")
    (folder / "news.jsonl").write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in NEWS) + "\n", encoding="utf-8")
    return folder


def files_of(store) -> dict[str, set[str]]:
    """Chunk texts by file, as the store gives them back."""
    out: dict[str, set[str]] = {}
    for chunk in store.all_chunks():
        out.setdefault(chunk.file or chunk.source, set()).add(chunk.text)
    return out


def close(store) -> None:
    closer = getattr(store, "close", None)
    if closer:
        closer()


class Fixtures:
    @pytest.fixture
    def corpus(self, tmp_path: Path) -> Path:
        return write_corpus(tmp_path / "corpus")

    @pytest.fixture
    def model(self, embeddings) -> CountingEmbeddings:
        return CountingEmbeddings(embeddings)

    @pytest.fixture
    def built(self, store_settings, corpus, model):
        """The three files ingested; yields the settings."""
        report = ingest([corpus], store_settings, embeddings=model)
        assert report.written and len(report.new) == 3
        yield store_settings

    def searcher(self, settings, model) -> Searcher:
        return Searcher(open_store(settings), model, dense_weight=settings.dense_weight,
                        sentence_weight=settings.sentence_weight)


class IngestContract(Fixtures):
    def test_first_ingest_holds_every_file_and_chunk(self, built, model):
        store = open_store(built)
        try:
            assert sorted(d.source for d in store.documents()) == ["library.txt", "news.jsonl", "steel.txt"]
            assert store.count() == store.manifest.chunk_count == len(store.all_chunks()) == model.embedded > 3
            assert store.manifest.embedding_model == model.model_id
            assert len({c.chunk_id for c in store.all_chunks()}) == store.count()
        finally:
            close(store)

    def test_unchanged_reingest_embeds_and_writes_nothing(self, built, corpus, model):
        model.embedded = 0
        report = ingest([corpus], built, embeddings=model)
        assert model.embedded == 0 and not report.written and len(report.skipped) == 3

    def test_changed_file_reembeds_only_its_new_text(self, built, corpus, model):
        before = files_of(store := open_store(built))
        close(store)
        model.embedded = 0
        (corpus / "library.txt").write_text(LIBRARY_CHANGED, encoding="utf-8")
        report = ingest([corpus], built, embeddings=model)
        store = open_store(built)
        try:
            after = files_of(store)
            assert report.changed == ["library.txt"]
            assert model.embedded == report.embedded_chunks == len(after["library.txt"] - before["library.txt"]) > 0
            assert after["steel.txt"] == before["steel.txt"] and after["news.jsonl"] == before["news.jsonl"]
            assert any("五座图书馆" in text for text in after["library.txt"])
            assert not any("三座图书馆" in text for text in after["library.txt"])
            assert store.count() == store.manifest.chunk_count == sum(map(len, after.values()))
        finally:
            close(store)

    def test_deleting_and_readding_a_file(self, built, corpus, model):
        remove_sources(["library.txt"], built)
        store = open_store(built)
        try:
            assert "library.txt" not in files_of(store) and "library.txt" not in store.manifest.files
            assert not [hit for hit in store.lexical_search("图书馆 藏书", 5) if "藏书" in store.get_chunks([hit[0]])[0].text]
        finally:
            close(store)
        model.embedded = 0
        report = ingest([corpus], built, embeddings=model)
        store = open_store(built)
        try:
            assert report.new == ["library.txt"] and "library.txt" in files_of(store)
            assert store.count() == store.manifest.chunk_count
        finally:
            close(store)

    def test_a_removed_file_leaves_the_index(self, built, corpus, model):
        (corpus / "steel.txt").unlink()
        report = ingest([corpus], built, embeddings=model)
        store = open_store(built)
        try:
            assert report.removed == ["steel.txt"] and "steel.txt" not in files_of(store)
        finally:
            close(store)

    def test_a_model_mismatch_is_refused(self, built, corpus, model):
        class Other(CountingEmbeddings):
            pass

        other = Other(model.inner)
        other.model_id = "some/other-model"
        with pytest.raises(StoreError, match="rag ingest --rebuild"):
            Searcher(open_store(built), other)
        (corpus / "steel.txt").write_text(STEEL + "\n新增一段。\n", encoding="utf-8")
        with pytest.raises(StoreError, match="rag ingest --rebuild"):
            ingest([corpus], built, embeddings=other)
        with pytest.raises(StoreError, match="rag ingest --rebuild"):
            ingest([corpus], built.replace(embedding_model="some/other-model"), embeddings=model)

    def test_rebuild_starts_from_scratch(self, built, corpus, model):
        model.embedded = 0
        report = ingest([corpus], built, embeddings=model, rebuild=True)
        store = open_store(built)
        try:
            assert model.embedded == report.chunks == store.count() and len(report.new) == 3
        finally:
            close(store)


class SearchContract(Fixtures):
    QUESTION = "太钢的碳中和目标是什么"

    @pytest.mark.parametrize("mode", ["hybrid", "dense", "bm25"])
    def test_every_mode_finds_the_roadmap(self, built, model, mode):
        results = self.searcher(built, model).search(self.QUESTION, k=3, mode=mode)
        assert results and results[0].chunk.file == "steel.txt" and "2050年实现碳中和" in results[0].chunk.text
        assert [r.rank for r in results] == list(range(1, len(results) + 1))

    def test_hybrid_results_carry_both_scores(self, built, model):
        top = self.searcher(built, model).search(self.QUESTION, k=1)[0]
        assert "dense" in top.scores and top.scores.get("bm25", 0) > 0

    def test_rrf_fusion(self, built, model):
        searcher = self.searcher(built, model)
        searcher.fusion = "rrf"
        assert searcher.search(self.QUESTION, k=1)[0].chunk.file == "steel.txt"

    def test_bm25_finds_nothing_for_unknown_words(self, built, model):
        assert self.searcher(built, model).search("ZZZQQQ", k=3, mode="bm25") == []


class FilterContract(Fixtures):
    @pytest.mark.parametrize("mode", ["hybrid", "dense", "bm25"])
    def test_a_narrow_filter_still_returns_k_results(self, built, model, mode):
        """Unfiltered, the steel passages lead; filtered to 株洲日报, both of its records come back."""
        searcher = self.searcher(built, model)
        where = SearchFilter.build(newspapers="株洲日报")
        results = searcher.search("株洲 太钢 碳中和 图书馆 轨道", k=2, mode=mode, where=where)
        assert len(results) == 2 and {r.chunk.newspaper for r in results} == {"株洲日报"}

    def test_date_range(self, built, model):
        searcher = self.searcher(built, model)
        results = searcher.search("太钢 碳排放", k=5, where=SearchFilter.build("2023-01-01", "2024-12-31"))
        assert {r.chunk.date for r in results} <= {"2023-07-28", "2024-06-01"} and results
        assert results[0].chunk.title == "冷轧厂节能改造"
        only = searcher.search("图书馆", k=5, where=SearchFilter.build(date_to="2022-12-31"))
        assert [r.chunk.title for r in only] == ["夜间阅读"]

    def test_source_file(self, built, model):
        searcher = self.searcher(built, model)
        results = searcher.search("太钢的碳中和目标是什么", k=5, where=SearchFilter.build(sources="library.txt"))
        assert results and {r.chunk.file for r in results} == {"library.txt"}
        assert {r.chunk.source for r in searcher.search("株洲", k=5, where=SearchFilter.build(sources="轨道交通"))} == {"轨道交通"}

    def test_a_filter_that_matches_nothing(self, built, model):
        searcher = self.searcher(built, model)
        where = SearchFilter.build(newspapers="人民日报")
        assert searcher.matching(where) == 0
        for mode in ("hybrid", "dense", "bm25"):
            assert searcher.search("太钢", k=3, mode=mode, where=where) == []

    def test_quotes_in_filter_values_are_data(self, built, model):
        where = SearchFilter.build(newspapers='株洲日报" or newspaper != "', sources="a\\b")
        assert self.searcher(built, model).search("株洲", k=3, where=where) == []


class PlaceContract(Fixtures):
    """A PDF passage's page and its article's box come back as they were committed; none stays None."""

    BOX = [12.5, 40.0, 300.25, 512.0]

    def test_page_and_bbox_round_trip(self, built, model):
        chunks = [
            Chunk(chunk_id="pdf-1", text="株洲日报讯：株洲高新区新建五座电动汽车充电站，年底前投入使用。", source="paper.pdf",
                  title="充电站", file="paper.pdf", page=3, bbox=self.BOX),
            Chunk(chunk_id="pdf-2", text="株洲日报讯：云龙社区食堂每天供应三百份午餐。", source="paper.pdf", title="社区食堂",
                  file="paper.pdf", article_index=1),
        ]
        store = open_store(built)
        try:
            manifest = Manifest.from_json(store.manifest.to_json())
            entry = manifest.files["paper.pdf"] = FileEntry("paper.pdf", "paper.pdf", "0" * 64, 2, 2)
            store.commit(ChangeSet(manifest, [FileBatch(entry, chunks, model.encode_passages([c.text for c in chunks]))]))
        finally:
            close(store)
        expected = {"pdf-1": (3, self.BOX), "pdf-2": (None, None)}
        store = open_store(built)
        try:
            assert {c.chunk_id: (c.page, c.bbox) for c in store.get_chunks(["pdf-1", "pdf-2"])} == expected
            assert {c.chunk_id: (c.page, c.bbox) for c in store.all_chunks() if c.file == "paper.pdf"} == expected
            searcher = Searcher(store, model, dense_weight=built.dense_weight, sentence_weight=built.sentence_weight)
            top = searcher.search("株洲高新区新建了几座充电站", k=1, mode="dense")[0].chunk
            assert (top.chunk_id, top.page, top.bbox) == ("pdf-1", 3, self.BOX)
            steel = searcher.search("太钢的碳中和目标是什么", k=1, mode="dense")[0].chunk
            assert steel.file == "steel.txt" and steel.page is None and steel.bbox is None
        finally:
            close(store)


# --- an ingest killed with SIGKILL in the middle of its commit -------------------------------


def start_interrupted_ingest(settings, corpus: Path, stage: str) -> subprocess.Popen:
    fields = {"index_dir": str(settings.index_dir), "store": settings.store, "milvus_uri": settings.milvus_uri,
              "upload_dir": str(settings.upload_dir)}
    command = [sys.executable, "-m", "tests.store.interrupted_ingest", json.dumps(fields), str(corpus), "--hang-at", stage]
    return subprocess.Popen(command, cwd=PROJECT_ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            start_new_session=True)  # its own process group: Milvus Lite's server goes down with it


def wait_for(process: subprocess.Popen, marker: str, timeout: float = 300) -> str:
    seen = b""
    deadline = time.monotonic() + timeout
    while marker.encode() not in seen:
        remaining = deadline - time.monotonic()
        assert remaining > 0, f"no {marker!r} within {timeout} s; got {seen[-800:]!r}"
        ready, _, _ = select.select([process.stdout], [], [], remaining)
        if ready:
            block = os.read(process.stdout.fileno(), 65536)
            assert block or process.poll() is None, f"process exited before {marker!r}: {seen[-800:]!r}"
            seen += block
    return seen.decode("utf-8", errors="replace")


class InterruptedIngestContract(Fixtures):
    """Kill the ingest at each step where its commit could leave the store half changed."""

    KILL_STAGES: tuple[str, ...] = ()  # the backend's commit_stage names

    @pytest.mark.integration
    def test_sigkill_during_commit_leaves_each_file_old_or_new(self, built, corpus, model, request):
        for stage in self.KILL_STAGES:
            self._kill_at(built, corpus, model, stage)

    def _kill_at(self, settings, corpus, model, stage):
        before = files_of(store := open_store(settings))
        close(store)
        (corpus / "library.txt").write_text(LIBRARY_CHANGED, encoding="utf-8")
        (corpus / "steel.txt").write_text(STEEL + "\n太钢还将建设氢能示范项目。\n", encoding="utf-8")
        process = start_interrupted_ingest(settings, corpus, stage)
        try:
            wait_for(process, f"stage {stage}")
        finally:
            try:
                os.killpg(process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass  # it had already exited (the assertion above says why)
            process.wait(timeout=30)
        store = open_store(settings)
        try:
            after = files_of(store)
            new = files_of_texts(corpus, model)
            for name in ("library.txt", "steel.txt"):
                assert after[name] in (before[name], new[name]), f"{stage}: {name} is half old, half new"
            assert after["news.jsonl"] == before["news.jsonl"], f"{stage}: an untouched file changed"
            assert store.count() == store.manifest.chunk_count == sum(map(len, after.values()))
            hits = store.lexical_search("图书馆", 20)
            assert {store.get_chunks([cid])[0].text for cid, _ in hits} <= set().union(*after.values())
        finally:
            close(store)
        report = ingest([corpus], settings, embeddings=model)  # the next ingest completes the change
        store = open_store(settings)
        try:
            assert files_of(store) == files_of_texts(corpus, model) and store.count() == store.manifest.chunk_count
            assert report.written or report.skipped
        finally:
            close(store)
        # back to the original texts for the next stage
        write_corpus(corpus)
        ingest([corpus], settings, embeddings=model)


def files_of_texts(corpus: Path, model) -> dict[str, set[str]]:
    """The chunk texts each file of ``corpus`` gives, computed without any index."""
    from rag.chunking import chunk_articles
    from rag.config import Settings
    from rag.corpus import load_path, segment_document

    settings = Settings()
    out = {}
    for path in sorted(corpus.iterdir()):
        articles = [a for document in load_path(path) for a in segment_document(document)]
        out[path.name] = {c.text for c in chunk_articles(articles, settings.chunk_size, settings.chunk_overlap)}
    return out


class StoreContract(IngestContract, SearchContract, FilterContract, PlaceContract, InterruptedIngestContract):
    """All of it: subclass this in a backend's test module."""


__all__ = ["StoreContract"]
