"""How well the chat's page view marks a cited passage: the PDF's own text under the highlighted lines, against the passage.

For every passage ingest makes of the generated newspaper PDFs (``bench/make_test_pdfs.py``),
:func:`rag.ui.page_view.page_view` finds the lines to highlight; the text layer's characters
inside those boxes are then read back with PDFium (independently of the layout reader) and
compared with the passage by character pairs:

- **recall**: share of the passage's pairs found under the highlight (is all of it marked?);
- **precision**: share of the highlighted text's pairs found in the passage (is only it marked?
  Whole lines are marked, so a passage's first and last line bring a few of their neighbours'
  characters).

``--scans FOLDER``: the same for image-only PDFs of the same pages (same file names; rendered
at 2 pixels per point, as ``make_test_pdfs.py --scans`` makes them), read by OCR; the boxes,
in the scan's pixels, are halved to read the original's text layer.

    python3 bench/make_test_pdfs.py --out /tmp/pdfs --scans
    python3 bench/bench_page_highlight.py /tmp/pdfs [--scans /tmp/pdfs/scans]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from rag.config import Settings  # noqa: E402
from rag.text.features import bigrams, containment  # noqa: E402


def passages(path: Path, settings: Settings):
    """The chunks ingest makes of ``path`` (load, segment, chunk), with their pages and article boxes."""
    from rag.chunking import chunk_articles
    from rag.corpus import load_path, paged, segment_document

    with paged.reading(settings):
        articles = [a for doc in load_path(path) for a in segment_document(doc)]
    return chunk_articles(articles, settings.chunk_size, settings.chunk_overlap)


def printed_under(pdf: Path, page: int, boxes, per_point: float = 1.0) -> str:
    """The text layer's characters inside ``boxes`` (top-down, in points times ``per_point``)."""
    import pypdfium2 as pdfium

    doc = pdfium.PdfDocument(str(pdf))
    try:
        pdf_page = doc[page - 1]
        height = pdf_page.get_size()[1]
        text = pdf_page.get_textpage()
        return "".join(
            text.get_text_bounded(x0 / per_point, height - y1 / per_point, x1 / per_point, height - y0 / per_point)
            for x0, y0, x1, y1 in boxes
        )
    finally:
        doc.close()


def marked(chunk, pdf: Path, shown: Path, per_point: float, settings: Settings) -> tuple[float, float]:
    """(recall, precision) of the highlight of ``chunk`` on ``shown`` (the PDF or its scan)."""
    from rag.corpus import paged
    from rag.ui.page_view import page_view

    view = page_view(shown, chunk.page, chunk.text, tuple(chunk.bbox) if chunk.bbox else None,
                     paged.PageLimits.from_settings(settings))
    under = printed_under(pdf, chunk.page, view.boxes, per_point)
    return containment(bigrams(chunk.text), bigrams(under)), containment(bigrams(under), bigrams(chunk.text))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folder", type=Path, help="the text-layer PDFs make_test_pdfs.py wrote")
    parser.add_argument("--scans", type=Path, help="image-only PDFs of the same pages, same names (OCR)")
    args = parser.parse_args(argv)
    settings = Settings.from_env()  # OCR results are cached under RAG_CACHE_DIR/ocr
    started, rows = time.perf_counter(), []
    for pdf in sorted(args.folder.glob("*.pdf")):
        shown, per_point = (args.scans / pdf.name, 2.0) if args.scans else (pdf, 1.0)
        for chunk in passages(shown, settings):
            recall, precision = marked(chunk, pdf, shown, per_point, settings)
            rows.append({"file": pdf.name, "page": chunk.page, "chunk": chunk.chunk_id, "chars": len(chunk.text),
                         "recall": round(recall, 3), "precision": round(precision, 3)})
        print(f"{pdf.name}: {sum(1 for r in rows if r['file'] == pdf.name)} passages", file=sys.stderr, flush=True)
    recalls, precisions = [r["recall"] for r in rows], [r["precision"] for r in rows]
    summary = {
        "passages": len(rows),
        "recall_mean": round(sum(recalls) / len(rows), 3), "recall_min": min(recalls),
        "precision_mean": round(sum(precisions) / len(rows), 3), "precision_min": min(precisions),
        "recall_at_least_0.95": round(sum(r >= 0.95 for r in recalls) / len(rows), 3),
        "precision_at_least_0.85": round(sum(p >= 0.85 for p in precisions) / len(rows), 3),
        "seconds": round(time.perf_counter() - started, 1),
    }
    print(json.dumps(summary))
    worst = sorted(rows, key=lambda r: min(r["recall"], r["precision"]))[:3]
    print(json.dumps(worst, ensure_ascii=False), file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
