"""End to end in headless Chromium: ask, read the cited answer, upload a document, ask about it.

Run with ``pytest -m browser``. Set ``RAG_SCREENSHOT=docs/screenshot.png`` to refresh the
README screenshot (by default it goes to the test's tmp folder).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from rag.config import PROJECT_ROOT

pytestmark = [pytest.mark.integration, pytest.mark.browser]

CANONICAL = "太钢的碳中和目标是什么"
ANSWER_TIMEOUT_MS = 120_000

NEW_DOCUMENT = """株洲星河动力公司发布“青鸾-7”物流无人机

本报讯 株洲市星河动力科技有限公司近日在云龙示范区发布“青鸾-7”型物流无人机。该机型最大载重为4873克，满载续航时间为137分钟。

公司负责人介绍，“青鸾-7”将首先用于湘江沿岸乡镇的医疗物资配送，计划年内投入运营。
"""
NEW_QUESTION = "青鸾-7型物流无人机的最大载重是多少"


def ask(page, question: str) -> str:
    """Type a question, send it, wait for the finished answer (sources panel drawn); its text."""
    answers_before = page.locator("#chatbot .message-content").count()
    page.locator("#question textarea").fill(question)
    page.locator("#send").click()
    return wait_for_answer(page, answers_before)


def wait_for_answer(page, answers_before: int):
    page.wait_for_function(
        """n => { const m = document.querySelectorAll('#chatbot .message-content');
                  return m.length >= n + 2 && !m[m.length - 1].querySelector('.rag-cursor')
                         && !m[m.length - 1].innerText.includes('正在检索'); }""",
        arg=answers_before,
        timeout=ANSWER_TIMEOUT_MS,
    )
    return page.locator("#chatbot .message-content").last


def cited_files(message) -> list[str]:
    """File names in the "来源" list of an answer (not the collapsed uncited passages)."""
    return message.locator(".rag-sources > .rag-source .rag-file").all_inner_texts()


def screenshot_path(tmp_path: Path) -> Path:
    target = os.environ.get("RAG_SCREENSHOT")
    if not target:
        return tmp_path / "screenshot.png"
    path = Path(target)
    return path if path.is_absolute() else PROJECT_ROOT / path


def test_chat_answer_sources_upload_and_new_answer(browser, app_server, tmp_path):
    page = browser.new_page(viewport={"width": 1400, "height": 1000}, locale="zh-CN")
    page.set_default_timeout(60_000)
    page.goto(app_server.url)
    page.locator("#question textarea").wait_for()

    # 1. the canonical question, asked by clicking its example; the answer streams in
    page.locator("#examples").get_by_text(CANONICAL, exact=True).click()
    page.wait_for_selector("#chatbot .rag-cursor, #chatbot .rag-sources", timeout=ANSWER_TIMEOUT_MS)
    message = wait_for_answer(page, 0)
    answer = message.locator(".rag-answer").first.inner_text()
    assert "2050" in answer and "碳中和" in answer, answer
    assert "[1]" in answer
    sources = cited_files(message)
    assert "000_a73fe32ef8bc3bea.txt" in sources, sources
    head = message.locator(".rag-sources > .rag-source .rag-source-head").first.inner_text()
    assert "[1]" in head and "得分" in head
    assert message.locator(".rag-sources > .rag-source mark").count() >= 1
    more = message.locator("details.rag-more")
    if more.count():
        assert more.first.get_attribute("open") is None  # uncited passages start collapsed
    stats = page.locator("#stats").inner_text()
    assert "文档" in stats and "段落" in stats

    shot = screenshot_path(tmp_path)
    shot.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10_000

    # 2. a vote is logged
    # Gradio labels the thumbs in the browser's language: "赞" in zh-CN, "Like" in English
    page.locator("#chatbot").get_by_role("button", name=re.compile(r"^(赞|Like)$")).last.click()
    page.wait_for_timeout(1000)
    assert '"vote": "up"' in app_server.feedback_path.read_text(encoding="utf-8")

    # 3. upload a new document on the knowledge-base tab
    doc = tmp_path / "株洲星河动力无人机.txt"
    doc.write_text(NEW_DOCUMENT, encoding="utf-8")
    page.get_by_role("tab", name="知识库").click()
    page.locator("#upload_files input[type=file]").set_input_files(str(doc))
    page.wait_for_timeout(1000)
    page.locator("#upload_button").click()
    page.wait_for_function(
        "() => document.querySelector('#kb_status') && document.querySelector('#kb_status').innerText.includes('已加入')",
        timeout=ANSWER_TIMEOUT_MS,
    )
    assert "株洲星河动力无人机.txt" in page.locator("#documents").inner_text()
    assert (app_server.upload_dir / "株洲星河动力无人机.txt").is_file()

    # 4. a question only the new document answers
    page.get_by_role("tab", name="问答").click()
    message = ask(page, NEW_QUESTION)
    answer = message.locator(".rag-answer").first.inner_text()
    assert "4873" in answer, answer
    assert "株洲星河动力无人机.txt" in cited_files(message)
    page.close()


@pytest.mark.llm
def test_the_local_model_streams_a_cited_summary_into_the_chat(browser, app_server):
    """Choosing the local model (llama.cpp, the packaged GGUF that `rag model pull` fetched):
    the answer streams in, then shows as a checked summary citing the roadmap article."""
    page = browser.new_page(viewport={"width": 1400, "height": 1000}, locale="zh-CN")
    page.set_default_timeout(60_000)
    page.goto(app_server.url)
    page.locator("#question textarea").wait_for()
    page.locator("#generator").get_by_text("本地大模型（llama.cpp）").click()
    page.locator("#question textarea").fill(CANONICAL)
    page.locator("#send").click()
    page.wait_for_selector("#chatbot .rag-cursor", timeout=ANSWER_TIMEOUT_MS)  # partial text, still coming
    message = wait_for_answer(page, 0)
    answer = message.locator(".rag-answer").first.inner_text()
    assert "2050" in answer and "碳中和" in answer and "[1]" in answer, answer
    assert "000_a73fe32ef8bc3bea.txt" in cited_files(message)
    page.close()


def test_the_filter_panel_restricts_the_answer_to_the_chosen_file(browser, app_server):
    """Open the filter panel, choose one issue: every passage shown comes from it."""
    page = browser.new_page(viewport={"width": 1400, "height": 1000}, locale="zh-CN")
    page.set_default_timeout(60_000)
    page.goto(app_server.url)
    page.locator("#question textarea").wait_for()
    page.locator("#filters").get_by_text("筛选").first.click()
    chosen = "004_a03633453cf80aeb.txt"
    box = page.locator("#source_filter input")
    box.click()
    box.fill(chosen)
    page.get_by_role("option", name=chosen).click()
    message = ask(page, CANONICAL)
    shown = message.locator(".rag-source .rag-file").all_text_contents()  # the collapsed ones too
    assert shown and set(shown) == {chosen}, shown
    page.close()


def test_a_cited_page_opens_with_the_passage_highlighted(browser, base_settings, tmp_path):
    """Over a generated newspaper PDF, behind a login: the canonical answer cites 第 1 版, and the
    source opens the page image with the passage tinted; without the login, or after the file
    changed, the page is refused."""
    import io
    import urllib.error
    import urllib.request

    import numpy as np
    from PIL import Image

    from rag.store import ingest
    from tests.corpus.test_pdf_layout import _bench
    from tests.ui.conftest import running_app

    make = _bench("make_test_pdfs")
    folder = tmp_path / "papers"
    pdf, _ = make.make_issue(PROJECT_ROOT / "data" / "corpus" / "000_a73fe32ef8bc3bea.txt", folder, columns=4)
    for truth in folder.glob("*.truth.json"):
        truth.unlink()
    settings = base_settings.replace(index_dir=tmp_path / "index")
    ingest([folder], settings, progress=None)

    with running_app(settings.index_dir, tmp_path / "app", RAG_AUTH="editor:s3cret") as app:
        page = browser.new_page(viewport={"width": 1400, "height": 1000}, locale="zh-CN")
        page.set_default_timeout(60_000)
        page.goto(app.url)
        page.get_by_test_id("textbox").fill("editor")
        page.get_by_test_id("password").fill("s3cret")
        page.get_by_role("button", name="登录").click()
        page.locator("#question textarea").wait_for()
        message = ask(page, CANONICAL)
        assert "2050" in message.inner_text()
        source = message.locator(".rag-sources .rag-source").first
        assert "第 1 版" in source.locator(".rag-source-head").inner_text()

        source.locator(".rag-pageview summary").click()
        image = source.locator(".rag-pageview img")
        page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=image.element_handle())
        assert image.bounding_box()["width"] > 500  # shown at the chat's width, not as a thumbnail
        url = image.evaluate("img => img.currentSrc")
        response = page.request.get(url)  # with the browser's login cookie
        assert response.status == 200 and response.headers["content-type"] == "image/png"
        drawn = np.asarray(Image.open(io.BytesIO(response.body())).convert("RGB")).astype(int)
        yellow = int(((drawn[..., 0] > 230) & (drawn[..., 0] - drawn[..., 2] > 60)).sum())
        assert yellow > 5_000  # the passage's lines are tinted
        page.close()

        with pytest.raises(urllib.error.HTTPError) as refused:  # no login cookie
            urllib.request.urlopen(url, timeout=10)
        assert refused.value.code == 401
        with pdf.open("ab") as f:  # the file changed after it was indexed
            f.write(b"\n% edited\n")
        context = browser.new_context()
        login = context.request.post(f"{app.url}/login", form={"username": "editor", "password": "s3cret"})
        assert login.ok
        changed = context.request.get(url)
        assert changed.status == 410 and "re-index" in changed.text()
        assert context.request.get(f"{app.url}/page/0123456789abcdef").status == 404
        context.close()
