import pytest

from rag.answer.rewrite import is_follow_up, rewrite_rule_based

HISTORY = [("太钢的碳中和目标是什么", "太钢计划2050年实现碳中和[1]。")]


@pytest.mark.parametrize(
    "follow_up, expected",
    [
        ("那2030年呢？", "太钢2030年的碳中和目标是什么"),
        ("2035年呢", "太钢2035年的碳中和目标是什么"),
        ("那宝武呢？", "宝武的碳中和目标是什么"),
        ("那降碳措施呢？", "太钢的降碳措施是什么"),
        ("它的营收是多少", "太钢的营收是多少"),
        ("具体有哪些措施？", "太钢具体有哪些措施？"),
    ],
)
def test_follow_ups_become_standalone(follow_up, expected):
    assert rewrite_rule_based(follow_up, HISTORY) == expected


def test_standalone_questions_are_left_alone():
    question = "盛更红是哪天到娄烦县调研帮扶村的？"
    assert not is_follow_up(question)
    assert rewrite_rule_based(question, HISTORY) == question
    assert rewrite_rule_based("那2030年呢？", []) == "那2030年呢？"


def test_chains_of_follow_ups_resolve_through_history():
    history = HISTORY + [("那2030年呢？", "降碳16%[1]。")]
    assert rewrite_rule_based("那2035年呢？", history) == "太钢2035年的碳中和目标是什么"


def test_a_new_time_replaces_the_old_one():
    assert rewrite_rule_based("那2035年呢", [("太钢2030年的降碳目标是多少", "")]) == "太钢2035年的降碳目标是多少"
