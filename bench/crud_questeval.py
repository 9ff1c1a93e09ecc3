"""Turn CRUD-RAG's own questions into a question set over our CRUD news archive.

    python bench/crud_questeval.py QuestAnswer1Doc_quest_gt_save.json > data/eval/crud_questeval.jsonl

CRUD-RAG (IAAR-Shanghai/CRUD_RAG, Apache-2.0) ships ``src/quest_eval/QuestAnswer1Doc_quest_gt_save.json``:
for each of 800 news articles of its one-document QA task, the key facts of the reference
answer and questions about them, written by the benchmark's authors with an LLM. They
were not written by us and not for our retriever, so they test retrieval the way a
question set "written by others" does: short questions, often without the names or
numbers of the article, over an archive full of same-story articles.

Only a few of the 800 articles are among the 5,788 of ``../shared/crud_news``. An entry
is kept when one archive article holds at least 75 % of its key facts; from it a question
is kept when its answer occurs verbatim in that article (not "无法推断", cannot be
inferred) and the question shares at least four consecutive characters with the article
(a question with nothing to search for, e.g. "统计的时间是什么时候？", is dropped). The
evidence quote is the answer with up to 20 characters of its sentence on each side, so a
hit is a retrieved chunk holding the answer in its context.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import unicodedata
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from crud_news import CRUD_NEWS_DIR, crud_files  # noqa: E402
from rag.corpus import articles_from_path  # noqa: E402

MIN_KEY_FACTS = 0.75
CONTEXT = 20
SENTENCE = re.compile(r"[^。！？；!?;]+[。！？；!?;]?")


def norm(text: str) -> str:
    """NFKC without whitespace: how the evaluation compares quotes with chunks."""
    return "".join(unicodedata.normalize("NFKC", text or "").split())


def shares_four_characters(question: str, text: str) -> bool:
    q = norm(question)
    return any(q[i : i + 4] in text for i in range(len(q) - 3))


def evidence_quote(answer: str, text: str) -> str:
    sentence = next((s for s in SENTENCE.findall(text) if answer in s), answer)
    at = sentence.index(answer)
    return sentence[max(0, at - CONTEXT) : at + len(answer) + CONTEXT]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("questeval", type=Path, help="CRUD-RAG's QuestAnswer1Doc_quest_gt_save.json")
    parser.add_argument("--crud-dir", type=Path, default=CRUD_NEWS_DIR)
    args = parser.parse_args()

    articles = [(a, norm(a.text)) for path in crud_files(args.crud_dir) for a in articles_from_path(path)]
    entries = json.loads(args.questeval.read_text(encoding="utf-8"))
    kept = 0
    for key, entry in entries.items():
        facts = [norm(fact) for fact in entry.get("key_info", []) if norm(fact)]
        if len(facts) < 2:
            continue
        article, text = max(articles, key=lambda pair: sum(fact in pair[1] for fact in facts))
        if sum(fact in text for fact in facts) / len(facts) < MIN_KEY_FACTS:
            continue
        for number, (question, answer) in enumerate(zip(entry["question"], entry["answers"])):
            answer_text = norm(answer)
            if not answer_text or "无法推断" in answer_text or answer_text not in text:
                continue
            if not shares_four_characters(question, text):
                continue
            kept += 1
            record = {
                "id": f"qe-{key}-{number}",  # CRUD-RAG's article id and question number
                "question": question,
                "answer": answer,
                "key_points": [answer],
                "evidence": [{"file": article.source, "quote": evidence_quote(answer_text, text)}],
                "type": "factoid",
                "file": article.source,
            }
            print(json.dumps(record, ensure_ascii=False))
    print(f"{kept} questions", file=sys.stderr)


if __name__ == "__main__":
    main()
