"""Tokenisation for BM25: jieba words for Chinese, lower-cased words and numbers for the rest.

The same function tokenises passages at ingest time and questions at query time, so the
two always agree. Punctuation and a short list of function words are dropped.
"""

from __future__ import annotations

import logging
import re
import threading

import jieba

jieba.setLogLevel(logging.WARNING)

# Function words and question words that carry no topical signal in a news question.
STOPWORDS = frozenset(
    """的 了 和 与 及 或 是 在 为 对 把 被 将 从 向 以 于 由 等 也 都 而 并 之 其 这 那 个 有 就 中 上 下
    吗 呢 吧 啊 么 什么 哪些 哪个 哪里 哪 谁 多少 几 怎么 怎样 如何 为什么 何时 何 是否 请问 请 一下 介绍
    一个 一些 我们 他们 它们 我 你 他 她 它 该 此 哪位 多久 多长 多大 时候 情况 方面 呢 吗""".split()
)

_PUNCT_ONLY = re.compile(r"^[\W_]+$", re.UNICODE)


_CJK_RUN = re.compile(r"[\u3400-\u9fff]{2,}")


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
    bigrams = [run[i : i + 2] for run in _CJK_RUN.findall(text) for i in range(len(run) - 1)]
    return words + bigrams


def load_dictionary_in_background() -> threading.Thread:
    """Start loading jieba's dictionary (about a second) in a daemon thread.

    Ingest calls this before the model loads and embeds, so the loading overlaps with them
    instead of delaying the BM25 index at the end. ``jieba.initialize`` takes a lock, so
    a ``tokenize`` call made meanwhile simply waits for it.
    """
    thread = threading.Thread(target=jieba.initialize, name="jieba-dictionary", daemon=True)
    thread.start()
    return thread
