from rag.text.features import YEAR, bigrams, containment, jaccard, normalize


def test_normalize_applies_nfkc_and_drops_whitespace():
    assert normalize("２０５０ 年\n碳中和") == "2050年碳中和"


def test_bigrams_cover_runs_and_skip_punctuation():
    grams = bigrams("2050年碳中和，降碳30%。")
    assert {"20", "50", "碳中", "中和", "降碳", "0%"} <= grams
    assert not any("，" in g or "。" in g for g in grams)
    assert "和降" not in grams  # the comma ends a run


def test_overlaps():
    assert containment({"a", "b"}, {"a", "c"}) == 0.5
    assert containment(set(), {"a"}) == 0.0
    assert jaccard({"a", "b"}, {"b", "c"}) == 1 / 3


def test_year_pattern_takes_four_digit_years_only():
    assert YEAR.findall("2025年降碳6%，2030年降碳16%，12050吨") == ["2025", "2030"]
