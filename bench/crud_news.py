"""The CRUD-RAG news articles used by the scale benchmarks (read from ../shared, never copied into the repo).

Three files of about 1,930 articles each, one article per line (see
``rag/corpus/article_lines.py``). A subset of N articles is the first N lines in file
order, written to files with the same names, so that it ingests exactly like the real files.
"""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CRUD_NEWS_DIR = ROOT.parent / "shared" / "crud_news"


def crud_files(crud_dir: Path = CRUD_NEWS_DIR) -> list[Path]:
    files = sorted(Path(crud_dir).glob("*.txt"))
    if not files:
        raise SystemExit(f"no crud_news files in {crud_dir} (expected ../shared/crud_news/*.txt)")
    return files


def write_subset(size: int | None, target: Path, crud_dir: Path = CRUD_NEWS_DIR) -> Path:
    """Write the first ``size`` articles (all for None) into ``target``; returns ``target``."""
    target.mkdir(parents=True, exist_ok=True)
    left = size
    for path in crud_files(crud_dir):
        lines = [line for line in path.read_text(encoding="utf-8").split("\n") if line.strip()]
        if left is not None:
            lines, left = lines[:left], left - min(left, len(lines))
        if lines:
            (target / path.name).write_text("\n".join(lines) + "\n", encoding="utf-8")
        if left == 0:
            break
    return target
