"""Pure functions that turn answers and passages into the HTML the chat shows.

Everything that comes from a document or a user is escaped here; the only markup in
the output is the markup written in this module (plus ``<mark>`` around supporting
sentences). The output is one HTML block without blank lines, so the chatbot's
Markdown renderer passes it through untouched (and its sanitizer still runs on it).
"""

from __future__ import annotations

import html
import re
from typing import Iterable, Sequence
from urllib.parse import quote

from rag.records import Answer, Chunk, Citation, SearchResult
from rag.ui.page_route import PAGE_PATH
from rag.text.features import bigrams
from rag.text.sentences import sentence_spans

_MARKER = re.compile(r"\[(\d{1,3})\]")

# A sentence of the passage counts as "the supporting sentence" for a paraphrased
# answer sentence when at least this share of the answer sentence's character bigrams
# occurs in it.
FUZZY_MIN_OVERLAP = 0.5

CSS = """
.rag-answer { line-height: 1.75; }
.rag-cite { color: var(--color-accent); font-weight: 600; white-space: nowrap; }
.rag-note { color: var(--body-text-color-subdued); font-size: 0.9em; margin-top: 0.4em; }
.rag-error { color: var(--error-text-color, #b91c1c); }
.rag-sources { margin-top: 0.8em; border-top: 1px solid var(--border-color-primary); padding-top: 0.5em; }
.rag-sources-title { font-weight: 600; margin-bottom: 0.3em; }
.rag-source { margin: 0.45em 0 0.7em; padding: 0.45em 0.7em; border-left: 3px solid var(--color-accent);
  background: var(--background-fill-secondary); border-radius: 4px; }
.rag-source-head { font-size: 0.88em; color: var(--body-text-color-subdued); margin-bottom: 0.25em; }
.rag-source-head .rag-n { color: var(--color-accent); font-weight: 700; margin-right: 0.3em; }
.rag-source-head .rag-file { font-family: var(--font-mono); }
.rag-source-head .rag-title { color: var(--body-text-color); font-weight: 600; }
.rag-source-head .rag-missing { color: var(--body-text-color-subdued); font-weight: normal; font-style: italic; }
.rag-passage { font-size: 0.93em; line-height: 1.7; }
.rag-pageview { margin-top: 0.35em; font-size: 0.88em; }
.rag-pageview summary { cursor: pointer; color: var(--color-accent); }
.rag-pageview img { display: block; width: 100%; max-width: 100%; height: auto; max-height: none; margin-top: 0.4em; border: 1px solid var(--border-color-primary); }
.rag-passage mark { background: #fde68a; color: inherit; padding: 0 1px; border-radius: 2px; }
.rag-more { margin-top: 0.4em; }
.rag-more summary { cursor: pointer; color: var(--body-text-color-subdued); }
.rag-more .rag-source { border-left-color: var(--border-color-primary); }
"""


def escape(text: str | None) -> str:
    """HTML-escape ``text`` (quotes included); ``None`` becomes an empty string."""
    return html.escape(text or "", quote=True)


def _lines(escaped: str) -> str:
    """Keep line breaks inside one HTML block: no blank line may end the block early."""
    return "<br>".join(part for part in escaped.replace("\r", "").split("\n") if part.strip())


# --- highlighting --------------------------------------------------------------------


def _clean_sentence(sentence: str) -> str:
    return _MARKER.sub("", sentence or "").strip()


def support_spans(passage: str, support: Iterable[str]) -> list[tuple[int, int]]:
    """Character spans of ``passage`` that back the answer sentences in ``support``.

    A supporting sentence quoted verbatim (the extractive answerer quotes) is found
    exactly, ``[n]`` markers removed; a paraphrase (an LLM answer) marks the passage
    sentence sharing most of its character bigrams. Spans are sorted and merged.
    """
    spans: list[tuple[int, int]] = []
    sentences: list[tuple[int, int, set[str]]] | None = None
    for raw in support:
        sentence = _clean_sentence(raw)
        if len(sentence) < 2:
            continue
        start = passage.find(sentence)
        if start < 0:
            trimmed = sentence.rstrip("。！？!?；;，,")
            start = passage.find(trimmed) if len(trimmed) >= 2 else -1
            if start >= 0:
                sentence = trimmed
        if start >= 0:
            spans.append((start, start + len(sentence)))
            continue
        if sentences is None:
            sentences = [(start, end, bigrams(passage[start:end])) for start, end in sentence_spans(passage)]
        wanted = bigrams(sentence)
        if not wanted:
            continue
        best, best_share = None, 0.0
        for s_start, s_end, grams in sentences:
            share = len(wanted & grams) / len(wanted)
            if share > best_share:
                best, best_share = (s_start, s_end), share
        if best is not None and best_share >= FUZZY_MIN_OVERLAP:
            spans.append(best)  # sentence spans are whitespace-trimmed already
    return _merge(spans)


def _merge(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    merged: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def highlight(passage: str, support: Iterable[str] = ()) -> str:
    """The passage as escaped HTML, with its supporting sentences wrapped in ``<mark>``."""
    passage = passage or ""
    out: list[str] = []
    position = 0
    for start, end in support_spans(passage, support):
        out.append(escape(passage[position:start]))
        out.append(f"<mark>{escape(passage[start:end])}</mark>")
        position = end
    out.append(escape(passage[position:]))
    return _lines("".join(out))


# --- answer text ---------------------------------------------------------------------


def answer_html(text: str, *, streaming: bool = False) -> str:
    """The answer text, escaped, with ``[n]`` markers styled as citations.

    While it streams, a note says the text is not final: every sentence's citation is
    checked once the answer is complete, and the checked answer replaces the draft.
    """
    body = _MARKER.sub(lambda m: f'<span class="rag-cite">[{m.group(1)}]</span>', escape(text))
    if not streaming:
        return f'<div class="rag-answer">{_lines(body)}</div>'
    cursor = '<span class="rag-cursor">▌</span>'
    note = '<div class="rag-note rag-draft">生成中：完成后逐句核对引用，以核对后的回答为准</div>'
    return f'<div class="rag-answer">{_lines(body)}{cursor}{note}</div>'


def reasoning_html(reasoning: str) -> str:
    """A reasoning model's thinking, collapsed and marked as such, or "" when there is none."""
    if not reasoning.strip():
        return ""
    return (
        '<details class="rag-reasoning"><summary>模型的推理过程（不是回答，未核对出处）</summary>'
        f'<div class="rag-note">{_lines(escape(reasoning))}</div></details>'
    )


def question_html(text: str) -> str:
    """The user's question, escaped (no Markdown or HTML of theirs is interpreted)."""
    return f'<div class="rag-question">{_lines(escape(text))}</div>'


def pending_html() -> str:
    return '<div class="rag-answer rag-note">正在检索资料并生成回答…</div>'


def error_html(message: str) -> str:
    return f'<div class="rag-answer rag-error">⚠️ 出错了：{_lines(escape(message))}</div>'


# --- sources -------------------------------------------------------------------------


def format_score(score: float) -> str:
    score = float(score)
    return f"{score:.4f}" if abs(score) < 10 else f"{score:.2f}"


def source_html(result: SearchResult, *, n: int | None = None, support: Sequence[str] = ()) -> str:
    """One passage: a header (file · page · title · date · score) and its text with highlights."""
    chunk = result.chunk
    marker = f'<span class="rag-n">[{int(n)}]</span>' if n is not None else ""
    parts = [f'<span class="rag-file">{escape(chunk.source)}</span>']
    if chunk.page:  # a PDF or a scan: the page the passage is printed on
        parts.append(f'<span class="rag-page" title="page {int(chunk.page)}">第 {int(chunk.page)} 版</span>')
    if chunk.title:
        parts.append(f'<span class="rag-title">{escape(chunk.title)}</span>')
    else:
        parts.append('<span class="rag-title rag-missing">无标题</span>')
    if chunk.newspaper:
        parts.append(f'<span class="rag-paper">{escape(chunk.newspaper)}</span>')
    if chunk.date:
        parts.append(f'<span class="rag-date">{escape(chunk.date)}</span>')
    else:
        parts.append('<span class="rag-date rag-missing">日期不详</span>')
    detail = " · ".join(f"{escape(k)} {format_score(v)}" for k, v in sorted(result.scores.items()))
    title_attr = f' title="{detail}"' if detail else ""
    parts.append(f'<span class="rag-score"{title_attr}>得分 {format_score(result.score)}</span>')
    head = marker + " · ".join(parts)
    return (
        '<div class="rag-source">'
        f'<div class="rag-source-head">{head}</div>'
        f'<div class="rag-passage">{highlight(chunk.text, support)}</div>'
        f"{page_image_html(chunk)}"
        "</div>"
    )


def page_image_html(chunk: Chunk) -> str:
    """For a passage from a PDF or page image: its page, with the passage highlighted, behind a
    click (the image loads only when opened; served by :mod:`rag.ui.page_route`)."""
    if not chunk.page:
        return ""
    url = f"{PAGE_PATH}/{quote(chunk.chunk_id, safe='')}"
    page = int(chunk.page)
    return (
        f'<details class="rag-pageview"><summary>查看版面（第 {page} 版，段落已标出）</summary>'
        f'<a href="{url}" target="_blank" rel="noopener">'
        f'<img src="{url}" loading="lazy" alt="{escape(chunk.source)} 第 {page} 版，引用段落以黄色标出"></a>'
        "</details>"
    )


def uncited(answer: Answer) -> list[SearchResult]:
    """Retrieved passages no citation points to, in retrieval order."""
    cited = {c.result.chunk.chunk_id for c in answer.citations}
    return [r for r in answer.contexts if r.chunk.chunk_id not in cited]


def sources_html(citations: Sequence[Citation], others: Sequence[SearchResult]) -> str:
    """The sources panel: cited passages open, the other retrieved ones in a closed ``<details>``."""
    if not citations and not others:
        return ""
    out = ['<div class="rag-sources">']
    if citations:
        out.append(f'<div class="rag-sources-title">来源（{len(citations)}）</div>')
        for citation in sorted(citations, key=lambda c: c.n):
            out.append(source_html(citation.result, n=citation.n, support=citation.support))
    if others:
        label = "其他检索到但未引用的段落" if citations else "检索到的段落"
        out.append(f'<details class="rag-more"><summary>{label}（{len(others)}）</summary>')
        for result in others:
            out.append(source_html(result))
        out.append("</details>")
    out.append("</div>")
    return "".join(out)


def message_html(answer: Answer) -> str:
    """The whole assistant message for a finished answer."""
    parts = [reasoning_html(answer.reasoning), answer_html(answer.answer)]
    for notice in answer.notices:  # e.g. the question was cut to its maximum length
        parts.append(f'<div class="rag-note rag-notice">{escape(notice)}</div>')
    if answer.standalone_question and answer.standalone_question.strip() != answer.question.strip():
        parts.append(f'<div class="rag-note">按上下文理解为：{escape(answer.standalone_question)}</div>')
    for sentence in answer.unsupported:  # a sentence no passage supports is shown as such
        parts.append(f'<div class="rag-note rag-unsupported">未找到出处 / no supporting passage：{escape(sentence)}</div>')
    parts.append(sources_html(answer.citations, uncited(answer)))
    return "".join(parts)


def stats_markdown(stats: dict | None, error: str | None = None) -> str:
    """Index statistics as a short Markdown list (values escaped)."""
    if error:
        return f"**索引不可用**：{escape(error)}"
    if not stats:
        return "尚未建立索引。"
    seconds = stats.get("build_seconds")
    built = str(stats.get("built_at") or "").replace("T", " ").replace("+00:00", " UTC")
    rows = [
        ("文档", stats.get("documents")),
        ("段落", stats.get("chunks")),
        ("嵌入模型", stats.get("embedding_model")),
        ("向量维度", stats.get("dimension")),
        ("构建时间", built),
        ("构建耗时", f"{seconds} 秒" if seconds not in (None, "") else None),
    ]
    lines = []
    for name, value in rows:
        if value is None or value == "":
            continue
        # the model id as code: no Markdown auto-linking of "name@version"
        shown = f"`{str(value).replace('`', '')}`" if name == "嵌入模型" else escape(str(value))
        lines.append(f"- **{name}**：{shown}")
    return "\n".join(lines)
