"""knowledge_base.py: safe names, upload checks, saving and the ingest/delete wrappers."""

from __future__ import annotations

from pathlib import Path

import pytest

from rag.config import Settings
from rag.store import IngestReport
from rag.ui import knowledge_base as kb
from rag.ui.knowledge_base import UploadRejected


@pytest.mark.parametrize(
    "name, safe",
    [
        ("report.txt", "report.txt"),
        ("../../etc/passwd.txt", "passwd.txt"),
        ("..\\..\\windows\\evil.md", "evil.md"),
        ("/abs/path/新闻 稿（终版）.TXT", "新闻_稿_终版.txt"),
        (".bashrc.txt", "bashrc.txt"),
        ("...txt", "upload.txt"),
        ("a..b...c.jsonl", "a.b.c.jsonl"),
        ("株洲日报_2024-05-01.txt", "株洲日报_2024-05-01.txt"),
        ("na\x00me\n.txt", "name.txt"),
        ("<script>.md", "script.md"),
        ("", "upload"),
        ("..", "upload"),
    ],
)
def test_safe_filename(name, safe):
    assert kb.safe_filename(name) == safe


def test_safe_filename_never_leaves_the_folder_and_limits_length():
    for name in ["../x.txt", "..", "./.", "a/../../b.txt", "C:\\Users\\x\\..\\y.txt", "~/.ssh/id_rsa.txt", "x" * 500 + ".txt"]:
        safe = kb.safe_filename(name)
        assert "/" not in safe and "\\" not in safe and not safe.startswith(".") and ".." not in safe
        assert len(safe) <= kb.MAX_STEM_CHARS + 6


@pytest.mark.parametrize("name", ["virus.exe", "notes", "data.csv", "page.php", "archive.txt.zip", "../../evil.sh"])
def test_disallowed_types_are_rejected(name):
    with pytest.raises(UploadRejected, match="不支持的文件类型"):
        kb.validate_upload(name, "正文".encode(), 1000)


def test_pdf_docx_html_and_images_are_accepted_when_their_bytes_match():
    assert kb.validate_upload("issue.PDF", b"%PDF-1.7\n...", 1000) == "issue.pdf"
    assert kb.validate_upload("page.png", b"\x89PNG\r\n\x1a\n....", 1000) == "page.png"
    assert kb.validate_upload("scan.jpeg", b"\xff\xd8\xff\xe0..", 1000) == "scan.jpeg"
    assert kb.validate_upload("memo.docx", b"PK\x03\x04....", 1000) == "memo.docx"
    assert kb.validate_upload("news.html", "<html><p>正文</p></html>".encode(), 1000) == "news.html"
    with pytest.raises(UploadRejected, match="不是 PDF"):
        kb.validate_upload("fake.pdf", "正文".encode(), 1000)


def test_size_limit_and_empty_files():
    assert kb.validate_upload("ok.txt", ("一" * 100).encode(), 300) == "ok.txt"
    with pytest.raises(UploadRejected, match="文件过大"):
        kb.validate_upload("big.txt", ("一" * 101).encode(), 300)
    with pytest.raises(UploadRejected, match="文件为空"):
        kb.validate_upload("empty.txt", b"", 300)


def test_text_must_decode():
    assert kb.decode_text("gbk.txt", "株洲新闻".encode("gbk")) == "株洲新闻"
    assert kb.decode_text("bom.txt", "\ufeff株洲".encode("utf-8")) == "株洲"
    with pytest.raises(UploadRejected, match="二进制"):
        kb.validate_upload("fake.txt", b"MZ\x90\x00\x03\x00\x00\x00", 1000)
    with pytest.raises(UploadRejected, match="控制字符"):
        kb.validate_upload("ctrl.txt", bytes(range(1, 32)) * 10, 1000)
    with pytest.raises(UploadRejected, match="没有文字"):
        kb.validate_upload("blank.md", b"   \n\n ", 1000)


def test_jsonl_lines_must_be_objects():
    good = '{"text": "株洲新闻", "title": "标题"}\n\n{"text": "第二条"}\n'.encode()
    assert kb.validate_upload("news.jsonl", good, 1000) == "news.jsonl"
    with pytest.raises(UploadRejected, match="第 2 行不是合法的 JSON"):
        kb.validate_upload("bad.jsonl", b'{"text": "a"}\n{oops\n', 1000)
    with pytest.raises(UploadRejected, match="第 1 行应为 JSON 对象"):
        kb.validate_upload("list.jsonl", b'["a"]\n', 1000)
    # refused at upload, not accepted and then failing at ingest
    with pytest.raises(UploadRejected, match="第 2 行缺少正文"):
        kb.validate_upload("notext.jsonl", '{"text": "有正文"}\n{"title": "只有标题"}\n'.encode(), 1000)
    with pytest.raises(UploadRejected, match='第 1 行字段 "date" 应为字符串'):
        kb.validate_upload("date.jsonl", '{"text": "正文", "date": 20250101}\n'.encode(), 1000)


@pytest.fixture
def kb_settings(tmp_path: Path) -> Settings:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "000_a73fe32ef8bc3bea.txt").write_text("太钢新闻。", encoding="utf-8")
    return Settings(corpus_dir=corpus, index_dir=tmp_path / "index", upload_dir=tmp_path / "uploads", upload_max_bytes=1000)


def test_target_path_stays_in_upload_dir_and_avoids_corpus_names(kb_settings):
    upload_dir = kb_settings.upload_dir.resolve()
    assert kb.target_path("news.txt", kb_settings, {}) == upload_dir / "news.txt"
    assert kb.target_path("000_a73fe32ef8bc3bea.txt", kb_settings, {}) == upload_dir / "000_a73fe32ef8bc3bea_2.txt"
    indexed = {"cli.txt": "/somewhere/else/cli.txt", "cli_2.txt": "/other/cli_2.txt", "mine.txt": str(upload_dir / "mine.txt")}
    assert kb.target_path("cli.txt", kb_settings, indexed).name == "cli_3.txt"
    assert kb.target_path("mine.txt", kb_settings, indexed).name == "mine.txt"  # re-upload replaces


class FakeStore:
    """Stands in for rag.store.ingest / remove_sources; records what it was asked."""

    def __init__(self, fail: set[str] = frozenset()):
        self.ingested: list[list[Path]] = []
        self.removed: list[str] = []
        self.reloads = 0
        self.fail = fail

    def ingest(self, paths, settings, *, rebuild=False, progress=None, **_):
        self.ingested.append(list(paths) if paths else [])
        self.rebuild = rebuild
        if progress:
            progress("embedding", 1, 2)
            progress("embedding", 2, 2)
        report = IngestReport(files=3, chunks=10, embedded_chunks=2)
        report.failed = {p.name: "无法解析" for p in (paths or []) if p.name in self.fail}
        return report

    def remove_sources(self, sources, settings):
        self.removed += sources
        return IngestReport(removed=list(sources), files=2, chunks=8)


@pytest.fixture
def fake_store(monkeypatch):
    import rag.store

    fake = FakeStore()
    monkeypatch.setattr(rag.store, "ingest", fake.ingest)
    monkeypatch.setattr(rag.store, "remove_sources", fake.remove_sources)
    monkeypatch.setattr(kb, "_reload", lambda settings: setattr(fake, "reloads", fake.reloads + 1))
    return fake


def test_add_documents_saves_valid_files_rejects_the_rest_and_reloads(kb_settings, fake_store, tmp_path):
    incoming = tmp_path / "incoming"
    incoming.mkdir()
    good = incoming / "株洲 新闻.txt"
    good.write_text("株洲星河动力公司发布新型无人机。", encoding="utf-8")
    exe = incoming / "tool.exe"
    exe.write_bytes(b"MZ\x00\x00")
    big = incoming / "big.md"
    big.write_text("长" * 2000, encoding="utf-8")
    steps = []
    result = kb.add_documents([good, exe, big], kb_settings, lambda fraction, desc: steps.append((fraction, desc)))
    saved = kb_settings.upload_dir / "株洲_新闻.txt"
    assert result.saved == ["株洲_新闻.txt"] and saved.read_text(encoding="utf-8").startswith("株洲星河")
    assert sorted(p.name for p in kb_settings.upload_dir.iterdir()) == ["株洲_新闻.txt"]
    assert fake_store.ingested == [[saved.resolve()]] and fake_store.reloads == 1
    assert any("tool.exe" in r and "不支持" in r for r in result.rejected)
    assert any("big.md" in r and "过大" in r for r in result.rejected)
    assert steps[-1][0] == 1.0 and "2/2" in steps[-1][1]
    message = result.message()
    assert "已加入：株洲_新闻.txt" in message and "3 个文档" in message


def test_add_documents_with_nothing_valid_touches_no_index(kb_settings, fake_store, tmp_path):
    exe = tmp_path / "a.exe"
    exe.write_bytes(b"MZ")
    result = kb.add_documents([exe], kb_settings)
    assert result.saved == [] and fake_store.ingested == [] and fake_store.reloads == 0
    assert "不支持的文件类型" in result.message()


def test_upload_that_ingest_fails_on_is_not_kept(kb_settings, fake_store, tmp_path):
    fake_store.fail = {"odd.jsonl"}  # passes the upload checks, then ingest cannot use it
    odd = tmp_path / "odd.jsonl"
    odd.write_text('{"text": "正文"}\n', encoding="utf-8")
    result = kb.add_documents([odd], kb_settings)
    assert result.saved == [] and not (kb_settings.upload_dir / "odd.jsonl").exists()
    assert "odd.jsonl：未加入" in result.message()


def test_delete_removes_uploaded_file_but_not_corpus_files(kb_settings, fake_store, monkeypatch):
    uploaded = kb_settings.upload_dir / "mine.txt"
    uploaded.parent.mkdir(parents=True)
    uploaded.write_text("内容", encoding="utf-8")
    corpus_file = kb_settings.corpus_dir / "000_a73fe32ef8bc3bea.txt"
    monkeypatch.setattr(kb, "indexed_files", lambda s: {"mine.txt": str(uploaded), corpus_file.name: str(corpus_file)})
    assert kb.delete_document("mine.txt", kb_settings).removed_file is True
    assert not uploaded.exists()
    assert not kb_settings.upload_dir.exists()  # emptied: dropped, so a re-index does not scan an empty folder
    assert kb.delete_document(corpus_file.name, kb_settings).removed_file is False
    assert corpus_file.exists()
    assert fake_store.removed == ["mine.txt", corpus_file.name] and fake_store.reloads == 2


def test_reindex_rebuilds_from_default_paths(kb_settings, fake_store):
    kb.reindex(kb_settings)
    assert fake_store.ingested == [[]] and fake_store.rebuild is True and fake_store.reloads == 1
