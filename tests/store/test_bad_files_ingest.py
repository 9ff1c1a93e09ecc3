"""Bad files during ingest: each is ingested correctly or left out with a one-line reason; the run goes on.

Nothing already stored is lost: a file that turns bad keeps its last good version, and a
folder that cannot be listed (or a scanned path that went missing) keeps what it had.
``rag ingest`` fails (exit 2, no traceback) only when nothing at all could be ingested.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from rag.config import Settings
from rag.store import IndexStore, ingest
from tests.corpus.test_bad_files import png_bytes

TEXT = "株洲日报讯 云龙示范区今年新建了三座图书馆，藏书共计十二万册。\n"


def texts_by_source(settings) -> dict[str, str]:
    store = IndexStore.open(settings.index_dir)
    joined: dict[str, str] = {}
    for chunk in store.chunks:
        joined[chunk.file or chunk.source] = joined.get(chunk.file or chunk.source, "") + chunk.text
    return joined


def rag_ingest(*args, index_dir: Path):
    env = {**os.environ, "RAG_INDEX_DIR": str(index_dir)}
    return subprocess.run([sys.executable, "-m", "rag.cli", "ingest", *args], capture_output=True, text=True, env=env, timeout=900)


# --- one folder with every kind of bad file -----------------------------------------------------------

# file name -> words its reason must contain
BAD = {
    "empty.txt": "empty.txt is empty",
    "photo.txt": "not a text file",
    "damaged.txt": "Cannot decode damaged.txt: not UTF-8",
    "pipe.txt": "not a regular file",
    "loop-a.txt": "symbolic link loop",
    "loop-b.txt": "symbolic link loop",
    "dangling.md": "broken symbolic link",
    "unreadable.txt": "Input/output error",
    "huge.txt": "50 MB is over the per-file limit of 20 MB (setting max_file_bytes; raise it with RAG_MAX_FILE_BYTES)",
    "zz copy of extra.txt": "same content as extra.txt",
}
# file name -> text it must be indexed with
GOOD = {
    "gbk.txt": "GBK编码。" + TEXT,
    "gb18030.txt": "四字节字符𠮷。" + TEXT,
    "utf16.txt": "UTF-16编码。" + TEXT,
    "truncated.txt": "截断的文件。" + TEXT.rstrip(),
    "株洲 日报 第1版.txt": "路径有空格和中文。" + TEXT,
    "linked.txt": "链接到别处的文件。" + TEXT,
}


def make_bad_and_good_files(folder: Path, elsewhere: Path) -> None:
    (folder / "empty.txt").write_bytes(b"")
    (folder / "photo.txt").write_bytes(png_bytes())
    (folder / "damaged.txt").write_bytes(TEXT.encode()[:9] + b"\xff" + TEXT.encode()[9:])
    os.mkfifo(folder / "pipe.txt")
    (folder / "loop-a.txt").symlink_to("loop-b.txt")
    (folder / "loop-b.txt").symlink_to("loop-a.txt")
    (folder / "dangling.md").symlink_to(elsewhere / "gone.md")
    (folder / "unreadable.txt").symlink_to("/proc/self/mem")  # a regular file that fails to read, even as root
    with open(folder / "huge.txt", "wb") as handle:  # 50 MB of text
        handle.write(TEXT.encode() * (50 * 2**20 // len(TEXT.encode()) + 1))
    shutil.copy(folder / "extra.txt", folder / "zz copy of extra.txt")
    (folder / "self").symlink_to(".")  # a folder linked into itself
    (folder / "gbk.txt").write_bytes(GOOD["gbk.txt"].encode("gbk"))
    (folder / "gb18030.txt").write_bytes(GOOD["gb18030.txt"].encode("gb18030"))
    (folder / "utf16.txt").write_bytes(GOOD["utf16.txt"].encode("utf-16"))
    (folder / "truncated.txt").write_bytes(GOOD["truncated.txt"].encode() + "完".encode()[:2])
    (folder / "株洲 日报 第1版.txt").write_text(GOOD["株洲 日报 第1版.txt"], encoding="utf-8")
    elsewhere.mkdir()
    (elsewhere / "real.txt").write_text(GOOD["linked.txt"], encoding="utf-8")
    (folder / "linked.txt").symlink_to(elsewhere / "real.txt")


def test_each_bad_file_is_left_out_with_its_reason_and_everything_else_is_ingested(settings, embedder, corpus_dir, tmp_path):
    make_bad_and_good_files(corpus_dir, tmp_path / "elsewhere")

    report = ingest(None, settings, embeddings=embedder)

    for name, reason in BAD.items():
        assert reason in report.failed.get(name, ""), (name, report.failed.get(name))
    loop = f"{corpus_dir / 'self'}/"
    assert "symbolic link loop" in report.failed[loop]
    assert set(report.failed) == set(BAD) | {loop}
    assert sorted(report.new) == sorted(["000_a73fe32ef8bc3bea.txt", "001_b8f73a123f597be6.txt", "extra.txt", *GOOD])
    indexed = texts_by_source(settings)
    for name, text in GOOD.items():
        assert indexed[name] == text.strip(), name  # decoded exactly, no mojibake
    summary = report.summary()
    for name in report.failed:
        [line] = [line for line in summary.splitlines() if line.startswith(f"failed: {name}: ")]
        assert len(line) < 300
    store = IndexStore.open(settings.index_dir)
    assert len(store.chunks) == store.dense.size == store.lexical.size == store.manifest.chunk_count


def test_file_size_limit_is_a_setting(settings, embedder, tmp_path):
    long = tmp_path / "long.txt"
    long.write_text(TEXT * 100, encoding="utf-8")  # 9,200 bytes
    small = settings.replace(max_file_bytes=5000)
    report = ingest([long], small, embeddings=embedder)
    assert report.failed == {"long.txt": "9 KB is over the per-file limit of 4.9 KB (setting max_file_bytes; raise it with RAG_MAX_FILE_BYTES)"}

    raised = Settings.from_env({"RAG_MAX_FILE_BYTES": "20000"})
    report = ingest([long], small.replace(max_file_bytes=raised.max_file_bytes), embeddings=embedder)
    assert report.new == ["long.txt"] and not report.failed


# --- the same content under two names ---------------------------------------------------------------


def test_same_content_under_two_names_is_indexed_once(settings, embedder, corpus_dir):
    shutil.copy(corpus_dir / "extra.txt", corpus_dir / "zz-copy.txt")

    report = ingest(None, settings, embeddings=embedder)

    assert report.failed == {"zz-copy.txt": "same content as extra.txt (indexed once, under that name)"}
    assert "zz-copy.txt" not in IndexStore.open(settings.index_dir).manifest.files
    assert sum("三座图书馆" in text for text in texts_by_source(settings).values()) == 1

    (corpus_dir / "extra.txt").unlink()  # the copy now stands alone and is indexed
    report = ingest(None, settings, embeddings=embedder)
    assert report.new == ["zz-copy.txt"] and report.removed == ["extra.txt"] and not report.failed


def test_the_copy_already_indexed_keeps_its_name(settings, embedder, corpus_dir):
    ingest(None, settings, embeddings=embedder)
    shutil.copy(corpus_dir / "extra.txt", corpus_dir / "a-copy.txt")  # sorts before extra.txt

    report = ingest(None, settings, embeddings=embedder)

    assert report.failed == {"a-copy.txt": "same content as extra.txt (indexed once, under that name)"}
    assert not report.written


def test_two_empty_files_report_why_the_first_failed(settings, embedder, corpus_dir):
    (corpus_dir / "blank1.txt").write_text("", encoding="utf-8")
    (corpus_dir / "blank2.txt").write_text("", encoding="utf-8")
    report = ingest(None, settings, embeddings=embedder)
    assert report.failed["blank1.txt"] == "blank1.txt is empty."
    assert report.failed["blank2.txt"] == "same content as blank1.txt; it could not be indexed: blank1.txt is empty."


def test_two_files_with_one_name_in_different_folders(settings, embedder, corpus_dir):
    (corpus_dir / "a").mkdir()
    (corpus_dir / "b").mkdir()
    (corpus_dir / "a" / "same.txt").write_text("甲文件。" + TEXT, encoding="utf-8")
    (corpus_dir / "b" / "same.txt").write_text("乙文件。" + TEXT, encoding="utf-8")

    report = ingest(None, settings, embeddings=embedder)

    reason = report.failed[str(corpus_dir / "b" / "same.txt")]
    assert "another file named same.txt" in reason and "file names must be unique" in reason
    assert texts_by_source(settings)["same.txt"].startswith("甲文件")
    assert len(report.new) == 4


# --- nothing already stored is lost -------------------------------------------------------------------------


@pytest.mark.parametrize("turns", ["binary", "too large", "fifo"])
def test_indexed_file_that_turns_bad_keeps_its_last_good_version(settings, embedder, corpus_dir, turns):
    ingest(None, settings, embeddings=embedder)
    before = texts_by_source(settings)["extra.txt"]
    extra = corpus_dir / "extra.txt"
    limits = {}
    if turns == "binary":
        extra.write_bytes(png_bytes())
    elif turns == "too large":
        extra.write_text(TEXT * 200, encoding="utf-8")
        limits = {"max_file_bytes": 10_000}
    else:
        extra.unlink()
        os.mkfifo(extra)

    report = ingest(None, settings.replace(**limits), embeddings=embedder)

    assert "extra.txt" in report.failed and not report.removed
    assert texts_by_source(settings)["extra.txt"] == before


def test_missing_scanned_folder_keeps_what_it_held(settings, embedder, corpus_dir, tmp_path):
    other = tmp_path / "other"
    other.mkdir()
    (other / "other.txt").write_text("另一个文件夹。" + TEXT, encoding="utf-8")
    ingest([corpus_dir, other], settings, embeddings=embedder)
    other.rename(tmp_path / "unmounted")

    report = ingest([corpus_dir, other], settings, embeddings=embedder)

    assert report.failed == {f"{other}/": "does not exist"} and not report.removed
    assert "other.txt" in IndexStore.open(settings.index_dir).manifest.files


def test_folder_that_cannot_be_listed_keeps_what_it_held(settings, embedder, corpus_dir, monkeypatch):
    (corpus_dir / "closed").mkdir()
    (corpus_dir / "closed" / "inside.txt").write_text("锁住的文件夹。" + TEXT, encoding="utf-8")
    ingest(None, settings, embeddings=embedder)
    real_scandir = os.scandir

    def scandir(path):  # chmod 000 on the folder, in a way that also holds for root
        if Path(path).name == "closed":
            raise PermissionError(13, "Permission denied", str(path))
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", scandir)
    report = ingest(None, settings, embeddings=embedder)

    assert "cannot list this folder: Permission denied" in report.failed[f"{corpus_dir / 'closed'}/"]
    assert not report.removed and "inside.txt" in IndexStore.open(settings.index_dir).manifest.files


def test_when_every_file_is_bad_nothing_is_written_and_no_model_is_loaded(settings, corpus_dir, tmp_path, monkeypatch):
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "photo.txt").write_bytes(png_bytes())
    (bad / "empty.md").write_text("", encoding="utf-8")

    def no_model(_settings):
        raise AssertionError("the model must not be loaded when there is nothing to embed")

    monkeypatch.setattr("rag.store.ingestion._load_embeddings", no_model)
    report = ingest([bad], settings)
    assert not report.ingested_any and not report.written and set(report.failed) == {"photo.txt", "empty.md"}
    assert not (settings.index_dir / "CURRENT").exists()


def test_rebuild_that_finds_nothing_usable_keeps_the_previous_index(settings, embedder, tmp_path):
    ingest(None, settings, embeddings=embedder)
    generation = (settings.index_dir / "CURRENT").read_text()
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "photo.txt").write_bytes(png_bytes())

    report = ingest([bad], settings, embeddings=embedder, rebuild=True)

    assert not report.written and (settings.index_dir / "CURRENT").read_text() == generation


# --- the command line --------------------------------------------------------------------------------


def test_cli_exits_2_with_a_clear_message_when_nothing_could_be_ingested(tmp_path):
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "photo.txt").write_bytes(png_bytes())
    (bad / "empty.txt").write_bytes(b"")

    result = rag_ingest(str(bad), index_dir=tmp_path / "index")

    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "Nothing could be ingested" in result.stderr and "2 listed above" in result.stderr
    assert "failed: photo.txt: photo.txt is not a text file" in result.stdout
    assert "failed: empty.txt: empty.txt is empty." in result.stdout


def test_cli_on_a_folder_without_corpus_files(tmp_path):
    (tmp_path / "notes.xyz").write_bytes(b"%PDF-1.4")
    result = rag_ingest(str(tmp_path), index_dir=tmp_path / "index")
    assert result.returncode == 2 and "No supported files" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.integration
def test_cli_with_some_bad_files_succeeds_and_lists_them(corpus_dir, tmp_path):
    """Real model: the good files are ingested, the bad one is listed, exit status 0."""
    (corpus_dir / "photo.txt").write_bytes(png_bytes())
    result = rag_ingest(str(corpus_dir / "extra.txt"), str(corpus_dir / "photo.txt"), index_dir=tmp_path / "index")
    assert result.returncode == 0, result.stderr
    assert "failed: photo.txt: photo.txt is not a text file" in result.stdout
    assert "new 1 " in result.stdout


# --- 10,000 tiny files ----------------------------------------------------------------------------------


def tiny_corpus(root: Path, count: int) -> None:
    """``count`` one-line files in folders of 1,000; every tenth file is empty (a failure to report)."""
    for i in range(count):
        folder = root / f"batch{i // 1000:02d}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"brief{i:05d}.txt").write_text("" if i % 10 == 0 else f"第{i}号简讯：株洲新建了{i}座图书馆。\n", encoding="utf-8")


@pytest.mark.integration
def test_ten_thousand_tiny_files_in_linear_time(tmp_path, embedder):
    """Fake embeddings (the model is beside the point): the scan, chunking, failures and write must scale linearly."""
    import jieba

    jieba.initialize()  # a one-time cost that would distort the small run
    seconds = {}
    for count in (1_000, 10_000):
        root = tmp_path / f"corpus{count}"
        tiny_corpus(root, count)
        settings = Settings(index_dir=tmp_path / f"index{count}", embedding_model=embedder.model_id)
        started = time.perf_counter()
        report = ingest([root], settings, embeddings=embedder)
        seconds[count] = time.perf_counter() - started
        assert (len(report.new), len(report.failed), report.chunks) == (count * 9 // 10, count // 10, count * 9 // 10)

    started = time.perf_counter()
    again = ingest([root], settings, embeddings=embedder)
    unchanged = time.perf_counter() - started

    print(f"\n1,000 files {seconds[1_000]:.1f} s · 10,000 files {seconds[10_000]:.1f} s · unchanged re-ingest {unchanged:.1f} s")
    assert not again.written and len(again.skipped) == 9_000
    assert seconds[10_000] < 25 * seconds[1_000]  # linear is 10×, quadratic would be 100×
    assert seconds[10_000] < 300 and unchanged < 60  # 2 shared CPU cores: measured ~17 s and ~2 s
