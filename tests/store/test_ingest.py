"""Incremental, atomic ingest and the errors a damaged or mismatched index gives."""

from __future__ import annotations

import pytest

from rag.errors import StoreError
from rag.store import IndexStore, ingest, remove_sources
from rag.store.lexical import LexicalIndex


def test_first_ingest_indexes_every_file(settings, embedder):
    report = ingest(None, settings, embeddings=embedder)
    store = IndexStore.open(settings.index_dir)

    assert sorted(report.new) == ["000_a73fe32ef8bc3bea.txt", "001_b8f73a123f597be6.txt", "extra.txt"]
    assert report.chunks == len(store.chunks) == store.dense.size == store.lexical.size > 3
    assert embedder.embedded == report.chunks
    assert store.manifest.embedding_model == embedder.model_id
    assert len(store.manifest.files["extra.txt"].sha256) == 64
    assert {c.source for c in store.chunks} == set(report.new)
    assert [d.source for d in store.documents()] == sorted(report.new)
    assert sum(d.chunks for d in store.documents()) == len(store.chunks)


def test_unchanged_corpus_embeds_and_writes_nothing(settings, embedder):
    ingest(None, settings, embeddings=embedder)
    generation = (settings.index_dir / "CURRENT").read_text()
    embedder.embedded = 0

    report = ingest(None, settings, embeddings=embedder)

    assert embedder.embedded == 0
    assert not report.written
    assert len(report.skipped) == 3 and not report.new and not report.changed
    assert (settings.index_dir / "CURRENT").read_text() == generation


def test_changed_file_reembeds_only_its_new_chunks(settings, embedder, corpus_dir):
    ingest(None, settings, embeddings=embedder)
    before = IndexStore.open(settings.index_dir)
    others = [c.chunk_id for c in before.chunks if c.source != "extra.txt"]
    embedder.embedded = 0

    (corpus_dir / "extra.txt").write_text("株洲云龙示范区今年新建了五座图书馆。\n", encoding="utf-8")
    report = ingest(None, settings, embeddings=embedder)
    after = IndexStore.open(settings.index_dir)

    assert report.changed == ["extra.txt"]
    assert embedder.embedded == sum(1 for c in after.chunks if c.source == "extra.txt")
    assert [c.chunk_id for c in after.chunks if c.source != "extra.txt"] == others
    assert any("五座图书馆" in c.text for c in after.chunks)
    assert not any("三座图书馆" in c.text for c in after.chunks)


def test_removed_file_loses_its_chunks(settings, embedder, corpus_dir):
    ingest(None, settings, embeddings=embedder)
    (corpus_dir / "extra.txt").unlink()
    embedder.embedded = 0

    report = ingest(None, settings, embeddings=embedder)
    store = IndexStore.open(settings.index_dir)

    assert report.removed == ["extra.txt"]
    assert embedder.embedded == 0
    assert "extra.txt" not in {c.source for c in store.chunks}
    assert store.lexical.search("图书馆", 5) == []


def test_remove_sources_deletes_from_dense_and_bm25(settings, embedder):
    ingest(None, settings, embeddings=embedder)
    assert IndexStore.open(settings.index_dir).lexical.search("图书馆", 5)

    remove_sources(["extra.txt"], settings)
    store = IndexStore.open(settings.index_dir)

    assert "extra.txt" not in store.manifest.files
    assert store.dense.size == store.lexical.size == len(store.chunks)
    assert store.lexical.search("图书馆", 5) == []


def test_interrupted_ingest_leaves_previous_index_loadable(settings, embedder, corpus_dir, monkeypatch):
    ingest(None, settings, embeddings=embedder)
    chunks_before = len(IndexStore.open(settings.index_dir).chunks)
    (corpus_dir / "extra.txt").write_text("全新的内容，关于株洲的轨道交通。\n", encoding="utf-8")

    def crash(*_args, **_kwargs):
        raise KeyboardInterrupt  # as if the user pressed Ctrl-C while the BM25 index was written

    monkeypatch.setattr(LexicalIndex, "build", crash)
    with pytest.raises(KeyboardInterrupt):
        ingest(None, settings, embeddings=embedder)

    store = IndexStore.open(settings.index_dir)
    assert len(store.chunks) == chunks_before
    assert not [p for p in settings.index_dir.iterdir() if p.name.endswith(".tmp")]


def test_model_mismatch_is_refused_with_rebuild_hint(settings, embedder):
    ingest(None, settings, embeddings=embedder)
    with pytest.raises(StoreError, match="rag ingest --rebuild"):
        IndexStore.open(settings.index_dir, model_id="some/other-model", dimension=384)
    with pytest.raises(StoreError, match="rag ingest --rebuild"):
        ingest(None, settings.replace(embedding_model="some/other-model"), embeddings=embedder)


def test_embedding_backend_mismatch_is_refused_before_any_model_loads(settings, embedder):
    from rag.retrieval import load_searcher

    torch = settings.replace(embedding_backend="torch")
    ingest(None, torch, embeddings=embedder)
    assert IndexStore.open(settings.index_dir).manifest.embedding_variant == "torch"
    # torch and ONNX Runtime fp32 give the same vectors: either extends the other's index
    ingest(None, settings.replace(embedding_backend="onnx"), embeddings=embedder)  # not refused
    int8 = settings.replace(embedding_backend="onnx", embedding_quantization="int8")
    with pytest.raises(StoreError, match="rag ingest --rebuild") as info:
        ingest(None, int8, embeddings=embedder)
    assert "'torch' embedding backend" in str(info.value) and "RAG_EMBEDDING_QUANTIZATION=none" in str(info.value)
    with pytest.raises(StoreError, match="'torch' embedding backend"):
        load_searcher(int8)  # a model named "test/bigram-hash-64" would fail to load: the check comes first

    ingest(None, int8, embeddings=embedder, rebuild=True)
    assert IndexStore.open(settings.index_dir).manifest.embedding_variant == "onnx-int8"


def test_rebuild_starts_from_scratch(settings, embedder):
    ingest(None, settings, embeddings=embedder)
    embedder.embedded = 0
    report = ingest(None, settings, embeddings=embedder, rebuild=True)
    assert embedder.embedded == report.chunks and len(report.new) == 3


@pytest.mark.parametrize("damage", ["chunks", "faiss", "manifest", "pointer"])
def test_corrupt_index_gives_clear_error(settings, embedder, damage):
    ingest(None, settings, embeddings=embedder)
    generation = settings.index_dir / (settings.index_dir / "CURRENT").read_text()
    if damage == "chunks":
        (generation / "chunks.jsonl").write_text('{"chunk_id": "x", "te', encoding="utf-8")
    elif damage == "faiss":
        (generation / "dense.faiss").write_bytes(b"not a faiss index")
    elif damage == "manifest":
        (generation / "manifest.json").write_text("{", encoding="utf-8")
    else:
        (settings.index_dir / "CURRENT").write_text("gen-missing", encoding="utf-8")

    with pytest.raises(StoreError, match="rag ingest --rebuild"):
        IndexStore.open(settings.index_dir)


def test_undecodable_file_fails_alone_and_keeps_the_rest(settings, embedder, corpus_dir):
    ingest(None, settings, embeddings=embedder)
    (corpus_dir / "broken.txt").write_bytes(b"\xff\xfe\x00\xd8" * 50 + b"\x81")

    report = ingest(None, settings, embeddings=embedder)

    assert "broken.txt" in report.failed
    assert len(IndexStore.open(settings.index_dir).manifest.files) == 3


def test_missing_index_says_how_to_build(settings):
    with pytest.raises(StoreError, match="rag ingest"):
        IndexStore.open(settings.index_dir)


def test_progress_callback_reports_embedding(settings, embedder):
    seen = []
    ingest(None, settings, embeddings=embedder, progress=lambda stage, done, total: seen.append((stage, done, total)))
    assert seen and seen[-1][1] == seen[-1][2] and seen[-1][0] == "embedding"


def test_lock_file_does_not_count_as_a_generation(settings, embedder):
    ingest(None, settings, embeddings=embedder)
    names = {p.name for p in settings.index_dir.iterdir()}
    assert "CURRENT" in names and len([n for n in names if n.startswith("gen-")]) == 1


def test_changed_chunking_code_rechunks_every_file_but_reuses_vectors(settings, embedder, monkeypatch):
    ingest(None, settings, embeddings=embedder)
    embedder.embedded = 0
    monkeypatch.setattr("rag.store.ingestion.processing_fingerprint", lambda: "cleaner-v2")

    report = ingest(None, settings, embeddings=embedder)

    assert sorted(report.changed) == ["000_a73fe32ef8bc3bea.txt", "001_b8f73a123f597be6.txt", "extra.txt"]
    assert embedder.embedded == 0 and report.reused_chunks == report.chunks  # same texts, same vectors
    assert IndexStore.open(settings.index_dir).manifest.processing == "cleaner-v2"


def test_jsonl_records_with_their_own_sources_stay_tied_to_their_file(settings, embedder, corpus_dir):
    import json

    records = [{"text": "株洲新建了一座科技馆，面积两万平方米。", "source": "科技馆报道"}, {"text": "另一条消息：株洲开通了新的公交线路。"}]
    (corpus_dir / "feed.jsonl").write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in records) + "\n", encoding="utf-8")
    ingest(None, settings, embeddings=embedder)
    sources = {c.source for c in IndexStore.open(settings.index_dir).chunks}
    assert {"科技馆报道", "feed.jsonl#2"} <= sources

    (corpus_dir / "extra.txt").write_text("株洲云龙示范区今年新建了五座图书馆。\n", encoding="utf-8")
    ingest(None, settings, embeddings=embedder)  # feed.jsonl unchanged: its chunks must survive
    assert {"科技馆报道", "feed.jsonl#2"} <= {c.source for c in IndexStore.open(settings.index_dir).chunks}

    remove_sources(["feed.jsonl"], settings)
    store = IndexStore.open(settings.index_dir)
    assert not {"科技馆报道", "feed.jsonl#2"} & {c.source for c in store.chunks}
    assert not any("科技馆" in c.text for c in store.chunks)
    assert store.dense.size == store.lexical.size == len(store.chunks)
