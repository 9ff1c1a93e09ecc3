"""`rag ingest` on a folder of generated newspaper PDFs, a scanned page, HTML and DOCX, then `rag ask`
with the real embedding model: the canonical question is answered from a PDF and cites its page."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.bench_scripts import load as _bench

ROOT = Path(__file__).resolve().parents[2]
CANONICAL = "太钢的碳中和目标是什么"


def rag(*args, env):
    return subprocess.run([sys.executable, "-m", "rag.cli", *args], capture_output=True, text=True, env=env, timeout=900)


@pytest.mark.integration
def test_mixed_folder_is_indexed_and_the_canonical_question_cites_the_page(tmp_path, base_settings):
    pytest.importorskip("rapidocr_onnxruntime")
    make = _bench("make_test_pdfs")
    folder = tmp_path / "papers"
    corpus = sorted((ROOT / "data" / "corpus").glob("*.txt"))
    for k, issue in enumerate(corpus):
        make.make_issue(issue, folder, columns=3 + k % 3, seed=k)
    for truth in folder.glob("*.truth.json"):
        truth.unlink()
    # one scanned page as an image-only PDF and one as a PNG (OCR of two pages)
    scans = tmp_path / "scans"
    scans.mkdir()
    [page] = make.render_pages(folder / "001_b8f73a123f597be6.pdf", scans)
    make.image_pdf([page], folder / "001_scan.pdf")
    page.rename(folder / "001_scan_page.png")
    (folder / "news.html").write_text(
        "<html><head><title>株洲发布 - 新闻</title></head><body><nav>首页</nav><article><h1>株洲公开征集线索</h1>"
        "<p>株洲日报讯 市纪委监委发布公告，面向社会公开征集损害营商环境的作风和腐败问题线索，持续深化整治。</p>"
        "</article></body></html>", encoding="utf-8")
    import docx

    document = docx.Document()
    document.add_heading("湖南召开能效提升推进会", level=1)
    document.add_paragraph("5月28日，2024年湖南省重点企业能效提升对接暨“双碳”工作推进会在株洲召开。")
    document.save(folder / "memo.docx")

    env = dict(os.environ, RAG_INDEX_DIR=str(tmp_path / "index"), RAG_CACHE_DIR=str(base_settings.cache_dir))
    result = rag("ingest", str(folder), "--json", env=env)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    names = {p.name for p in folder.iterdir()}
    assert report["failed"] == {} and set(report["new"]) == names
    assert "001_scan.pdf: page 1/1 (ocr" in result.stderr and "002_110601d51d0bdeef.pdf: page 5/5 (text)" in result.stderr

    result = rag("ask", CANONICAL, "--json", env=env)
    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout)
    assert not answer["refused"] and "2050" in answer["answer"]
    first = answer["citations"][0]
    assert first["file"] == "000_a73fe32ef8bc3bea.pdf" and first["page"] == 1 and "碳中和" in first["text"]

    result = rag("search", "幸福食光长者餐厅", "--json", "-k", "3", env=env)
    hits = json.loads(result.stdout)["results"]
    assert any(h.get("page") for h in hits)
