"""The Gradio Blocks: a chat tab (answers with sources, settings, index stats) and a
knowledge-base tab (upload, list, delete, re-index).

Handlers are thin: they translate between components and ``rag.ui.chat`` /
``rag.ui.knowledge_base`` / ``rag.ui.feedback`` / ``rag.ui.render``. Named API
endpoints (for ``gradio_client``): ``/ask``, ``/upload``, ``/delete_document``,
``/reindex``, ``/documents``, ``/stats``.
"""

import dataclasses
import logging
from pathlib import Path
from typing import Any

import gradio as gr

from rag.config import Settings
from rag.errors import RagError
from rag.records import Answer
from rag.store.filters import SearchFilter
from rag.ui import chat, feedback, knowledge_base, render

log = logging.getLogger("rag.ui")

TITLE = "中文新闻问答助手"
CANONICAL_QUESTION = "太钢的碳中和目标是什么"
EXAMPLES = [
    CANONICAL_QUESTION,
    "太钢“13460”绿色低碳发展模式的具体内容是什么",
    "中铝集团2024年在污染减排方面做了哪些工作",
    "李锋帆在基层企业从事什么工作",
]
DOC_HEADERS = ["文件", "标题", "日期", "段落数", "来源"]

# Answers computed at once per process (chat and /ask share this limit; the rest wait in
# Gradio's queue, first come first served). The CPU-heavy part, encoding the question,
# is batched across the running answers (rag/embeddings/batching.py), so letting eight
# run together means eight questions share one model pass; measured with
# bench/bench_concurrency.py on 2 cores: 8-user p95 0.58 s with a limit of 4, 0.35–0.44 s with 8.
ANSWER_CONCURRENCY = 8

GENERATOR_CHOICES = [("抽取式（本地，无需大模型）", "extractive"), ("本地大模型（llama.cpp）", "local"), ("OpenAI 兼容接口", "openai")]
MODE_CHOICES = [("混合（向量 + BM25）", "hybrid"), ("向量检索", "dense"), ("BM25 关键词", "bm25")]


# --- chat ----------------------------------------------------------------------------


def chat_messages(turns: list[dict[str, Any]]) -> list[dict[str, str]]:
    """The chatbot's messages, rebuilt from the session's turns (user, assistant, …)."""
    messages = []
    for turn in turns:
        messages.append({"role": "user", "content": render.question_html(turn["question"])})
        messages.append({"role": "assistant", "content": turn.get("html") or render.pending_html()})
    return messages


def history_of(turns: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """(question, answer) pairs of the answered turns: what follow-up rewriting reads."""
    return [(t["question"], t["answer"]) for t in turns if t.get("answer")]


def make_respond(settings: Settings):
    def respond(message, turns, generator, base_url, model, api_key, k, mode, date_from, date_to, papers, sources):
        turns = list(turns or [])
        options = chat.Options(generator, base_url, model, api_key, int(k), mode)
        question = (message or "").strip()
        if not question:
            gr.Warning("请输入问题。")
            yield chat_messages(turns), turns, message
            return
        history = history_of(turns)
        turn = chat.new_turn(question, history, options)
        turns.append(turn)
        yield chat_messages(turns), turns, ""
        text = ""
        final: Answer | None = None
        try:
            question = chat.clean_question(question)
            where = SearchFilter.build(date_from, date_to, papers, sources)  # InputError on a bad date
            for item in chat.stream_answer(settings, question, history, options, where):
                if isinstance(item, Answer):
                    final = item
                elif item:
                    text += item
                    turn["html"] = render.answer_html(text, streaming=True)
                    yield chat_messages(turns), turns, ""
            if final is None:
                raise RagError("回答生成中断，请重试。")
            turn.update(chat.finish_turn(turn, final))
            turn["html"] = render.message_html(final)
        except RagError as exc:
            turn["html"] = render.error_html(str(exc))
        except Exception as exc:  # keep the session alive; the traceback goes to the server log
            log.exception("answering failed")
            turn["html"] = render.error_html(f"内部错误：{type(exc).__name__}: {exc}")
        yield chat_messages(turns), turns, ""

    return respond


def make_vote(settings: Settings):
    def vote(turns, data: gr.LikeData):
        index = data.index[0] if isinstance(data.index, (list, tuple)) else data.index
        turns = turns or []
        number = int(index) // 2
        if not 0 <= number < len(turns) or not turns[number].get("answer_json"):
            gr.Warning("这条消息不是可评价的回答。")
            return
        choice = feedback.vote_from_liked(data.liked)
        try:
            feedback.append_feedback(settings.feedback_path, feedback.feedback_record(turns[number], choice))
        except RagError as exc:
            gr.Warning(str(exc))
            return
        gr.Info({"up": "感谢点赞 👍，已记录。", "down": "已记录 👎，我们会改进。", "retracted": "已撤销评价。"}[choice])

    return vote


def make_ask(settings: Settings):
    def ask(question: str, history: list[list[str]] | None = None, k: int | None = None, mode: str | None = None,
            date_from: str | None = None, date_to: str | None = None, paper: str | None = None,
            source: str | None = None) -> dict:
        """回答一个问题，返回答案、引用与检索到的段落（与 `rag ask --json` 相同的结构）。

        Args:
            question: 问题（中文）
            history: 之前的对话 [[问题, 回答], …]，用于改写追问
            k: 检索段落数（默认 5）
            mode: 检索方式 hybrid | dense | bm25
            date_from: 只检索该日期（YYYY-MM-DD）及以后的文章
            date_to: 只检索该日期（YYYY-MM-DD）及以前的文章
            paper: 只检索这些报纸的文章（逗号分隔）
            source: 只检索这些源文件（逗号分隔）
        """
        defaults = chat.Options.from_settings(settings)
        options = dataclasses.replace(defaults, k=int(k) if k else defaults.k, mode=mode or defaults.mode)
        try:
            where = SearchFilter.build(date_from or settings.date_from, date_to or settings.date_to,
                                       paper or settings.paper, source or settings.source)
            result = chat.answer(settings, chat.clean_question(question), chat.clean_history(history), options, where)
        except RagError as exc:
            raise gr.Error(str(exc)) from None
        return {**result.to_json(), "standalone_question": result.standalone_question}

    return ask


# --- settings panel and knowledge base ---------------------------------------------


def stats_text(settings: Settings) -> str:
    from rag.retrieval import load_searcher

    try:
        searcher = load_searcher(settings)
        searcher.refresh()  # another app server may have changed a shared index
        return render.stats_markdown(searcher.store.stats())
    except RagError as exc:
        return render.stats_markdown(None, str(exc))


def kb_views(settings: Settings, status: str | None = None):
    """Fresh values for (status, documents table, delete dropdown, stats, the filter's papers and files)."""
    try:
        rows = knowledge_base.document_rows(settings)
    except RagError as exc:
        rows, status = [], f"❌ {exc}"
    choices = [row[0] for row in rows]
    try:
        papers = knowledge_base.newspapers(settings)
    except RagError:
        papers = []
    return (
        gr.update() if status is None else status,
        rows,
        gr.update(choices=choices, value=None),
        stats_text(settings),
        gr.update(choices=papers),  # the filter panel's newspapers
        gr.update(choices=choices),  # and files
    )


def _progress_fn(progress: gr.Progress):
    return lambda fraction, desc: progress(fraction, desc=desc)


READ_ONLY = "🔒 知识库为只读：本服务对外监听且未设置 RAG_AUTH，上传、删除和重新索引已关闭。"


def make_kb_handlers(settings: Settings, writable: bool = True):
    def upload(files, progress=gr.Progress()):
        if not writable:
            return (*kb_views(settings, READ_ONLY), None)
        paths = [Path(f if isinstance(f, str) else getattr(f, "name", f)) for f in (files or [])]
        if not paths:
            return (*kb_views(settings, "请先选择要上传的文件。"), None)
        try:
            result = knowledge_base.add_documents(paths, settings, _progress_fn(progress))
            message = result.message()
        except RagError as exc:
            message = f"❌ {exc}"
        return (*kb_views(settings, message), None)

    def delete(source):
        if not writable:
            return kb_views(settings, READ_ONLY)
        try:
            result = knowledge_base.delete_document(source, settings)
            message = f"🗑️ 已删除：{source}" + ("（并删除了上传的文件）" if result.removed_file else "")
            if not result.removed_file:
                message += "\n\n提示：该文档来自语料库目录，重新索引时会再次加入。"
        except RagError as exc:
            message = f"❌ {exc}"
        return kb_views(settings, message)

    def rebuild(progress=gr.Progress()):
        if not writable:
            return kb_views(settings, READ_ONLY)
        try:
            result = knowledge_base.reindex(settings, _progress_fn(progress))
            message = "🔄 已重新索引。\n\n" + result.message()
        except RagError as exc:
            message = f"❌ {exc}"
        return kb_views(settings, message)

    def documents():
        return kb_views(settings)

    return upload, delete, rebuild, documents


# --- the page ------------------------------------------------------------------------


def build_app(settings: Settings, knowledge_base_writable: bool = True) -> gr.Blocks:
    """The whole UI for one ``Settings``; models load lazily (on page load / first question).

    Without ``knowledge_base_writable`` the knowledge-base tab only lists the documents:
    its upload, delete and re-index controls are hidden and their endpoints refuse.
    """
    respond = make_respond(settings)
    upload, delete, rebuild, documents = make_kb_handlers(settings, knowledge_base_writable)
    limit_mb = settings.upload_max_bytes / 1024 / 1024

    with gr.Blocks(title=TITLE, analytics_enabled=False) as demo:
        turns = gr.State([])
        gr.Markdown(f"# 📰 {TITLE}\n基于报纸语料的检索问答：回答中的 **[n]** 标注出处，每条回答下方列出引用的原文段落。")
        with gr.Tabs():
            with gr.Tab("💬 问答", id="chat"):
                with gr.Row(equal_height=False):
                    with gr.Column(scale=3):
                        chatbot = gr.Chatbot(
                            label="对话",
                            show_label=False,
                            elem_id="chatbot",
                            height=620,
                            latex_delimiters=[],
                            buttons=["copy"],
                            placeholder="**向我提问报纸里的内容**<br>回答会引用原文，点击下方示例试试。",
                        )
                        with gr.Row():
                            question = gr.Textbox(
                                show_label=False,
                                placeholder="输入问题，按回车发送；可以继续追问",
                                elem_id="question",
                                scale=6,
                                max_lines=4,
                            )
                            send = gr.Button("发送", variant="primary", elem_id="send", scale=1, min_width=80)
                            clear = gr.Button("清空对话", elem_id="clear", scale=1, min_width=80)
                        examples = gr.Dataset(
                            components=[question],
                            samples=[[q] for q in EXAMPLES],
                            label="示例问题（点击即问）",
                            elem_id="examples",
                        )
                    with gr.Column(scale=1, min_width=280):
                        with gr.Accordion("⚙️ 设置", open=True):
                            generator = gr.Radio(GENERATOR_CHOICES, value=settings.generator, label="生成方式", elem_id="generator")
                            with gr.Group(visible=settings.generator == "openai") as llm_group:
                                base_url = gr.Textbox(label="接口地址（Base URL）", value=settings.llm_base_url or "", placeholder="https://api.example.com/v1")
                                model = gr.Textbox(label="模型名称", value=settings.llm_model or "", placeholder="例如 qwen2.5-7b-instruct")
                                api_key = gr.Textbox(label="API Key", type="password", placeholder="sk-…（仅用于本次会话）")
                            top_k = gr.Slider(1, 10, value=settings.top_k, step=1, label="检索段落数（top-k）", elem_id="top_k")
                            mode = gr.Radio(MODE_CHOICES, value=settings.retrieval_mode, label="检索方式", elem_id="mode")
                        with gr.Accordion("🔎 筛选（日期、报纸、文件）", open=False, elem_id="filters"):
                            date_from = gr.Textbox(label="起始日期", value=settings.date_from or "", placeholder="YYYY-MM-DD", elem_id="date_from")
                            date_to = gr.Textbox(label="截止日期", value=settings.date_to or "", placeholder="YYYY-MM-DD", elem_id="date_to")
                            paper_filter = gr.Dropdown([], multiselect=True, label="报纸", elem_id="paper_filter")
                            source_filter = gr.Dropdown([], multiselect=True, label="文件", elem_id="source_filter")
                        with gr.Accordion("📊 索引信息", open=True):
                            stats = gr.Markdown("加载中…", elem_id="stats")
                            refresh = gr.Button("刷新", size="sm")
            with gr.Tab("📚 知识库", id="kb"):
                writable = knowledge_base_writable
                gr.Markdown(
                    f"上传 **.txt / .md / .jsonl** 文本文件（UTF-8 或 GBK，单个不超过 {limit_mb:.0f} MB），"
                    "保存后自动切分、嵌入并加入索引，马上就能提问。" if writable else READ_ONLY
                )
                files = gr.File(
                    label="选择文件",
                    file_count="multiple",
                    file_types=list(knowledge_base.ALLOWED_SUFFIXES),
                    type="filepath",
                    elem_id="upload_files",
                    visible=writable,
                )
                upload_btn = gr.Button("上传并加入索引", variant="primary", elem_id="upload_button", visible=writable)
                status = gr.Markdown(elem_id="kb_status")
                docs = gr.Dataframe(headers=DOC_HEADERS, interactive=False, label="已索引的文档", elem_id="documents", wrap=True)
                with gr.Row():
                    doc_choice = gr.Dropdown(choices=[], label="选择文档", elem_id="doc_choice", scale=3, visible=writable)
                    delete_btn = gr.Button("删除所选文档", variant="stop", elem_id="delete_button", scale=1, visible=writable)
                    reindex_btn = gr.Button("重新索引全部", elem_id="reindex_button", scale=1, visible=writable)

        chat_inputs = [question, turns, generator, base_url, model, api_key, top_k, mode, date_from, date_to,
                       paper_filter, source_filter]
        chat_outputs = [chatbot, turns, question]
        answer_events = dict(
            concurrency_limit=ANSWER_CONCURRENCY, concurrency_id="answer", show_progress="minimal", trigger_mode="once"
        )
        gr.on(
            [question.submit, send.click], respond, chat_inputs, chat_outputs, api_visibility="private", **answer_events
        )
        examples.click(lambda sample: sample[0] if isinstance(sample, list) else sample, examples, question,
                       api_visibility="private", queue=False).then(
            respond, chat_inputs, chat_outputs, api_visibility="private", **answer_events
        )
        clear.click(lambda: ([], [], ""), None, [chatbot, turns, question], api_visibility="private", queue=False)
        chatbot.like(make_vote(settings), [turns], None, api_visibility="private")
        generator.change(lambda g: gr.update(visible=g == "openai"), generator, llm_group, api_visibility="private", queue=False)

        kb_outputs = [status, docs, doc_choice, stats, paper_filter, source_filter]
        kb_events = dict(concurrency_limit=1, concurrency_id="kb")
        upload_btn.click(upload, files, [*kb_outputs, files], api_name="upload", **kb_events)
        delete_btn.click(delete, doc_choice, kb_outputs, api_name="delete_document", **kb_events)
        reindex_btn.click(rebuild, None, kb_outputs, api_name="reindex", **kb_events)
        refresh.click(lambda: stats_text(settings), None, stats, api_name="stats")
        demo.load(documents, None, kb_outputs, api_name="documents")

        gr.api(make_ask(settings), api_name="ask", concurrency_limit=ANSWER_CONCURRENCY, concurrency_id="answer")
    return demo
