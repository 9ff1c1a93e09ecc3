"""The local model in our chain, side by side with the naive recipe, on the same questions in one run.

    python bench/bench_llm_recipe.py --questions data/eval/blind_issues_4.jsonl --limit 40

The naive recipe is what most first attempts look like: the top 5 hybrid passages, one
Chinese cite-or-refuse prompt (below), greedy decoding, the reply shown as it comes. Ours
is ``rag ask --llm local``: the same model and passages behind the evidence check, the
passages fitted to the context, the reply cleaned (reasoning, notation, recited
instructions) and every citation checked against its passage.

Both use the one loaded model (``RAG_LLM_GGUF``, default the packaged 1.5B model) with
``RAG_LLM_THREADS`` threads. Printed per recipe, with 95 % bootstrap intervals where the
evaluation has them: key-point recall, unanswerable refused, false refusals, the share of
answers that cite, the share of cited sentences their passage supports, and seconds per
answer (p50, p95).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from langchain_core.messages import HumanMessage  # noqa: E402

from rag.answer.llm import is_refusal  # noqa: E402
from rag.answer.local import chat_model  # noqa: E402
from rag.chain import AnswerPipeline  # noqa: E402
from rag.config import Settings  # noqa: E402
from rag.evaluation import metrics  # noqa: E402
from rag.evaluation.questions import load_questions  # noqa: E402

K = 5
NAIVE_REFUSAL = "资料中没有相关信息"
NAIVE_PROMPT = """请根据下面的资料回答问题。每句话后用 [编号] 注明出处。如果资料中没有答案，请回答“{refusal}”。

{passages}

问题：{question}
回答："""


def naive_answer(model, question: str, passages: list[str]) -> str:
    numbered = "\n\n".join(f"[{n}] {text}" for n, text in enumerate(passages, start=1))
    prompt = NAIVE_PROMPT.format(refusal=NAIVE_REFUSAL, passages=numbered, question=question)
    return str(model.invoke([HumanMessage(prompt)]).content).strip()


def summary(name: str, rows: list[dict], seconds: list[float]) -> None:
    answers = metrics.aggregate_answer(rows) or {}
    spans = metrics.confidence_intervals(rows).get("answer", {})
    counts = metrics.aggregate_counts(rows)

    def show(key: str) -> str:
        value, span = answers.get(key), spans.get(key)
        text = "-" if value is None else f"{value:.3f}"
        return text + (f" [{span[0]:.3f}–{span[1]:.3f}]" if span else "")

    p95 = statistics.quantiles(seconds, n=20)[18] if len(seconds) >= 2 else seconds[0]
    print(
        f"{name:6s} key-point recall {show('key_point_recall')} · refused {show('refusal_accuracy')} · "
        f"false refusals {show('false_refusal_rate')} · answers citing {show('citation_rate')} · "
        f"cited sentences supported {show('citation_support')} (of {counts['cited_sentences']}) · "
        f"s/answer p50 {statistics.median(seconds):.1f} p95 {p95:.1f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--questions", default="data/eval/questions.jsonl")
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--recipes", default="naive,ours", help="which to run, comma-separated: naive, ours")
    args = parser.parse_args()
    wanted = [name.strip() for name in args.recipes.split(",") if name.strip()]
    if not wanted or set(wanted) - {"naive", "ours"}:
        parser.error("--recipes takes naive, ours or both")

    settings = Settings.from_env()
    questions = load_questions(Path(args.questions))[: args.limit]
    pipeline = AnswerPipeline(settings)
    model = chat_model(settings)
    rows = {"naive": [], "ours": []}
    seconds = {"naive": [], "ours": []}
    for i, q in enumerate(questions, start=1):
        contexts = pipeline.searcher.search(q.question, K, "hybrid")
        passages = [r.chunk.text for r in contexts]
        views = []
        if "naive" in wanted:
            started = time.perf_counter()
            reply = naive_answer(model, q.question, passages)
            seconds["naive"].append(time.perf_counter() - started)
            views.append(("naive", {"text": reply, "refused": is_refusal(reply, NAIVE_REFUSAL),
                                    "passages": dict(enumerate(passages, start=1))}, passages))
        if "ours" in wanted:
            started = time.perf_counter()
            answer = pipeline.invoke(q.question, k=K, generator="local")
            seconds["ours"].append(time.perf_counter() - started)
            views.append(("ours", {"text": answer.answer, "refused": answer.refused,
                                   "passages": {c.n: c.result.chunk.text for c in answer.citations}},
                          [r.chunk.text for r in answer.contexts]))
        for name, view, texts in views:
            scored = metrics.score_question(q.key_points, [e.quote for e in q.evidence], q.answerable, passages, K, texts, view)
            rows[name].append({**scored, "id": q.id, "type": q.type, "answerable": q.answerable})
        timed = ", ".join(f"{name} {seconds[name][-1]:.0f} s" for name, _, _ in views)
        print(f"{i}/{len(questions)} {q.id} {timed}", file=sys.stderr)
    print(f"{len(questions)} questions from {args.questions}, k={K}, model {Path(settings.llm_gguf or 'packaged default').name}")
    for name in wanted:
        summary(name, rows[name], seconds[name])


if __name__ == "__main__":
    main()
