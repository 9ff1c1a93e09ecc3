from rag.text.matching import lexical_score
from rag.text.question import profile

QUESTION = profile("太钢2030年的碳排放要降低多少？")


def test_the_sentence_holding_the_fact_scores_highest():
    answer = "太钢力争2030年碳排放较峰值降低16%。"
    same_story = "太钢集团持续推进节能降碳工作。"
    unrelated = "中铝集团召开年度工作会议。"
    scores = [lexical_score(QUESTION, text) for text in (answer, same_story, unrelated)]
    assert scores[0] > scores[1] > scores[2]
    assert all(0.0 <= s <= 1.0 for s in scores)


def test_the_year_must_match_exactly():
    assert lexical_score(QUESTION, "太钢2030年碳排放降低16%。") > lexical_score(QUESTION, "太钢2035年碳排放降低30%。")


def test_a_credit_scores_for_who_took_the_photo():
    from rag.answer.scoring import kind_bonus

    photo = profile("这张照片是谁拍摄的")
    assert kind_bonus(photo, "本报记者 王强 摄") > kind_bonus(photo, "太钢召开安全生产会议。")


def test_a_question_without_content_matches_nothing():
    assert lexical_score(profile("什么？"), "太钢碳中和。") == 0.0
