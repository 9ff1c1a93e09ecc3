"""Bad files at the loader: binary data, odd encodings, truncation, special files, symbolic link loops.

Each file is either decoded correctly or rejected with an InputError naming it; a scan of
a folder never raises for one bad entry but lists it with the reason (``list_files``).
How ingest reports these files is tested in tests/store/test_bad_files_ingest.py.
"""

from __future__ import annotations

import os
import signal
import struct
import zlib
from contextlib import contextmanager
from pathlib import Path

import pytest

from rag.corpus.loaders import decode, list_files, load_path, supported_files
from rag.errors import InputError

TEXT = "株洲日报讯 云龙示范区今年新建了三座图书馆，藏书共计十二万册。\n"


def png_bytes() -> bytes:
    """A real 1×1 PNG image."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\x00\xff\x00\x00")) + chunk(b"IEND", b"")


@contextmanager
def fails_after(seconds: int):
    """Turn a hang (reading a FIFO) into a test failure instead of a stuck test run."""

    def timeout(*_):
        raise TimeoutError(f"still blocked after {seconds} s")

    previous = signal.signal(signal.SIGALRM, timeout)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


# --- contents ---------------------------------------------------------------------------


def test_empty_file_is_rejected_by_name(tmp_path: Path):
    for name, content in (("empty.txt", b""), ("blank.md", b" \n\t\n")):
        path = tmp_path / name
        path.write_bytes(content)
        with pytest.raises(InputError, match=f"{name} is empty"):
            load_path(path)


def test_png_renamed_to_txt_is_not_a_text_file(tmp_path: Path):
    path = tmp_path / "photo.txt"
    path.write_bytes(png_bytes())
    with pytest.raises(InputError, match="photo.txt is not a text file"):
        load_path(path)


def test_binary_without_nul_bytes_is_caught_by_its_control_characters(tmp_path: Path):
    path = tmp_path / "data.txt"
    path.write_bytes(bytes(range(1, 32)) * 40 + TEXT.encode())  # valid UTF-8, but mostly control characters
    with pytest.raises(InputError, match=r"data.txt is not a text file \(\d+ of its \d+ characters are control"):
        load_path(path)


def test_text_with_a_few_control_characters_is_still_text(tmp_path: Path):
    path = tmp_path / "page.txt"
    path.write_text("第一版\f" + TEXT + "\x1b[0m" + TEXT * 3 + "\x07", encoding="utf-8")
    assert TEXT in load_path(path)[0].text


@pytest.mark.parametrize(
    ("encoding", "text", "expected"),
    [
        ("gbk", TEXT, "gb18030"),
        ("gb2312", TEXT, "gb18030"),
        ("gb18030", "四字节字符：𠮷𡈽 " + TEXT, "gb18030"),  # outside GBK: four-byte GB18030 sequences
        ("utf-16", TEXT, "utf-16"),  # with a byte-order mark (little-endian here)
        ("utf-8-sig", TEXT, "utf-8-sig"),
    ],
)
def test_legacy_and_wide_encodings_decode_exactly(tmp_path: Path, encoding: str, text: str, expected: str):
    path = tmp_path / "issue.txt"
    path.write_bytes(text.encode(encoding))
    [doc] = load_path(path)
    assert (doc.text, doc.encoding) == (text, expected)


def test_big_endian_utf16_with_bom(tmp_path: Path):
    path = tmp_path / "wide.txt"
    path.write_bytes(b"\xfe\xff" + TEXT.encode("utf-16-be"))
    assert load_path(path)[0].text == TEXT


def test_utf16_without_bom_is_refused_as_binary(tmp_path: Path):
    path = tmp_path / "wide.txt"
    path.write_bytes(("ASCII heavy text " + TEXT).encode("utf-16-le"))
    with pytest.raises(InputError, match="not a text file.*NUL"):
        load_path(path)


@pytest.mark.parametrize("cut", [1, 2])
@pytest.mark.parametrize("bom", [b"", b"\xef\xbb\xbf"])
def test_utf8_cut_inside_its_last_character_loses_only_that_character(tmp_path: Path, cut: int, bom: bytes):
    whole = ("截断的文件。" + TEXT.rstrip() + "完").encode("utf-8")  # 完 is three bytes
    path = tmp_path / "truncated.txt"
    path.write_bytes(bom + whole[:-cut])
    [doc] = load_path(path)
    assert doc.text == "截断的文件。" + TEXT.rstrip()
    assert doc.encoding.startswith("utf-8")


def test_utf8_truncation_is_not_mistaken_for_gb18030():
    """Truncated UTF-8 can be valid GB18030 by accident (mojibake); it must still be read as UTF-8."""
    truncated = "新建了三座图书馆".encode("utf-8")[:-2]
    assert truncated.decode("gb18030")  # the accident: GB18030 would take these bytes
    assert decode(truncated, "x.txt") == ("新建了三座图书", "utf-8")


def test_invalid_bytes_inside_utf8_are_an_error_with_their_position(tmp_path: Path):
    data = TEXT.encode("utf-8")
    path = tmp_path / "damaged.txt"
    path.write_bytes(data[:9] + b"\xff" + data[9:])  # after 株洲日
    with pytest.raises(InputError, match=r"Cannot decode damaged.txt: not UTF-8 \(invalid start byte at byte 9\)"):
        load_path(path)


def test_names_with_spaces_and_chinese_characters(tmp_path: Path):
    folder = tmp_path / "新闻 资料" / "二〇二四 年"
    folder.mkdir(parents=True)
    path = folder / "株洲 日报 第1版.txt"
    path.write_text(TEXT, encoding="utf-8")
    assert supported_files(tmp_path) == [path]
    [doc] = load_path(tmp_path)
    assert (doc.source, doc.text) == ("株洲 日报 第1版.txt", TEXT)


# --- entries that are not plain readable files -------------------------------------------------------


def test_fifo_is_listed_as_skipped_and_never_opened(tmp_path: Path):
    fifo = tmp_path / "pipe.txt"
    os.mkfifo(fifo)
    (tmp_path / "good.txt").write_text(TEXT, encoding="utf-8")
    with fails_after(10):
        listing = list_files(tmp_path)
        assert listing.files == [tmp_path / "good.txt"]
        assert "not a regular file" in listing.skipped[fifo]
        with pytest.raises(InputError, match="pipe.txt: not a regular file"):
            load_path(fifo)  # named directly: refused, not read (reading would block forever)


def test_file_symlink_loop_is_skipped_with_reason(tmp_path: Path):
    (tmp_path / "a.txt").symlink_to("b.txt")
    (tmp_path / "b.txt").symlink_to("a.txt")
    (tmp_path / "good.txt").write_text(TEXT, encoding="utf-8")
    listing = list_files(tmp_path)
    assert listing.files == [tmp_path / "good.txt"]
    assert "symbolic link loop" in listing.skipped[tmp_path / "a.txt"]
    assert "symbolic link loop" in listing.skipped[tmp_path / "b.txt"]
    assert [d.text for d in load_path(tmp_path)] == [TEXT]


def test_folder_linked_into_itself_is_not_followed(tmp_path: Path):
    sub = tmp_path / "sub"
    sub.mkdir()
    (sub / "story.txt").write_text(TEXT, encoding="utf-8")
    (sub / "again").symlink_to(".")  # sub/again/again/again/... would never end
    (tmp_path / "up").symlink_to("..")
    with fails_after(20):
        listing = list_files(tmp_path)
    assert listing.files == [sub / "story.txt"]
    assert "symbolic link loop" in listing.skipped[sub / "again"]
    assert "symbolic link" in listing.skipped[tmp_path / "up"] and "not followed" in listing.skipped[tmp_path / "up"]


def test_broken_symlink_and_linked_file(tmp_path: Path):
    target = tmp_path / "elsewhere" / "real.txt"
    target.parent.mkdir()
    target.write_text(TEXT, encoding="utf-8")
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "linked.txt").symlink_to(target)
    (corpus / "gone.txt").symlink_to(tmp_path / "missing.txt")
    listing = list_files(corpus)
    assert listing.files == [corpus / "linked.txt"]  # a link to a file is read
    assert "broken symbolic link" in listing.skipped[corpus / "gone.txt"]


def test_file_that_cannot_be_read_is_an_input_error(tmp_path: Path):
    """/proc/self/mem is a regular file whose first page cannot be read, even by root."""
    path = tmp_path / "unreadable.txt"
    path.symlink_to("/proc/self/mem")
    with pytest.raises(InputError, match="Cannot read .*unreadable.txt: Input/output error"):
        load_path(path)


def test_chmod_000_file(tmp_path: Path):
    path = tmp_path / "locked.txt"
    path.write_text(TEXT, encoding="utf-8")
    path.chmod(0)
    try:
        if os.geteuid() == 0:
            # root reads files whatever their mode: the file is simply read (the read error
            # path is covered by test_file_that_cannot_be_read_is_an_input_error).
            assert load_path(path)[0].text == TEXT
        else:
            with pytest.raises(InputError, match="Cannot read .*locked.txt: Permission denied"):
                load_path(path)
    finally:
        path.chmod(0o644)


def test_folder_that_cannot_be_listed_is_reported_not_raised(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    (tmp_path / "open").mkdir()
    (tmp_path / "open" / "a.txt").write_text(TEXT, encoding="utf-8")
    (tmp_path / "closed").mkdir()
    real_scandir = os.scandir

    def scandir(path):
        if Path(path).name == "closed":
            raise PermissionError(13, "Permission denied", str(path))
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", scandir)
    listing = list_files(tmp_path)
    assert listing.files == [tmp_path / "open" / "a.txt"]
    assert listing.unlisted == [tmp_path / "closed"]
    assert "cannot list this folder: Permission denied" in listing.skipped[tmp_path / "closed"]


def test_folder_entry_with_a_txt_name_is_searched_not_read(tmp_path: Path):
    (tmp_path / "2024.txt").mkdir()
    (tmp_path / "2024.txt" / "story.md").write_text(TEXT, encoding="utf-8")
    assert list_files(tmp_path).files == [tmp_path / "2024.txt" / "story.md"]
    assert not list_files(tmp_path).skipped
