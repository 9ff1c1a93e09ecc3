"""What a question asks about: its key terms, years and numbers, and whether it wants a list.

Both the extractive answerer (which sentences matter) and the refusal check (is the
question covered by the passages) read the same ``QuestionProfile``.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from functools import lru_cache

import jieba
import jieba.posseg

from rag.store.tokenize import STOPWORDS
from rag.text.features import YEAR, bigrams, normalize

jieba.setLogLevel(logging.WARNING)

# Words that shape a question but say nothing about its topic.
QUESTION_WORDS = frozenset(
    """什么 哪些 哪个 哪里 哪 哪儿 哪年 哪天 哪家 哪位 谁 多少 几 几个 几项 怎么 怎样 如何 为什么 为何 何时 何地 是否 有没有 是不是
    请问 请 一下 介绍 简述 概括 说说 讲讲 主要 具体 分别 都 有 是 了 呢 吗 吧 啊 么 到底 究竟 内容 情况 方面 相关 有关
    报道 报纸 新闻 文章 本报 提到 提出 表示 指出 据 根据 资料 其中 那 那么 这 这个 那个 它 其 该 他们 她们 它们 哪期 那期 多大 多长 多久 多高 怎么样""".split()
)

# Questions that want every item: goals, measures, steps, lists.
LIST_INTENT = re.compile(r"目标|措施|举措|哪些|包括|包含|路径|步骤|阶段|做法|任务|计划|规划|方面|几个|几项|几大|哪几|重点|内容|要求|部署|成果|成效|变化|特点|经验|意义")
# Questions that want a figure, a date or a name.
FACT_INTENT = re.compile(r"多少|几|哪年|哪天|何时|什么时候|时间|日期|数量|比例|占比|金额|规模|产量|增长|下降|第几|多大|多高|多长|多久|谁|哪位|哪家|名字|名称|叫什么")

_NUMBER = re.compile(r"\d+(?:\.\d+)?")
_ENTITY_FLAGS = ("nr", "ns", "nt", "nz", "eng", "j")


@dataclass(frozen=True)
class QuestionProfile:
    text: str
    terms: tuple[str, ...]  # content words, longest first, no question words
    entities: tuple[str, ...]  # names of people, places, organisations (a subset of terms)
    years: tuple[str, ...]
    numbers: tuple[str, ...]  # numbers other than years
    content_bigrams: frozenset[str] = field(default_factory=frozenset)
    wants_list: bool = False
    wants_fact: bool = False


@lru_cache(maxsize=1024)
def profile(question: str) -> QuestionProfile:
    """Analyse a question (cached: the chain, the answerer and the refusal check share it)."""
    text = question.strip()
    years = tuple(dict.fromkeys(YEAR.findall(normalize(text))))
    numbers = tuple(n for n in dict.fromkeys(_NUMBER.findall(normalize(text))) if n not in years)
    terms: list[str] = []
    entities: list[str] = []
    for pair in jieba.posseg.cut(text):
        word, flag = pair.word.strip(), pair.flag
        if not _is_content(word):
            continue
        terms.append(word)
        if flag.startswith(_ENTITY_FLAGS) and not _common_noun(word):
            entities.append(word)
    terms = list(dict.fromkeys(terms))
    content = _content_text(text)
    return QuestionProfile(
        text=text,
        terms=tuple(sorted(terms, key=len, reverse=True)),
        entities=tuple(dict.fromkeys(entities)),
        years=years,
        numbers=numbers,
        content_bigrams=frozenset(g for g in bigrams(content) if len(g) == 2),
        wants_list=bool(LIST_INTENT.search(text)),
        wants_fact=bool(FACT_INTENT.search(text)),
    )


def _is_content(word: str) -> bool:
    if not word or word in STOPWORDS or word in QUESTION_WORDS:
        return False
    if _NUMBER.fullmatch(word):
        return False  # years and numbers are tracked separately
    if len(word) == 1:
        return False  # single characters (年, 中, 和 ...) carry too little on their own
    return bool(re.search(r"[\u3400-\u9fffA-Za-z]", word))


# Nouns jieba tags "n" that are generic (not names). Used to keep them out of ``entities``.
_GENERIC_NOUNS = frozenset(
    """目标 营收 收入 利润 措施 举措 计划 项目 工作 发展 问题 时间 地点 人员 企业 公司 集团 政府 部门 会议 活动 技术 产品 方式 方法 原因 结果
    作用 影响 成绩 成果 数量 规模 产量 比例 路线 路径 方案 要求 任务 重点 经验 意义 特点 标准 水平 能力 体系 机制 模式 阶段 步骤 愿景 口号 主题""".split()
)


def _common_noun(word: str) -> bool:
    return word in _GENERIC_NOUNS


def _content_text(text: str) -> str:
    """The question with question words and function words blanked out."""
    for word in sorted(QUESTION_WORDS | {"的", "了", "和", "与", "及", "在", "为", "对", "是", "有"}, key=len, reverse=True):
        text = text.replace(word, " ")
    return text


def term_weight(term: str, question: QuestionProfile) -> float:
    """How much finding ``term`` in a passage says: names count double, long words more."""
    weight = 1.0 + 0.25 * min(len(term) - 2, 4)
    if term in question.entities:
        weight *= 2.0
    return weight


def found(term: str, normalized_text: str) -> bool:
    """Whether ``term`` occurs in already-normalised text (a 4+ character term may match by its halves)."""
    term = normalize(term)
    if term in normalized_text:
        return True
    if len(term) >= 4:
        half = len(term) // 2
        return term[:half] in normalized_text and term[half:] in normalized_text
    return False
