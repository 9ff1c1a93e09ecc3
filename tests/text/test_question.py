from rag.text.question import found, profile, term_weight


def test_profile_separates_terms_years_and_numbers():
    asked = profile("太钢2030年的碳排放要降低多少？")
    assert asked.years == ("2030",)
    assert "排放" in asked.terms and "太钢" in asked.terms
    assert not {"多少", "什么"} & set(asked.terms)  # question words are not topics
    assert asked.wants_fact and not asked.wants_list


def test_profile_marks_names_and_list_questions():
    asked = profile("盛更红到娄烦县调研了哪些帮扶产业项目")
    assert asked.entities == ("盛更红", "娄烦县")
    assert asked.wants_list
    assert list(asked.terms) == sorted(asked.terms, key=len, reverse=True)


def test_names_weigh_more_than_common_words():
    asked = profile("盛更红到娄烦县调研了哪些帮扶产业项目")
    assert term_weight("娄烦县", asked) > term_weight("调研", asked)


def test_found_matches_long_terms_by_their_halves():
    assert found("碳中和", "2050年实现碳中和")
    assert found("低碳冶金", "低碳绿色冶金")  # 低碳 … 冶金
    assert not found("降碳", "碳排放")
