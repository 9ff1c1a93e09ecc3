"""Score PDF page reading against the text the pages print (made by bench/make_test_pdfs.py).

For every page: the layout reader's articles (rag.corpus.layout) and a plain extraction
(rows across the whole page, top to bottom, as a naive text dump gives them) are compared
with the printed articles in reading order:

- char accuracy per article: 1 - edit distance / length of the printed body, whitespace
  removed, each printed article against the extracted article that matches it best;
- page reading order: 1 - normalised edit distance between all printed text of the page
  (titles and bodies in reading order) and all extracted text (for both methods);
- boundaries: the share of printed articles found as one extracted article (body
  accuracy >= 0.9) under their own headline (headline accuracy >= 0.8, so that one
  misread character of an OCR'd headline does not count as a wrong boundary), out of
  max(printed, extracted) articles.

    python3 bench/make_test_pdfs.py --out /tmp/pdfs --scans
    python3 bench/bench_pdf_extract.py /tmp/pdfs                 # text layer
    python3 bench/bench_pdf_extract.py /tmp/pdfs --scans         # OCR of the rendered pages
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

_WS = re.compile(r"\s+")


def norm(text: str | None) -> str:
    return _WS.sub("", text or "")


def distance(a: str, b: str) -> int:
    try:
        from rapidfuzz.distance import Levenshtein

        return Levenshtein.distance(a, b)
    except ImportError:  # plain dynamic programming
        prev = list(range(len(b) + 1))
        for i, ca in enumerate(a, 1):
            cur = [i]
            for j, cb in enumerate(b, 1):
                cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
            prev = cur
        return prev[-1]


def accuracy(truth: str, got: str) -> float:
    if not truth:
        return 1.0 if not got else 0.0
    return max(0.0, 1 - distance(truth, got) / max(len(truth), len(got)))


def score_page(printed: list[dict], articles: list[tuple[str | None, str]], plain: str) -> dict:
    """Scores of one page: printed articles (title, paragraphs) against extracted (title, body) pairs."""
    truth_page = "".join(norm(a["title"]) + norm("".join(a["paragraphs"])) for a in printed)
    got_page = "".join(norm(t) + norm(b) for t, b in articles)
    per_article, found = [], 0
    used: set[int] = set()
    for a in printed:
        body = norm("".join(a["paragraphs"]))
        best, best_k = 0.0, None
        for k, (t, b) in enumerate(articles):
            acc = accuracy(body, norm(b))
            if acc > best:
                best, best_k = acc, k
        per_article.append(best)
        if best_k is not None and best >= 0.9 and best_k not in used and accuracy(norm(a["title"]), norm(articles[best_k][0])) >= 0.8:
            found += 1
            used.add(best_k)
    return {
        "articles": per_article,
        "boundaries": found / max(len(printed), len(articles), 1),
        "order": accuracy(truth_page, got_page),
        "plain_order": accuracy(truth_page, norm(plain)),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folder", type=Path, help="where make_test_pdfs.py wrote the PDFs and truth files")
    parser.add_argument("--scans", action="store_true", help="OCR the rendered pages (scans/NAME_pN.png) instead")
    parser.add_argument("--limit", type=int, default=0, help="score at most this many pages")
    parser.add_argument("--json", type=Path, help="write the per-page scores here")
    parser.add_argument("--ocr-cache", type=Path, help="OCR cache folder (default: none, every page is OCR'd)")
    parser.add_argument("--pdftotext", action="store_true",
                        help="also score poppler's pdftotext (-layout and its default reading order), if installed")
    args = parser.parse_args(argv)

    from rag.corpus.layout import lines_from_glyphs, plain_text, read_page
    from rag.corpus.loaders_pdf import page_glyphs, page_rules
    import pypdfium2 as pdfium

    rows, started = [], time.perf_counter()
    for truth_file in sorted(args.folder.glob("*.truth.json")):
        truth = json.loads(truth_file.read_text(encoding="utf-8"))
        pdf = args.folder / truth["file"]
        doc = pdfium.PdfDocument(str(pdf))
        for page_truth in truth["pages"]:
            if args.limit and len(rows) >= args.limit:
                break
            number = page_truth["number"]
            if args.scans:
                from PIL import Image
                from rag.corpus import ocr

                image = Image.open(args.folder / "scans" / f"{pdf.stem}_p{number}.png")
                lines, rules, _ = ocr.ocr_image(image, args.ocr_cache)
                layout = read_page(lines, image.width, image.height, rules)
                plain = plain_text(lines)
            else:
                page = doc[number - 1]
                glyphs, width, height = page_glyphs(page)
                rules = page_rules(page)
                lines = lines_from_glyphs(glyphs, rules)
                plain = plain_text(lines)
                layout = read_page(lines, width, height, rules)
            got = [(a.title, a.body) for a in layout.articles]
            score = score_page(page_truth["articles"], got, plain)
            if args.pdftotext and not args.scans:
                import subprocess

                truth_page = "".join(norm(a["title"]) + norm("".join(a["paragraphs"])) for a in page_truth["articles"])
                for mode, flags in (("pdftotext_layout", ["-layout"]), ("pdftotext", [])):
                    out = subprocess.run(["pdftotext", *flags, "-f", str(number), "-l", str(number), str(pdf), "-"],
                                         capture_output=True, text=True, check=True).stdout
                    score[mode] = accuracy(truth_page, norm(out))
            score.update(file=pdf.name, page=number, newspaper=layout.newspaper == page_truth["newspaper"],
                         date=layout.date == page_truth["date"])
            rows.append(score)
            print(f"{pdf.name} p{number}: articles {sum(score['articles']) / len(score['articles']):.3f} "
                  f"boundaries {score['boundaries']:.2f} order {score['order']:.3f} plain {score['plain_order']:.3f} "
                  f"masthead {score['newspaper'] and score['date']}", flush=True)
        doc.close()
    per_article = [a for r in rows for a in r["articles"]]
    summary = {
        "pages": len(rows),
        "articles": len(per_article),
        "char_accuracy": sum(per_article) / len(per_article),
        "boundary_accuracy": sum(r["boundaries"] for r in rows) / len(rows),
        "reading_order": sum(r["order"] for r in rows) / len(rows),
        "plain_reading_order": sum(r["plain_order"] for r in rows) / len(rows),
        "masthead": sum(r["newspaper"] and r["date"] for r in rows) / len(rows),
        **{k: sum(r[k] for r in rows) / len(rows) for k in ("pdftotext_layout", "pdftotext") if rows and k in rows[0]},
        "seconds": round(time.perf_counter() - started, 1),
    }
    print(json.dumps(summary, ensure_ascii=False))
    if args.json:
        args.json.write_text(json.dumps({"summary": summary, "pages": rows}, ensure_ascii=False, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
