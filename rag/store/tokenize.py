"""Tokenisation for BM25: jieba words for Chinese, lower-cased words and numbers for the rest.

The same function tokenises passages at ingest time and questions at query time, so the
two always agree. Punctuation and a short list of function words are dropped.
"""

from __future__ import annotations

import logging
import re
import threading

import jieba

from rag.text.chars import CJK_RUN
from rag.text.features import bigram_sequence
from rag.text.lexicon import FUNCTION_WORDS, interrogatives

jieba.setLogLevel(logging.WARNING)

# Function words and question words carry no topical signal in a news question (lexicon.toml).
STOPWORDS = FUNCTION_WORDS | frozenset(interrogatives())

_PUNCT_ONLY = re.compile(r"^[\W_]+$", re.UNICODE)


def tokenize(text: str) -> list[str]:
    """Split ``text`` into BM25 terms: jieba's search-mode words plus Chinese character bigrams.

    jieba cuts the same phrase differently in different contexts (碳中和 → 碳中|和 in one
    sentence, 碳|中|和 in another); the bigrams make such phrases match anyway.
    """
    words = []
    for token in jieba.cut_for_search(text):
        token = token.strip().lower()
        if token and token not in STOPWORDS and not _PUNCT_ONLY.match(token):
            words.append(token)
    return words + bigram_sequence(text, CJK_RUN)


def load_dictionary_in_background() -> threading.Thread:
    """Start loading jieba's dictionary (about a second) in a daemon thread.

    Ingest calls this before the model loads and embeds, so the loading overlaps with them
    instead of delaying the BM25 index at the end. ``jieba.initialize`` takes a lock, so
    a ``tokenize`` call made meanwhile simply waits for it.
    """
    thread = threading.Thread(target=jieba.initialize, name="jieba-dictionary", daemon=True)
    thread.start()
    return thread
