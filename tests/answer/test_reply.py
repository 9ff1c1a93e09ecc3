"""Reading a model's reply: reasoning apart, notation removed, non-answers recognised."""

from rag.answer.reply import not_an_answer, split_reasoning, strip_notation, visible_answer, whole_sentences


def test_reasoning_is_set_apart_from_the_answer():
    reply = split_reasoning("<think>资料1提到2050年。</think>\n太钢计划2050年实现碳中和[1]。")
    assert reply.answer == "太钢计划2050年实现碳中和[1]。"
    assert reply.reasoning == "资料1提到2050年。"
    # a server that drops the opening tag; an unclosed tag (cut while reasoning) leaves no answer
    assert split_reasoning("先看资料。</think>答案[1]。").answer == "答案[1]。"
    assert split_reasoning("<think>还在想，资料1说").answer == ""


def test_streamed_text_shows_nothing_of_the_reasoning():
    assert visible_answer("<think>资料") == ""
    assert visible_answer("<think>资料1</think>太钢") == "太钢"
    assert visible_answer("太钢计划<thi") == "太钢计划"  # a tag still arriving is held back


def test_the_prompts_notation_is_removed():
    assert strip_notation("<资料 1>[n][1]") == "[1]"
    assert strip_notation("太钢计划2050年实现碳中和[n][1]。") == "太钢计划2050年实现碳中和[1]。"
    assert strip_notation("</资料 2>") == ""


def test_replies_that_are_not_answers():
    question = "这家工厂的厂长是谁"
    assert not_an_answer("", question)
    assert not_an_answer("[1]。", question)  # only a marker left
    assert "repeats the question" in not_an_answer("这家工厂的厂长是谁？[1]", question)
    assert not_an_answer("这家工厂的厂长是张三[1]。", question) is None


def test_a_reply_cut_at_the_token_limit_keeps_its_finished_sentences():
    assert whole_sentences("太钢计划2050年实现碳中和[1]。2030年降碳16%，并且") == "太钢计划2050年实现碳中和[1]。"
    assert whole_sentences("太钢计划2050年实现") == ""
