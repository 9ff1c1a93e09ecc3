from rag.text.answer_type import (
    another_year,
    answer_clause,
    credits_person,
    deputy_only,
    names_holder,
    names_another_work,
    holds_answer,
    names_member,
    owned_by_another,
    same_measure,
)


def test_a_person_is_a_name_the_question_does_not_already_give():
    assert holds_answer("person", "太重集团党委书记、董事长韩珍堂到现场检查指导。", "太重集团的党委书记是谁")
    assert not holds_answer("person", "太重集团召开安全生产会议。", "太重集团的党委书记是谁")


def test_a_quantity_is_a_number_with_a_unit_and_a_year_alone_is_not():
    assert holds_answer("number", "公司现有员工1200名。", "公司有多少名员工")
    assert holds_answer("number", "产能达到三十万吨。", "产能多少")
    assert not holds_answer("number", "2024年公司稳步发展。", "公司有多少名员工")


def test_one_of_something_is_an_article_not_a_count():
    assert not holds_answer("number", "这只是公司工作的一个缩影。", "有多少名职工")
    assert holds_answer("number", "共有两个车间参加。", "有多少个车间")


def test_a_name_is_a_proper_name_or_a_quoted_title():
    assert holds_answer("name", "设备发往山西华晋煤矿。", "设备是给哪个煤矿做的")
    assert holds_answer("name", "这款大模型名为“坤元”。", "这款大模型叫什么")
    assert not holds_answer("name", "设备按期发货。", "设备是给哪个煤矿做的")


def test_a_time_is_a_date():
    assert holds_answer("time", "项目于3月5日开工。", "项目什么时候开工")
    assert not holds_answer("time", "项目进展顺利。", "项目什么时候开工")


def test_untyped_questions_accept_any_sentence():
    assert holds_answer("thing", "任何句子。", "目标是什么")


def test_the_answer_clause_is_the_clause_holding_the_fact():
    sentence = "1月5日上午，在安全生产检查中，太重集团党委书记、董事长韩珍堂带队，深入生产一线察看。"
    start, end = answer_clause("person", sentence, "太重集团的党委书记是谁")
    assert "韩珍堂" in sentence[start:end]
    assert "察看" not in sentence[start:end]


def test_a_person_clause_ends_with_the_name():
    sentence = "当天，某重工集团党委书记、董事长王建国深入车间、仓库和食堂检查安全生产工作，慰问一线职工。"
    start, end = answer_clause("person", sentence, "某重工集团的党委书记是谁")
    assert sentence[start:end] == "某重工集团党委书记、董事长王建国"


def test_an_attribute_of_another_organisation_does_not_answer():
    asked = ("某钢集团", "总经理")
    assert owned_by_another(*asked, "某钢共享党委书记、总经理 李明")  # a subsidiary named by a verb
    assert owned_by_another(*asked, "某钢股份贵州分公司总经理 李明")  # a branch named by a place
    assert not owned_by_another(*asked, "某钢集团公司总经理李明出席。")
    assert not owned_by_another(*asked, "某钢总经理李明出席。")  # the name proper alone
    assert not owned_by_another(*asked, "公司总经理李明出席。")  # no owner named: benefit of the doubt
    assert not owned_by_another("", "总经理", "某钢共享总经理李明")  # no owner asked
    assert owned_by_another("某钢油膜分公司", "经理", "某重集团公司总经理李明")  # another organisation named


def test_credits_in_news_style():
    assert credits_person("图为发布会现场。 张明 摄")
    assert credits_person("□ 王红")  # a byline
    assert credits_person("（李华 赵明）")  # the authors closing an article
    assert not credits_person("（下转第二版）")


def test_a_deputy_is_another_role():
    assert deputy_only("厅长", "会上，省交通厅副厅长王明讲话。", "省交通厅的厅长是谁")
    assert not deputy_only("厅长", "省交通厅厅长李华、副厅长王明出席。", "省交通厅的厅长是谁")
    assert not deputy_only("厅长", "会上，省交通厅副厅长王明讲话。", "省交通厅的副厅长是谁")


def test_a_figure_of_another_year_does_not_answer():
    assert another_year(("2023",), "2024年，全市新增装机500兆瓦。")
    assert not another_year(("2023",), "2023年，全市新增装机500兆瓦。")
    assert not another_year(("2023",), "全市新增装机500兆瓦。")  # no year stated: it may be the asked one
    assert not another_year((), "2024年，全市新增装机500兆瓦。")


def test_which_x_is_answered_by_a_named_x():
    assert names_member("社区", "志愿者走进城东社区慰问老人。", "志愿者去的是哪个社区")
    assert not names_member("社区", "志愿者为老人送去祝福。", "志愿者去的是哪个社区")


def test_a_fact_about_another_titled_work_does_not_answer():
    question = "纪录片《山河》的片长是多少？"
    assert names_another_work(question, "该片的另一译名为《远方》，片长为 95 分钟。")
    assert not names_another_work(question, "《山河》片长为 95 分钟。")
    assert not names_another_work(question, "片长为 95 分钟。")  # no title: the passage's own film
    assert not names_another_work("这部纪录片的片长是多少？", "《远方》片长为 95 分钟。")


def test_a_question_that_names_its_unit_is_answered_in_that_unit():
    question = "该矿探明的储量是多少吨？"
    assert holds_answer("number", "该矿探明储量120万吨。", question, unit="吨")
    assert not holds_answer("number", "该矿已有工人300名。", question, unit="吨")
    assert holds_answer("number", "该矿已有工人300名。", question)  # no unit asked: any quantity
    # a multiplier and 余 between the number and the unit: 12万余元 is a sum of money
    assert holds_answer("number", "公司捐助12万余元。", "公司捐了多少钱？", unit="钱")


def test_units_that_count_the_same_thing():
    assert same_measure("名", "人") and same_measure("吨", "万吨") and same_measure("钱", "亿元")
    assert not same_measure("吨", "人") and not same_measure("钱", "个")


def test_the_name_must_go_with_the_asked_role():
    asked = "华岳集团的党委书记是谁？"
    assert names_holder("党委书记", "华岳集团党委书记、董事长李明出席会议。", asked)
    assert names_holder("党委书记", "会上，李明任华岳集团党委书记。", asked)
    assert not names_holder("党委书记", "李明说，华岳集团党委书记要带头。", asked)  # not in its clause
    assert names_holder("党委书记", "李明任党委书记。", asked)
    assert not names_holder("党委书记", "由党委书记领学，深入学习王华同志的先进事迹。", asked)
    assert not names_holder("党委书记", "王华总书记的重要讲话。", asked)  # another title sharing its characters
    assert names_holder("导演", "这部影片由张伟执导。", "这部影片的导演是谁？")  # the role's verb, touching the name
    assert not names_holder("副组长", "领导小组组长李明检查工作。", "领导小组的副组长是谁？")


def test_a_member_of_the_asked_category_is_named_not_just_visited():
    from rag.text.answer_type import names_member

    assert not names_member("社区", "星海公司走进社区，开展志愿活动。", "在哪个社区？")  # 走进: a verb
    assert names_member("社区", "星海公司走进和平社区，开展志愿活动。", "在哪个社区？")
    assert names_member("机组", "其中3号机组荣获一等奖。", "哪个机组获奖？")


def test_another_round_does_not_answer_the_asked_one():
    from rag.text.answer_type import another_ordinal

    assert another_ordinal("第二轮巡察何时启动？", "自首轮巡察工作启动以来，共发现问题30个。")
    assert not another_ordinal("第二轮巡察何时启动？", "第二轮巡察于3月启动。")
    assert not another_ordinal("首轮巡察发现了多少问题？", "第一轮巡察发现问题30个。")  # 首 is 第一
    assert not another_ordinal("巡察何时启动？", "首轮巡察于3月启动。")  # no round asked


def test_a_code_is_a_number_only_when_the_question_does_not_name_it():
    assert holds_answer("number", "热线：0731-12388。", "热线号码是多少？")
    assert not holds_answer("number", "华岳科技（301175）今日收涨。", "华岳科技（301175）的营收是多少？")


def test_the_answer_clause_is_the_one_naming_the_asked_attribute():
    sentence = "今年华岳市要新建污水管网70公里，其中市本级42公里；改造雨水管网36公里。"
    start, end = answer_clause("number", sentence, "华岳市今年要改造多少公里雨水管网？", "公里", ("雨水",))
    assert sentence[start:end].startswith("改造雨水管网36公里")
    start, end = answer_clause("time", "2022年5月，华岳发布路线图；5月18日起正式实施。", "路线图哪一天实施？", "日")
    assert "18日" in "2022年5月，华岳发布路线图；5月18日起正式实施。"[start:end]


def test_a_datelines_date_is_the_reports_not_the_events():
    assert not holds_answer("time", "新华社北京8月11日电 该产品将于近期上市。", "该产品哪一天上市？", "日")
    assert not holds_answer("time", "IT之家 8 月 11 日消息，该产品将于近期上市。", "该产品哪一天上市？", "日")
    assert holds_answer("time", "该产品将于8月18日上市。", "该产品哪一天上市？", "日")


def test_a_fact_of_a_sibling_grade_is_another_grade():
    from rag.text.answer_type import another_grade
    assert another_grade("星海市有多少家大型医院？", "星海市共有中型医院12家。")
    assert not another_grade("星海市有多少家大型医院？", "星海市共有大型医院3家、中型医院12家。")
    assert not another_grade("星海市有多少家医院？", "星海市共有中型医院12家。")
