import re

from rag.answer.extractive import ExtractiveAnswerer, ExtractiveGenerator, candidate_sentences
from rag.answer.sentences import split_spans, strip_markers
from rag.evaluation.metrics import citation_support
from rag.text.features import normalize
from tests.answer.fakes import MODEL, ROADMAP, VISIT, ZHUZHOU, ToyEmbeddings, make_results

CONTEXTS = make_results([MODEL, ROADMAP, VISIT, ZHUZHOU])
TOY = ToyEmbeddings()


def answer(question, contexts=CONTEXTS, **kwargs):
    return ExtractiveAnswerer(**kwargs).answer(question, contexts, TOY.encode_queries([question])[0])


def test_goal_question_gathers_all_four_milestones():
    text = answer("太钢的碳中和目标是什么")
    for fact in ("2025年实现降碳6%", "2030年实现降碳16%", "2035年实现降碳30%", "2050年实现碳中和"):
        assert fact in normalize(text)


def test_every_sentence_is_verbatim_and_ends_with_its_marker():
    text = answer("太钢的碳中和目标是什么")
    by_n = {r.rank: r.chunk.text for r in CONTEXTS}
    supported, cited = citation_support(text, by_n)
    assert cited >= 1 and supported == cited
    for piece in re.findall(r"[^。！？；\n]+?\[\d+\][。！？；]?", text):
        n = int(re.search(r"\[(\d+)\]", piece).group(1))
        assert normalize(strip_markers(piece)).rstrip("。") in normalize(by_n[n])


def test_fact_question_quotes_the_answer_and_stays_on_topic():
    text = answer("哪些领导陪同盛更红在娄烦县调研？")
    assert "李树忠" in text and "景博" in text
    text = answer("厂BA揭幕战由谁开球？")
    assert "大国工匠易冉为揭幕战开球[4]。" in text
    assert "太钢" not in text


def test_budget_is_respected():
    text = answer("太钢的碳中和目标是什么", max_chars=120)
    assert len(strip_markers(text)) <= 160  # one long best sentence may exceed a tiny budget alone


def test_repeated_sentences_from_overlapping_chunks_are_dropped():
    overlapping = make_results([ROADMAP, ROADMAP[40:] + "另有一句。"])
    found = candidate_sentences(overlapping)
    texts = [s.text for s in found.sentences]
    assert len(texts) == len(set(texts))
    # the sentence after the last shared one is still known as its successor
    last_shared = texts.index(split_spans(ROADMAP)[-1].text)
    assert texts[found.following[last_shared][0]] == "另有一句。"
    text = answer("太钢的碳中和目标是什么", overlapping)
    assert normalize(text).count("2050年实现碳中和") == 1


def test_generator_refuses_with_the_fixed_text():
    generator = ExtractiveGenerator("资料中没有相关信息", embed_query=lambda q: TOY.encode_queries([q])[0], embed_passages=TOY.encode_passages)
    draft = generator.generate("太钢2060年的营收目标是多少", CONTEXTS)
    assert draft.refused and draft.text == "资料中没有相关信息" and "2060" in draft.reason
    draft = generator.generate("太钢的碳中和目标是什么", CONTEXTS)
    assert not draft.refused and "2050年" in draft.text
    parts = list(generator.stream("太钢的碳中和目标是什么", CONTEXTS))
    assert "".join(parts[:-1]) == parts[-1].text


def test_deterministic():
    assert answer("太钢的碳中和目标是什么") == answer("太钢的碳中和目标是什么")


def test_items_in_the_sentence_after_the_lead_are_gathered():
    awards = make_results([
        "本报讯 近日，中国电力企业联合会发布2024年度火电机组能效对标结果，中铝股份4台机组在全国火电机组能效对标中获奖。"
        "其中，六盘山热电1号机组荣获AAAA级，银星发电1号、2号机组荣获AAA级。"
        "近年来，中铝股份加强精益管理。",
        ZHUZHOU,
    ])
    text = answer("中铝股份在2024年度火电机组能效对标中有哪些机组获奖？", awards)
    assert "六盘山热电1号机组荣获AAAA级" in text and "银星发电1号、2号机组荣获AAA级" in text


def test_photo_credit_line_answers_who_took_the_photo():
    credits = make_results(["图为发布现场。\n张可树 摄\n成为全球钢铁及先进材料业引领者", ROADMAP])
    text = answer("路线图发布现场的照片是谁拍摄的？", credits)
    assert "张可树 摄[1]" in text


def test_warm_cache_makes_answering_embed_nothing_and_changes_nothing():
    from rag.answer.extractive import warm_sentence_cache

    calls = []

    def embed(texts):
        calls.append(len(texts))
        return TOY.encode_passages(list(texts))

    cold = ExtractiveAnswerer(embed=embed).answer("太钢的碳中和目标是什么", CONTEXTS, TOY.encode_queries(["太钢的碳中和目标是什么"])[0])
    cache: dict = {}
    warmed = warm_sentence_cache([r.chunk for r in CONTEXTS], embed, cache, batch=4)
    calls.clear()

    warm = ExtractiveAnswerer(embed=embed, cache=cache).answer("太钢的碳中和目标是什么", CONTEXTS, TOY.encode_queries(["太钢的碳中和目标是什么"])[0])

    assert warmed == len(cache) > 0
    assert calls == []  # every sentence vector came from the warmed cache
    assert warm == cold


def test_a_sentence_naming_the_subject_by_its_head_noun_is_read_with_the_one_before():
    from rag.answer.extractive import RELEVANT

    filler = "".join(f"华岳集团第{i}次动员会召开，部署搬迁工作。" for i in range(RELEVANT + 2))
    passage = "华岳锌业搬迁项目是集团的重点项目。项目位于星海市临江工业园区，年产锌锭十万吨。" + filler
    question = "华岳锌业搬迁项目建在什么地方？"
    selection = ExtractiveAnswerer().select(question, make_results([passage]), TOY.encode_queries([question])[0])
    assert any(x.sentence.text.startswith("项目位于") for x in selection.relevant)
    assert selection.direct is not None and "临江工业园区" in selection.direct.sentence.text


def test_a_list_question_gathers_the_items_printed_as_headings():
    body = "各班组利用例会、工作群等多种形式学习传达上级关于安全工作的文件和讲话精神，层层压实责任，确保各项要求落到实处。"
    passage = (
        "华岳公司积极行动，牢牢把握安全工作主动权，全力做好安全工作。"
        "加强组织领导，严格落实责任。" + body + "开展隐患治理，强化源头管控。" + body.replace("学习", "认真学习")
        + "强化安全宣教，提高安全意识。" + body.replace("层层", "逐级")
    )
    text = answer("华岳公司从哪几个方面做好安全工作？", make_results([passage]))
    for item in ("加强组织领导", "开展隐患治理", "强化安全宣教"):
        assert item in text


def test_each_part_of_a_multi_part_question_gets_its_answer_first():
    passage = (
        "华岳锌业搬迁项目是集团转型升级的重点项目，各方高度重视，工程进展顺利，受到广泛关注。"
        "项目位于星海市临江工业园区。"
        "华岳锌业搬迁项目建成后，设计产能为年产锌锭15万吨。"
    )
    text = answer("华岳锌业搬迁项目建在哪里？设计产能是多少？", make_results([passage]))
    first, second = text.split("。")[:2]
    assert "临江工业园区" in first and "15万吨" in second


def test_several_people_asked_for_are_gathered_one_sentence_each():
    filler = "他们扎根一线多年，以实际行动诠释了爱岗敬业、精益求精的精神，带动身边职工共同进步，受到广泛好评。"
    passage = (
        "华岳集团组建劳模宣讲团，4位劳动模范走进基层开展宣讲。" + filler
        + "华岳铸造王建国是炉前的“指挥官”，扎根一线15年。" + filler.replace("多年", "多年来")
        + "华岳轧钢李秀英独创“稳准快”操作法，实现万吨零事故。" + filler.replace("广泛", "一致")
        + "华岳电力陈志刚12年如一日守护供电线路。"
    )
    text = answer("华岳集团劳模宣讲团的成员分别是谁？", make_results([passage]))
    for name in ("王建国", "李秀英", "陈志刚"):
        assert name in text
