"""What makes a sentence a good answer beyond matching the question's words (that is
``rag.text.matching.lexical_score``): pure functions, no model.

- ``kind_bonus``: extra for holding the *kind* of fact asked for: a date for "哪天",
  a photo credit for "谁拍的", a byline for "作者是谁", a figure for "多少", a place
  for "在哪里";
- ``shape_factor``: less for headings, questions (interview "问：…？") and debris.
"""

from __future__ import annotations

import re

from rag.text.question import QuestionProfile

DIGIT = re.compile(r"\d")
DATE = re.compile(r"(?:19|20)\d{2}年\d{1,2}月\d{1,2}日|\d{1,2}月\d{1,2}日|(?:19|20)\d{2}年\d{1,2}月|(?:19|20)\d{2}年")
PHOTO_CREDIT = re.compile(r"(?<!摄)摄\s*$|摄影|供图")
BYLINE = re.compile(r"记者|通讯员|文/|撰稿|^[□■]|^[（(][\u4e00-\u9fff\s]{2,12}[）)]$")
ROLE = re.compile(r"书记|主任|董事长|经理|部长|厂长|主席|院长|局长|县长|市长|主持|负责人|总监|队长|书记员")
PLACE = re.compile(r"位于|坐落|在[\u4e00-\u9fff]{2,10}(?:举行|召开|举办)|[省市县区镇乡村]|园区|基地")
TERMINATOR = re.compile(r"[。！？!?；;…]")

ASKS_WHEN = re.compile(r"哪天|哪一天|何时|什么时候|日期|哪年|哪一年|时间|几月|几号")
ASKS_PHOTO = re.compile(r"照片|拍摄|谁拍|拍的|摄影|那张图|图是谁")
ASKS_AUTHOR = re.compile(r"作者|谁写|写的|撰写|哪位记者|记者是|报道的|一文")
ASKS_WHO = re.compile(r"谁|哪位|哪几位|什么人|名字|叫什么")
ASKS_WHERE = re.compile(r"哪里|在哪|何地|地点|哪个城市|哪个地方|建在")
ASKS_TITLE = re.compile(r"标题|题目|题为|一文|那篇|叫什么名字|报名")


def kind_bonus(question: QuestionProfile, text: str) -> float:
    """Extra score for a sentence holding the kind of fact the question asks for."""
    q = question.text
    bonus = 0.0
    if (question.wants_fact or question.wants_list) and DIGIT.search(text):
        bonus += 0.06
    if ASKS_WHEN.search(q) and DATE.search(text):
        bonus += 0.12
    if ASKS_PHOTO.search(q) and PHOTO_CREDIT.search(text):
        bonus += 0.3
    elif ASKS_AUTHOR.search(q) and BYLINE.search(text.strip()):
        bonus += 0.3
    elif ASKS_WHO.search(q) and ROLE.search(text):
        bonus += 0.06
    if ASKS_WHERE.search(q) and PLACE.search(text):
        bonus += 0.08
    return bonus


def shape_factor(question: QuestionProfile, text: str) -> float:
    """Down-weight sentences that rarely answer anything: headings, questions, fragments."""
    stripped = text.strip()
    if stripped.endswith(("？", "?")):
        return 0.6  # an interview question ("问：…？") is not an answer
    if not TERMINATOR.search(stripped):
        # a line without sentence punctuation: a heading, a byline, a caption credit
        wanted = (
            (ASKS_PHOTO.search(question.text) and PHOTO_CREDIT.search(stripped))
            or (ASKS_AUTHOR.search(question.text) and BYLINE.search(stripped))
            or (ASKS_TITLE.search(question.text))
            or (ASKS_WHEN.search(question.text) and DATE.search(stripped))
        )
        if not wanted:
            return 0.75
    return 1.0
