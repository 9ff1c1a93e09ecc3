"""Index faults: a missing index, damaged index files, an ingest killed with SIGKILL, two ingests at once.

Damage is detected through the SHA-256 of every index file recorded in the manifest (and
the manifest's own checksum), and reported as a StoreError that says how to rebuild,
never as an error from inside FAISS or bm25s. The subprocess tests run
``tests/store/slow_ingest.py``, an ingest slowed down so it can be killed or raced.
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
from rag.store import IndexStore, ingest
from rag.store.dense import DenseIndex
from rag.store.index_store import current_generation

REBUILD_HINT = "rag ingest --rebuild"


def generation_of(settings) -> Path:
    return current_generation(settings.index_dir)


def rag_cli(*args, index_dir: Path):
    env = {**os.environ, "RAG_INDEX_DIR": str(index_dir)}
    return subprocess.run([sys.executable, "-m", "rag.cli", *args], capture_output=True, text=True, env=env, timeout=300)


# --- a missing index ----------------------------------------------------------------


def test_missing_index_says_how_to_build_one(tmp_path):
    with pytest.raises(StoreError, match=r"No index found in .*Build it first: rag ingest"):
        IndexStore.open(tmp_path / "never-built")


def test_index_dir_with_only_an_interrupted_first_build_counts_as_missing(tmp_path):
    index_dir = tmp_path / "index"
    (index_dir / ".gen-20260101T000000-abcdef.tmp").mkdir(parents=True)  # a first ingest killed while writing
    (index_dir / ".lock").touch()
    with pytest.raises(StoreError, match="Build it first: rag ingest"):
        IndexStore.open(index_dir)


@pytest.mark.parametrize("command", [["search", "太钢的碳中和目标是什么"], ["ask", "太钢的碳中和目标是什么"]])
def test_cli_without_index_says_to_run_ingest(tmp_path, command):
    result = rag_cli(*command, index_dir=tmp_path / "none")
    assert result.returncode == 2
    assert "No index found" in result.stderr and "rag ingest" in result.stderr
    assert "Traceback" not in result.stderr


# --- damaged index files --------------------------------------------------------------


def flip_last_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[-1] ^= 0x01
    path.write_bytes(bytes(data))


def truncate_half(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def damage(generation: Path, kind: str) -> str:
    """Damage one file of a build; returns the file name the error must name."""
    if kind == "chunks edited":  # still valid JSON: only the checksum notices
        path = generation / "chunks.jsonl"
        path.write_text(path.read_text(encoding="utf-8").replace("图书馆", "博物馆", 1), encoding="utf-8")
        return "chunks.jsonl"
    if kind == "chunks truncated":
        truncate_half(generation / "chunks.jsonl")
        return "chunks.jsonl"
    if kind == "faiss bit flip":  # FAISS itself loads this file without complaint
        flip_last_byte(generation / "dense.faiss")
        return "dense.faiss"
    if kind == "faiss truncated":
        truncate_half(generation / "dense.faiss")
        return "dense.faiss"
    if kind == "bm25 bit flip":
        flip_last_byte(generation / "bm25" / "data.csc.index.npy")
        return "bm25/data.csc.index.npy"
    if kind == "bm25 vocabulary truncated":
        truncate_half(generation / "bm25" / "vocab.index.json")
        return "bm25/vocab.index.json"
    if kind == "bm25 file deleted":
        (generation / "bm25" / "indptr.csc.index.npy").unlink()
        return "bm25/indptr.csc.index.npy"
    if kind == "manifest edited":  # valid JSON with a changed count: only the manifest's own checksum notices
        path = generation / "manifest.json"
        data = json.loads(path.read_text(encoding="utf-8"))
        data["files"]["extra.txt"]["chunks"] += 1
        path.write_text(json.dumps(data, ensure_ascii=False, indent=2), encoding="utf-8")
        return "manifest.json"
    if kind == "manifest truncated":
        truncate_half(generation / "manifest.json")
        return "manifest.json"
    raise ValueError(kind)


DAMAGE = [
    "chunks edited",
    "chunks truncated",
    "faiss bit flip",
    "faiss truncated",
    "bm25 bit flip",
    "bm25 vocabulary truncated",
    "bm25 file deleted",
    "manifest edited",
    "manifest truncated",
]


@pytest.mark.parametrize("kind", DAMAGE)
def test_damaged_index_file_is_named_with_a_rebuild_hint(settings, embedder, kind):
    ingest(None, settings, embeddings=embedder)
    name = damage(generation_of(settings), kind)

    with pytest.raises(StoreError) as error:
        IndexStore.open(settings.index_dir)

    message = str(error.value)
    assert name.split("/")[-1] in message and REBUILD_HINT in message
    if kind in ("chunks edited", "faiss bit flip", "bm25 bit flip", "bm25 vocabulary truncated", "manifest edited"):
        assert "corrupt (checksum mismatch)" in message


def test_a_bit_flip_in_faiss_would_load_silently_without_the_checksum(settings, embedder):
    """Why the checksums exist: FAISS reads a damaged vector file as if nothing happened."""
    ingest(None, settings, embeddings=embedder)
    generation = generation_of(settings)
    flip_last_byte(generation / "dense.faiss")
    assert DenseIndex.load(generation).size > 0  # no error from FAISS
    with pytest.raises(StoreError, match="dense.faiss .*checksum mismatch"):
        IndexStore.open(settings.index_dir)


@pytest.mark.parametrize("pointer", [b"\xff\xfe\x00garbage", b"", b"../../etc", b"gen-does-not-exist"])
def test_damaged_current_pointer_is_a_store_error(settings, embedder, pointer):
    ingest(None, settings, embeddings=embedder)
    (settings.index_dir / "CURRENT").write_bytes(pointer)
    with pytest.raises(StoreError, match=REBUILD_HINT):
        IndexStore.open(settings.index_dir)


def test_ingest_into_a_damaged_index_refuses_then_rebuild_repairs_it(settings, embedder):
    ingest(None, settings, embeddings=embedder)
    damage(generation_of(settings), "faiss bit flip")

    with pytest.raises(StoreError, match=REBUILD_HINT):
        ingest(None, settings, embeddings=embedder)
    report = ingest(None, settings, embeddings=embedder, rebuild=True)

    store = IndexStore.open(settings.index_dir)
    assert report.written and len(store.chunks) == report.chunks > 0
    assert [p.name for p in settings.index_dir.iterdir() if p.name.startswith("gen-")] == [store.path.name]


def test_cli_search_on_a_damaged_index_prints_one_line_without_traceback(settings, embedder):
    ingest(None, settings, embeddings=embedder)
    damage(generation_of(settings), "chunks edited")
    result = rag_cli("search", "图书馆", index_dir=settings.index_dir)
    assert result.returncode == 2
    assert "chunks.jsonl" in result.stderr and "checksum mismatch" in result.stderr and REBUILD_HINT in result.stderr
    assert "Traceback" not in result.stderr


def test_every_index_file_has_a_checksum_in_the_manifest(settings, embedder):
    ingest(None, settings, embeddings=embedder)
    store = IndexStore.open(settings.index_dir)
    files = {p.relative_to(store.path).as_posix() for p in store.path.rglob("*") if p.is_file()}
    assert set(store.manifest.checksums) == files - {"manifest.json"}
    assert {"chunks.jsonl", "dense.faiss", "bm25/size.json"} <= set(store.manifest.checksums)


def test_index_without_checksums_still_opens_and_the_next_ingest_adds_them(settings, embedder):
    """An index written before checksums existed (format 1) is read, then upgraded in place without embedding."""
    ingest(None, settings, embeddings=embedder)
    manifest_path = generation_of(settings) / "manifest.json"
    data = json.loads(manifest_path.read_text(encoding="utf-8"))
    for key in ("checksum", "checksums"):
        data.pop(key)
    data["format_version"] = 1
    manifest_path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    assert not IndexStore.open(settings.index_dir).manifest.has_checksums
    embedder.embedded = 0

    report = ingest(None, settings, embeddings=embedder)

    store = IndexStore.open(settings.index_dir)
    assert report.written and embedder.embedded == 0
    assert store.manifest.format_version == 2 and store.manifest.checksums


def test_open_while_an_ingest_switches_builds_reads_the_new_one(settings, embedder, corpus_dir, monkeypatch):
    """An ingest removes the old build right after switching CURRENT; a reader caught in between retries."""
    ingest(None, settings, embeddings=embedder)
    real_load = IndexStore._load.__func__
    loaded = []

    def load(cls, generation, model_id, dimension):
        loaded.append(generation)
        if len(loaded) == 1:  # the reader has read CURRENT; now an ingest switches builds and removes this one
            (corpus_dir / "extra.txt").write_text("全新的内容：株洲开通了城市轨道交通。\n", encoding="utf-8")
            ingest(None, settings, embeddings=embedder)
        return real_load(cls, generation, model_id, dimension)

    monkeypatch.setattr(IndexStore, "_load", classmethod(load))
    store = IndexStore.open(settings.index_dir)

    assert not loaded[0].exists() and store.path == generation_of(settings) != loaded[0]
    assert any("轨道交通" in chunk.text for chunk in store.chunks)


# --- an ingest killed with SIGKILL -------------------------------------------------------


def start_slow_ingest(index_dir: Path, *paths: Path, delay: float = 0.0, hang_while_writing: bool = False) -> subprocess.Popen:
    command = [sys.executable, "-m", "tests.store.slow_ingest", str(index_dir), *map(str, paths), "--delay", str(delay)]
    if hang_while_writing:
        command.append("--hang-while-writing")
    return subprocess.Popen(command, cwd=PROJECT_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def read_until(process: subprocess.Popen, stream, marker: str, timeout: float = 120) -> str:
    """What ``stream`` (a pipe of ``process``) printed up to and including ``marker``; fails on timeout or exit."""
    seen = b""
    deadline = time.monotonic() + timeout
    while marker.encode() not in seen:
        remaining = deadline - time.monotonic()
        assert remaining > 0, f"no {marker!r} within {timeout} s; got {seen[-500:]!r}"
        ready, _, _ = select.select([stream], [], [], remaining)
        if ready:
            block = os.read(stream.fileno(), 65536)
            assert block or process.poll() is None, f"process exited before {marker!r}: {seen[-500:]!r}"
            seen += block
    return seen.decode("utf-8", errors="replace")


def kill(process: subprocess.Popen) -> None:
    process.send_signal(signal.SIGKILL)
    assert process.wait(timeout=30) == -signal.SIGKILL


def chunk_texts(settings) -> list[str]:
    return [c.text for c in IndexStore.open(settings.index_dir).chunks]


def test_sigkill_while_embedding_leaves_the_previous_index(settings, embedder, corpus_dir):
    ingest(None, settings, embeddings=embedder)
    before = (generation_of(settings), chunk_texts(settings))
    (corpus_dir / "extra.txt").write_text("全新的内容：株洲开通了城市轨道交通。\n", encoding="utf-8")

    process = start_slow_ingest(settings.index_dir, corpus_dir, delay=60)
    read_until(process, process.stdout, "embedding")
    kill(process)

    assert (generation_of(settings), chunk_texts(settings)) == before
    report = ingest(None, settings, embeddings=embedder)  # the kernel released the dead process's lock
    assert report.changed == ["extra.txt"] and report.waited_seconds < 5
    assert any("轨道交通" in text for text in chunk_texts(settings))


def test_sigkill_while_writing_leaves_the_previous_index_and_the_next_ingest_cleans_up(settings, embedder, corpus_dir):
    ingest(None, settings, embeddings=embedder)
    before = (generation_of(settings), chunk_texts(settings))
    (corpus_dir / "extra.txt").write_text("全新的内容：株洲开通了城市轨道交通。\n", encoding="utf-8")

    process = start_slow_ingest(settings.index_dir, corpus_dir, hang_while_writing=True)
    read_until(process, process.stdout, "writing")
    kill(process)

    leftovers = [p for p in settings.index_dir.iterdir() if p.name.startswith(".gen-")]
    assert leftovers and (leftovers[0] / "dense.faiss").exists()  # a half-written build
    assert (generation_of(settings), chunk_texts(settings)) == before

    ingest(None, settings, embeddings=embedder)
    names = sorted(p.name for p in settings.index_dir.iterdir())
    assert not [n for n in names if n.startswith(".gen-")]
    assert len([n for n in names if n.startswith("gen-")]) == 1
    assert any("轨道交通" in text for text in chunk_texts(settings))


@pytest.mark.integration
def test_sigkill_of_rag_ingest_with_the_real_model_leaves_the_previous_index(settings, embedder, corpus_dir):
    """`rag ingest --rebuild` with the real model, killed once its progress bar shows embedding."""
    ingest(None, settings, embeddings=embedder)
    before = (generation_of(settings), chunk_texts(settings))
    env = {k: v for k, v in os.environ.items() if k != "RAG_EMBEDDING_MODEL"}
    env["RAG_INDEX_DIR"] = str(settings.index_dir)
    process = subprocess.Popen(
        [sys.executable, "-m", "rag.cli", "ingest", "--rebuild", str(corpus_dir)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )
    read_until(process, process.stderr, "embedding", timeout=300)
    kill(process)

    assert (generation_of(settings), chunk_texts(settings)) == before
    (corpus_dir / "extra.txt").write_text("全新的内容：株洲开通了城市轨道交通。\n", encoding="utf-8")
    report = ingest(None, settings, embeddings=embedder)
    assert report.changed == ["extra.txt"]


# --- two ingests at once ------------------------------------------------------------------


def report_of(output: str) -> dict:
    [line] = [line for line in output.splitlines() if line.startswith("report ")]
    return json.loads(line[len("report ") :])


@pytest.mark.integration
def test_second_concurrent_ingest_waits_for_the_first_and_builds_on_its_result(settings, corpus_dir, tmp_path):
    first = start_slow_ingest(settings.index_dir, corpus_dir, delay=3)
    read_until(first, first.stdout, "embedding")  # the first holds the lock and is embedding
    (corpus_dir / "late.txt").write_text("后来加入的稿件：株洲举办了龙舟赛。\n", encoding="utf-8")
    second = start_slow_ingest(settings.index_dir, corpus_dir)

    first_out, first_err = first.communicate(timeout=120)
    second_out, second_err = second.communicate(timeout=120)

    assert first.returncode == 0, first_err.decode()
    assert second.returncode == 0, second_err.decode()
    assert "waiting for it to finish" in second_err.decode()
    one, two = report_of(first_out.decode()), report_of(second_out.decode())
    assert sorted(one["new"]) == ["000_a73fe32ef8bc3bea.txt", "001_b8f73a123f597be6.txt", "extra.txt"]
    assert two["waited_seconds"] > 1
    # The second ran after the first had finished: it found the first's files already indexed.
    assert two["new"] == ["late.txt"] and sorted(two["skipped"]) == sorted(one["new"])
    store = IndexStore.open(settings.index_dir)
    assert len(store.manifest.files) == 4
    assert len(store.chunks) == store.dense.size == store.lexical.size == store.manifest.chunk_count
    assert len([p for p in settings.index_dir.iterdir() if p.name.startswith("gen-")]) == 1
