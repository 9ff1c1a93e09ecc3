"""Write an evaluation run to disk: report.json, report.md, a chart, per-question files.

```
<out>/
  report.json         all aggregate metrics (schema: docs/report.md, "report.json")
  report.md           the same as Markdown tables, plus the failures
  eval_by_type.png    hit@k, key-point recalls and refusal accuracy per question type
  questions.jsonl     one row per question: id, type, question, hit_rank,
                      missing_key_points, answer, refused first; passages last
  questions.csv       the readable columns of questions.jsonl (UTF-8 with BOM)
```

The chart is drawn with matplotlib's Agg canvas (no display needed). Labels are
bilingual when a CJK font is installed (``fc-list :lang=zh``), English otherwise.
"""

from __future__ import annotations

import csv
import json
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rag.errors import InputError

REPORT_JSON = "report.json"
REPORT_MD = "report.md"
CHART_PNG = "eval_by_type.png"
ROWS_JSONL = "questions.jsonl"
ROWS_CSV = "questions.csv"

TYPE_LABELS_ZH = {
    "factoid": "事实",
    "numeric": "数值",
    "list": "列举",
    "summary": "概括",
    "multi_article": "跨文章",
    "unanswerable": "无法回答",
}

CSV_COLUMNS = (
    "id",
    "type",
    "file",
    "question",
    "hit_rank",
    "context_missing_key_points",
    "missing_key_points",
    "refused",
    "answer",
    "reference_answer",
    "key_point_recall",
    "citation_valid",
    "retrieval_ms",
    "generation_ms",
)


# --- formatting -------------------------------------------------------------------


def fmt(value: Any, digits: int = 3) -> str:
    """A metric for a table: ``—`` for not applicable, fixed decimals for floats."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def md_table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> list[str]:
    """Markdown table lines; cells are escaped for pipes and newlines."""

    def cell(x: Any) -> str:
        return fmt(x).replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(cell(x) for x in row) + " |" for row in rows]
    return lines


def short(text: str | None, limit: int = 80) -> str:
    text = (text or "").replace("\n", " ")
    return text if len(text) <= limit else text[: limit - 1] + "…"


# --- report.md --------------------------------------------------------------------


def interval(spans: dict[str, Any], part: str, name: str) -> str:
    """``[low–high]`` of a rate's bootstrap interval, or "—" where none was drawn."""
    low_high = (spans.get(part) or {}).get(name)
    return f"[{fmt(low_high[0])}–{fmt(low_high[1])}]" if low_high else "—"


def group_table(groups: dict[str, dict[str, Any]], k: int, label: str) -> list[str]:
    """One line per group (question type or file) with the main metrics."""
    header = [label, "n", "hit@1", f"hit@{k}", "MRR", "ctx KP recall", "KP recall", "all KP", "refusal acc.", "false refusal"]
    rows = []
    for name, s in groups.items():
        r, a = s["retrieval"], s["answer"] or {}
        rows.append([f"`{name}`", s["counts"]["questions"], r["hit@1"], r["hit@k"], r["mrr"], r["context_key_point_recall"],
                     a.get("key_point_recall"), a.get("all_key_points_rate"), a.get("refusal_accuracy"), a.get("false_refusal_rate")])
    return md_table(header, rows)


def baselines_section(baselines: dict[str, Any], k: int) -> list[str]:
    if baselines.get("skipped"):
        return [f"Not run ({baselines.get('reason')})."]
    lines = md_table(
        ["recipe", "chunks", "hit@1", f"hit@{k}", "MRR", "ctx KP recall", "context chars", "what it is"],
        [[f"`{name}`", b.get("chunks"), b["hit@1"], b["hit@k"], b["mrr"], b["context_key_point_recall"],
          None if b.get("context_chars") is None else round(b["context_chars"]), b["description"]] for name, b in baselines.items()],
    )
    by_type = [b["hit@k_by_type"] for b in baselines.values()]
    types = [t for t in by_type[0] if any(values.get(t) is not None for values in by_type)]
    lines += ["", f"hit@{k} by question type:", ""]
    lines += md_table(["recipe", *types], [[f"`{name}`", *(b["hit@k_by_type"].get(t) for t in types)] for name, b in baselines.items()])
    return lines


def judge_section(judge: dict[str, Any]) -> list[str]:
    if judge.get("skipped"):
        return [f"Skipped: {judge.get('reason')}."]
    c = judge["counts"]
    return md_table(
        ["metric", "value", "over"],
        [["faithfulness (claims supported by the passages)", judge["faithfulness"], f"{c['faithfulness']} answers"],
         ["answer correctness (claim F1 vs. reference)", judge["answer_correctness"], f"{c['answer_correctness']} answerable questions"],
         ["judge model", judge["model"], f"{c['errors']} malformed replies"]],
    )


def failures(rows: Sequence[dict[str, Any]], limit: int | None = None) -> list[dict[str, Any]]:
    """Rows that missed: no evidence in the top k, missing key points, or a wrong refusal."""
    out = []
    for row in rows:
        a = row.get("answer_metrics") or {}
        missed_retrieval = row["retrieval"]["hit@k"] == 0.0
        missed_answer = bool(a.get("missing_key_points")) or a.get("refusal_correct") == 0.0 or a.get("false_refusal") == 1.0
        if missed_retrieval or missed_answer:
            out.append(row)
    return out[:limit]


def fusion_note(cfg: dict[str, Any]) -> str:
    if cfg.get("mode") != "hybrid" or not cfg.get("fusion"):
        return ""
    if cfg["fusion"] == "rrf":
        return " (reciprocal-rank fusion)"
    rerank = f", best-sentence re-ranking ×{cfg['sentence_weight']}" if cfg.get("sentence_weight") else ""
    return f" ({cfg['fusion']} fusion, dense weight {cfg.get('dense_weight')}{rerank})"


def render_markdown(report: dict[str, Any], rows: Sequence[dict[str, Any]], *, command: str | None = None, chart: str | None = CHART_PNG) -> str:
    """report.md: headline tables, breakdowns, baselines, judge, failures, definitions."""
    cfg, counts, k = report["config"], report["counts"], report["config"]["k"]
    r, a, lat = report["retrieval"], report["answer"], report["latency_ms"]
    index = cfg.get("index") or {}
    lines = ["# Evaluation report / 评测报告", ""]
    if command:
        lines += [f"Produced by `{command}`.", ""]
    lines += [
        f"- questions: `{cfg['questions']}`: {counts['questions']} ({counts['answerable']} answerable, {counts['unanswerable']} unanswerable)",
        f"- retrieval: top k = {k}, mode `{cfg['mode']}`{fusion_note(cfg)}; answers: {'generator `' + str(cfg.get('generator') or 'default') + '`' if cfg['answers'] else 'not generated'}",
    ]
    if index:
        lines.append(f"- index: {index.get('chunks')} chunks of {index.get('chunk_size')} chars (overlap {index.get('chunk_overlap')}), "
                     f"{index.get('documents')} files, model `{index.get('embedding_model')}`")
    spans = report.get("intervals_95") or {}
    lines += ["", "## Retrieval / 检索", "", "Intervals: bootstrap 95 % over the questions (a change inside one is not progress).", ""]
    lines += md_table(["metric", "value", "95 % interval", "over"], [
        ["hit@1", r["hit@1"], interval(spans, "retrieval", "hit@1"), f"{counts['with_evidence']} questions with evidence"],
        [f"hit@{k}", r["hit@k"], interval(spans, "retrieval", "hit@k"), f"{counts['with_evidence']} questions with evidence"],
        ["MRR", r["mrr"], interval(spans, "retrieval", "mrr"), f"{counts['with_evidence']} questions with evidence"],
        ["context key-point recall", r["context_key_point_recall"], interval(spans, "retrieval", "context_key_point_recall"),
         f"{counts['with_key_points']} questions with key points"],
    ])
    lines += ["", "## Answers / 回答", ""]
    if a.get("skipped"):
        lines.append(f"Skipped: {a['reason']}.")
    else:
        lines += md_table(["metric", "value", "95 % interval", "over"], [
            [name, a[key], interval(spans, "answer", key), over] for name, key, over in (
                ("key-point recall", "key_point_recall", f"{counts['with_key_points']} questions with key points"),
                ("answers with all key points", "all_key_points_rate", f"{counts['with_key_points']} questions with key points"),
                ("refusal accuracy", "refusal_accuracy", f"{counts['unanswerable']} unanswerable"),
                ("false-refusal rate", "false_refusal_rate", f"{counts['answerable']} answerable"),
                ("citation validity", "citation_validity", f"{counts['answers_with_citations']} answers with [n] markers"),
                ("citation rate", "citation_rate", f"{counts['answered'] - counts['refused']} answers that are not refusals"),
                ("citation support", "citation_support", f"{counts['cited_sentences']} cited sentences"),
            )
        ])
    lines += ["", "## LLM judge / 大模型评判", ""] + judge_section(report["judge"])
    lines += ["", "## Latency / 延迟 (ms)", "", f"Wall-clock per question on {cfg.get('machine') or 'the machine that ran the evaluation'}.", ""]
    lines += md_table(["stage", "p50", "p95", "n"], [[name, fmt(v["p50"], 1), fmt(v["p95"], 1), v["n"]] for name, v in lat.items()])
    lines += ["", "## By question type / 按问题类型", ""] + group_table(report["by_type"], k, "type")
    if chart:
        lines += ["", f"![metrics by question type]({chart})"]
    lines += ["", "## By file / 按文件", "", "Questions grouped by their main corpus file (`(none)`: multi-article or no main file).", ""]
    lines += group_table(report["by_file"], k, "file")
    lines += ["", "## Baselines / 基线对比 (`--compare`)", ""] + baselines_section(report["baselines"], k)
    missed, limit = failures(rows, limit=None), 40
    shown = f"the first {limit} of {len(missed)}" if len(missed) > limit else f"{len(missed)} questions"
    lines += ["", "## Failures / 失败案例", "",
              f"Questions with no evidence in the top {k}, missing key points or a wrong refusal "
              f"({shown}; every row is in `{ROWS_JSONL}` / `{ROWS_CSV}`).", ""]
    missed = missed[:limit]
    lines += md_table(["id", "type", "question", "hit rank", "missing key points", "refused", "answer"], [
        [f"`{row['id']}`", row["type"], short(row["question"], 40), row["hit_rank"],
         "; ".join(row["missing_key_points"] or []) or "—", row["refused"], short(row["answer"], 70)]
        for row in missed
    ])
    lines += ["", "## Definitions / 指标定义", "", DEFINITIONS]
    return "\n".join(lines) + "\n"


DEFINITIONS = """\
All matching is containment after NFKC normalisation with every whitespace character removed.

- **hit@1 / hit@k**: a question with evidence is a hit at rank r when the retrieved chunk at rank r contains *any* of its evidence quotes; hit@n = first hit rank ≤ n.
- **MRR**: mean of 1 / (first hit rank), 0 when no chunk of the top k contains a quote.
- **context key-point recall**: fraction of key points contained in at least one passage given to the generator.
- **key-point recall**: fraction of key points contained in the answer text; **all key points**: answers containing every one.
- **refusal accuracy**: unanswerable questions answered with `refused = true`; **false-refusal rate**: answerable questions refused.
- **citation validity**: answers with `[n]` markers in which every marker resolves to a listed citation or context.
- **citation rate**: answers (not refusals) with at least one marker.
- **citation support**: answer sentences carrying markers whose cited passage contains the sentence (markers and final punctuation removed); supported / cited sentences over all answers.
- **latency**: p50/p95 with linear interpolation, from `Answer.timings_ms` (retrieval-only runs time the search).
- **baselines**: retrieval metrics of each recipe on the same questions; the retrieved chunks are the contexts. `context chars` is the mean length of the top k chunks: longer chunks contain quotes more easily.
- **LLM judge** (only with an LLM endpoint): *faithfulness* = answer claims supported by the passages / answer claims; *answer correctness* = F1 of claim precision (answer claims supported by the reference answer) and claim recall (reference claims supported by the answer), 0 for a refused answerable question.

A metric is `—` (`null` in JSON) when no question qualifies for it.

## Output files / 输出文件

`rag eval` writes to `--out` (default `out/eval/`): `report.json`, this `report.md`, `eval_by_type.png`, and one row per question in `questions.jsonl` / `questions.csv` (id, type, question, hit rank, missing key points, answer, refused first). `rag eval --json` prints `report.json` on stdout. Its keys:

```
retrieval   {hit@1, hit@k, mrr, context_key_point_recall}
answer      {key_point_recall, all_key_points_rate, refusal_accuracy, false_refusal_rate,
             citation_validity, citation_rate, citation_support}  or {skipped, reason}
latency_ms  {retrieval|generation|total: {p50, p95, n}}
counts      {questions, answerable, unanswerable, with_evidence, with_key_points, answered,
             refused, answers_with_citations, cited_sentences}
by_type     {<type>: {retrieval, answer, counts}}     by_file {<file>|(none): {retrieval, answer, counts}}
baselines   {bm25|dense|hybrid|langchain_naive: {hit@1, hit@k, mrr, context_key_point_recall,
             context_chars, chunks, description, hit@k_by_type}}  or {skipped, reason}
judge       {faithfulness, answer_correctness, counts, model, ...}  or {skipped, reason}
config      {questions, k, mode, fusion, dense_weight, sentence_weight, generator, answers, index, machine}
```

`bench/score_independent.py --questions FILE --rows out/eval/questions.jsonl --report out/eval/report.json` recomputes the headline figures with its own code and reports any difference.
"""


# --- chart ------------------------------------------------------------------------


def find_cjk_font() -> str | None:
    """Path of an installed font covering Chinese (via ``fc-list :lang=zh``), or ``None``."""
    try:
        listing = subprocess.run(["fc-list", ":lang=zh", "file"], capture_output=True, text=True, timeout=20).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    paths = [line.split(":", 1)[0].strip() for line in listing.splitlines()]
    paths = [p for p in paths if p and Path(p).is_file()]
    # prefer a regular-weight sans face: "…Sans…Regular…" before bold or serif faces
    paths.sort(key=lambda p: ("Regular" not in Path(p).name, "Sans" not in Path(p).name, "Bold" in Path(p).name, p))
    return paths[0] if paths else None


def chart_series(by_type: dict[str, dict[str, Any]]) -> tuple[list[str], dict[str, list[float | None]]]:
    """The chart's groups (types) and one value list per metric."""
    types = list(by_type)
    series: dict[str, list[float | None]] = {"hit@k": [], "context key-point recall": [], "answer key-point recall": [], "refusal accuracy": []}
    for t in types:
        s = by_type[t]
        a = s["answer"] or {}
        series["hit@k"].append(s["retrieval"]["hit@k"])
        series["context key-point recall"].append(s["retrieval"]["context_key_point_recall"])
        series["answer key-point recall"].append(a.get("key_point_recall"))
        series["refusal accuracy"].append(a.get("refusal_accuracy"))
    return types, {name: values for name, values in series.items() if any(v is not None for v in values)}


def write_chart(by_type: dict[str, dict[str, Any]], path: Path, *, k: int, font_path: str | None = None) -> bool:
    """Grouped bars per question type; Chinese labels only when ``font_path`` is given."""
    from matplotlib import font_manager
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    types, series = chart_series(by_type)
    font = None
    if font_path:
        font_manager.fontManager.addfont(font_path)
        font = font_manager.FontProperties(fname=font_path)
    counts = [by_type[t]["counts"]["questions"] for t in types]
    labels = [f"{TYPE_LABELS_ZH.get(t, t)}\n{t}\n(n={n})" if font else f"{t}\n(n={n})" for t, n in zip(types, counts)]
    names = {"hit@k": f"hit@{k}"}
    zh = {"hit@k": f"检索命中 hit@{k}", "context key-point recall": "上下文要点召回 context key-point recall",
          "answer key-point recall": "回答要点召回 answer key-point recall", "refusal accuracy": "拒答正确率 refusal accuracy"}

    fig = Figure(figsize=(10, 4.8), dpi=120)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    width = 0.8 / max(len(series), 1)
    for i, (name, values) in enumerate(series.items()):
        xs = [j + (i - (len(series) - 1) / 2) * width for j in range(len(types))]
        heights = [v if v is not None else 0.0 for v in values]
        bars = ax.bar(xs, heights, width, label=zh[name] if font else names.get(name, name))
        for bar, v in zip(bars, values):
            if v is not None:
                ax.annotate(f"{v:.2f}", (bar.get_x() + bar.get_width() / 2, v), ha="center", va="bottom", fontsize=7, xytext=(0, 1), textcoords="offset points")
    ax.set_xticks(range(len(types)))
    ax.set_xticklabels(labels, fontproperties=font, fontsize=8)
    ax.set_ylim(0, 1.12)
    ax.set_ylabel("score")
    title = f"按问题类型的评测结果 / Evaluation by question type (k={k})" if font else f"Evaluation by question type (k={k})"
    ax.set_title(title, fontproperties=font)
    ax.legend(prop=font, fontsize=8, loc="upper center", ncol=2 if font else len(series), bbox_to_anchor=(0.5, -0.22), frameon=False)
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path)
    return font is not None


# --- per-question files -----------------------------------------------------------


def csv_record(row: dict[str, Any]) -> dict[str, Any]:
    """The readable columns of one row (lists joined with `` | ``)."""
    a = row.get("answer_metrics") or {}
    t = row.get("timings_ms") or {}

    def joined(items):
        return None if items is None else " | ".join(items)

    return {
        "id": row["id"], "type": row["type"], "file": row["file"], "question": row["question"], "hit_rank": row["hit_rank"],
        "context_missing_key_points": joined(row["context_missing_key_points"]), "missing_key_points": joined(row["missing_key_points"]),
        "refused": row["refused"], "answer": row["answer"], "reference_answer": row["reference_answer"],
        "key_point_recall": a.get("key_point_recall"), "citation_valid": a.get("citation_valid"),
        "retrieval_ms": t.get("retrieval"), "generation_ms": t.get("generation"),
    }


def write_rows(rows: Sequence[dict[str, Any]], out_dir: Path) -> None:
    with (out_dir / ROWS_JSONL).open("w", encoding="utf-8") as handle:
        for row in rows:
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")
    with (out_dir / ROWS_CSV).open("w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=CSV_COLUMNS)
        writer.writeheader()
        for row in rows:
            writer.writerow({k: "" if v is None else v for k, v in csv_record(row).items()})


def write_report(report: dict[str, Any], rows: Sequence[dict[str, Any]], out_dir: Path, *, command: str | None = None) -> dict[str, Path]:
    """Write every output file into ``out_dir`` (created); return their paths by name."""
    out_dir = Path(out_dir)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"Cannot create the output directory {out_dir}: {exc.strerror}") from None
    paths = {name: out_dir / name for name in (REPORT_JSON, REPORT_MD, CHART_PNG, ROWS_JSONL, ROWS_CSV)}
    paths[REPORT_JSON].write_text(json.dumps(report, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    write_chart(report["by_type"], paths[CHART_PNG], k=report["config"]["k"], font_path=find_cjk_font())
    paths[REPORT_MD].write_text(render_markdown(report, rows, command=command), encoding="utf-8")
    write_rows(rows, out_dir)
    return paths
