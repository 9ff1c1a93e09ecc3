"""Questions over the bundled issues, answered from their generated newspaper PDFs and from the text files, side by side.

1. ``bench/make_test_pdfs.py`` lays the five issues out as newspaper PDFs (``--scans``: also
   image-only PDFs of the same pages, read by OCR), their printed text kept apart;
2. the question set is cut to what the PDFs print: an answerable question stays when
   every one of its evidence quotes is printed (the generated pages shorten long stories
   and leave out very short ones), an unanswerable one always stays;
3. ``rag ingest`` builds one index of the PDFs and one of the text files, and ``rag eval``
   scores both on the same questions.

    python3 bench/bench_pdf_qa.py --out /tmp/pdfqa [--scans] [--questions data/eval/questions.jsonl]

Prints one table row per index (retrieval hit@1, hit@k, MRR; key-point recall, unanswerable
refused, false refusals) and writes each ``rag eval`` report under ``--out``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import make_test_pdfs  # noqa: E402  (bench/, beside this script)
from rag.evaluation.questions import load_questions, normalize_for_match  # noqa: E402


def make_papers(out: Path, corpus: Path, scans: bool) -> tuple[Path, dict[str, str]]:
    """The PDFs (or their scans) in ``out/papers``; the printed text of each, by the text file it came from."""
    make = make_test_pdfs
    generated, papers = out / "generated", out / "papers"
    shutil.rmtree(papers, ignore_errors=True)
    papers.mkdir(parents=True)
    printed = {}
    for k, issue in enumerate(sorted(corpus.glob("*.txt"))):
        pdf, pages = make.make_issue(issue, generated, columns=3 + k % 3, seed=k)
        printed[issue.name] = "".join(
            (a.title or "") + "".join(a.paragraphs) for page in pages for a in page.articles
        )
        if scans:
            (generated / "scans").mkdir(exist_ok=True)
            images = make.render_pages(pdf, generated / "scans")
            make.image_pdf(images, papers / pdf.name)
        else:
            shutil.copy(pdf, papers / pdf.name)
    return papers, {name: normalize_for_match(text) for name, text in printed.items()}


def printed_questions(questions_path: Path, printed: dict[str, str], out: Path) -> tuple[Path, int, int]:
    """The questions whose evidence is all printed (and every unanswerable one), as a new JSONL."""
    questions = load_questions(questions_path)
    kept = [q for q in questions
            if not q.evidence or all(normalize_for_match(e.quote) in printed.get(e.file, "") for e in q.evidence)]
    path = out / "questions_printed.jsonl"
    with path.open("w", encoding="utf-8") as f:
        for q in kept:
            f.write(json.dumps(q.to_dict(), ensure_ascii=False) + "\n")
    return path, len(kept), len(questions)


def rag(*args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    result = subprocess.run([sys.executable, "-m", "rag.cli", *args], capture_output=True, text=True, env=env, cwd=ROOT)
    if result.returncode != 0:
        raise SystemExit(f"rag {' '.join(args)} failed:\n{result.stderr[-2000:]}")
    return result


def scores(index: Path, questions: Path, out: Path) -> dict:
    report = json.loads(rag("eval", "--questions", str(questions), "--index", str(index), "--out", str(out), "--json").stdout)
    retrieval, answer, ci = report["retrieval"], report["answer"], report["intervals_95"]
    return {
        "hit@1": retrieval["hit@1"], "hit@k": retrieval["hit@k"], "mrr": retrieval["mrr"],
        "key_point_recall": answer.get("key_point_recall"), "refused": answer.get("refusal_accuracy"),
        "false_refusals": answer.get("false_refusal_rate"),
        "hit@1 95%": ci["retrieval"].get("hit@1"), "key_point_recall 95%": ci["answer"].get("key_point_recall"),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--corpus", type=Path, default=ROOT / "data" / "corpus")
    parser.add_argument("--questions", type=Path, default=ROOT / "data" / "eval" / "questions.jsonl")
    parser.add_argument("--scans", action="store_true", help="index image-only PDFs of the pages (OCR) instead of the text layer")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)

    papers, printed = make_papers(args.out, args.corpus, args.scans)
    questions, kept, total = printed_questions(args.questions, printed, args.out)
    print(f"{kept} of {total} questions have all their evidence printed in the PDFs", file=sys.stderr)
    kind = "scans" if args.scans else "pdf"
    rows = {}
    for name, source in ((kind, papers), ("text", args.corpus)):
        index = args.out / f"index_{name}"
        ingested = json.loads(rag("ingest", str(source), "--index", str(index), "--json").stdout)
        print(f"{name}: {ingested['files']} files, {ingested['articles']} articles, {ingested['chunks']} chunks",
              file=sys.stderr)
        rows[name] = scores(index, questions, args.out / f"eval_{name}")
    columns = ["hit@1", "hit@k", "mrr", "key_point_recall", "refused", "false_refusals"]
    print("| index | " + " | ".join(columns) + " |")
    print("|---" * (len(columns) + 1) + "|")
    for name, row in rows.items():
        print(f"| {name} | " + " | ".join("–" if row[c] is None else f"{row[c]:.3f}" for c in columns) + " |")
    print(json.dumps(rows, ensure_ascii=False), file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
