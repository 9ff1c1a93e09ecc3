from rag.text.question import found, near, profile, term_weight


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


def test_answer_type_and_focus_come_from_the_question_word():
    asked = profile("太钢集团的总经理是谁？")
    assert (asked.answer_type, asked.focus) == ("person", ("总经理",))
    asked = profile("泰鑫瓷业有多少名员工？")
    assert (asked.answer_type, asked.focus) == ("number", ("员工",))  # the noun after 多少名, not the firm
    assert profile("项目什么时候开工？").answer_type == "time"  # 什么 + 时候
    assert profile("第一书记叫什么名字？").answer_type == "person"
    assert profile("中铝集团在减排方面做了哪些工作").answer_type == "list"
    assert not profile("太钢的碳中和目标是什么").wants_fact


def test_the_focus_is_the_head_of_the_phrase_the_question_word_ends():
    # jieba tags 载重 as a distinguishing word; the noun before 的 (货车) is another phrase
    assert profile("这款新型货车的最大载重是多少").focus == ("载重",)
    # a verb after the question word: it asks when something happened, not about a noun after it
    assert profile("该厂是哪一年被评为先进集体的？").event == ("评为", "先进集体")
    # a when-question about an event: the event's verb, past an aspect verb (开始)
    assert profile("这座大桥是哪一年开始建造的？").event == ("建造",)
    # whatever jieba tags the subject of "X 是 what" (组长/v, 比分/d), it is the focus
    assert profile("这场比赛的比分是多少？").focus == ("比分",)
    # a question word jieba splits is one question word again (多|大)
    assert profile("这座水库的库容有多大？").answer_type == "number"
    # "which X" and "X 叫什么" ask for a name
    assert profile("这批设备是给哪个煤矿做的？").answer_type == "name"
    assert profile("那位负责人叫什么？").answer_type == "name"
    # who organised it: a person or an organisation
    assert profile("这次研讨会是谁主办的？").answer_type == "name"
    # a when-question's event is its verb and the verb's object: a paper may use another verb
    assert profile("该厂是哪一年获得质量金奖的？").event == ("获得", "质量", "金奖")
    # with no object, the event takes the question's subject (the event may be named another way)
    assert profile("那场暴雨是哪天出现的？").event == ("出现", "暴雨")
    # "which X" asks for a member of X
    assert profile("志愿者去的是哪个社区？").which == "社区"
    # a word jieba tags as a name but ending in a generic noun is no name (那|段时间)
    assert "段时间" not in profile("坚守的那段时间，工厂拿出了哪些成果？").entities
    # a question word ending its clause never takes its focus from the next clause
    assert profile("该报的主办单位是谁？统一刊号是多少？").focus == ("主办单位",)


def test_a_multi_part_question_is_not_one_typed_fact():
    asked = profile("改造花了多长时间、多少钱？")
    assert asked.questions_asked == 2 and not asked.wants_fact


def test_content_bigrams_come_from_content_words_only():
    asked = profile("太钢的碳中和目标是什么")
    assert "碳中和" in asked.terms  # jieba splits it 碳|中|和; the one-character run is joined again
    assert {"太钢", "碳中", "中和", "目标"} <= asked.content_bigrams
    assert not {"钢碳", "中目", "和目"} & asked.content_bigrams  # no pairs across words or dropped words


def test_near_accepts_another_form_of_the_same_attribute():
    assert near("价格", "售价198元")
    assert near("总经理", "副总经理张三")
    assert not near("总经理", "董事长盛更红")


def test_duo_before_a_one_character_adjective_asks_for_a_number():
    assert profile("这条河有多宽？").answer_type == "number"
    assert profile("潜水器能下潜多深？").answer_type == "number"
    assert profile("参会的人多不多？").answer_type is None  # 多 as a verb of quantity asks nothing typed


def test_the_unit_a_how_many_question_names():
    assert profile("该矿探明的储量是多少吨？").unit == "吨"
    assert profile("公司一共捐了多少钱？").unit == "钱"
    assert profile("该厂的营收是多少？").unit == ""


def test_a_how_many_question_after_a_verb_counts_what_follows_not_the_subject():
    # 捐了多少钱: the money given, not an attribute of the donor (厂)
    assert profile("某厂向红十字会捐了多少钱？").focus == ()
    assert profile("该厂今年一共招聘了多少名员工？").focus == ("员工",)
    assert profile("该园区光伏电站的装机容量有多大？").focus == ("装机容量",)  # 有 is no action
    # a change with no unit asked (下降了多少) is the subject's: its attribute stays the focus
    assert profile("某厂二氧化硫排放量同比下降了多少？").focus == ("排放量",)


def test_a_who_question_joined_by_a_copula_to_its_focus_asks_who_holds_that_role():
    for question, owner in [("华岳机床厂的厂长是谁？", "华岳机床厂"), ("谁是华岳集团的董事长？", "华岳集团"), ("华岳集团董事长是谁？", "")]:
        asked = profile(question)
        assert asked.role and asked.focus[0] in ("厂长", "董事长"), question
        assert asked.owner == owner or not owner, (question, asked.owner)
    assert not profile("这次研讨会是谁主办的？").role  # who did it, not who holds a role
    assert not profile("这本书是哪位作家写的？").role  # which of a kind did it


def test_a_verb_before_a_one_character_head_stays_in_the_owner():
    assert profile("华岳锻压厂的厂长是谁？").owner == "华岳锻压厂"  # 锻压 is tagged a verb


def test_how_deep_or_how_heavy_asks_for_a_length_or_a_weight():
    assert profile("这颗卫星有多重？").unit == "重"
    assert profile("这台装备能在多深的水下作业？").unit == "深"
    assert profile("巡察的覆盖率有多高？").unit == ""  # a rate as often as a height


def test_a_classifier_before_a_unit_gives_way_to_the_unit():
    assert profile("职工们坚守了多少个小时？").unit == "小时"
    assert profile("一共来了多少个代表团？").unit == "个"


def test_an_abbreviation_is_matched_by_its_characters_in_order():
    from rag.text.question import abbreviates

    assert abbreviates("华电联", "华岳电力企业联合会发布结果")
    assert not abbreviates("华电联", "华岳集团发布结果，电力企业参加联合会")  # too far apart
    assert not abbreviates("电联", "电力联合会")  # two characters say too little


def test_a_name_set_up_as_the_topic_owns_the_asked_attribute():
    assert profile("华岳电子的母公司星海集团，董事长是谁？").owner == "星海集团"
    assert profile("今年春天，董事长是谁？").owner == ""  # a time is no topic


def test_a_how_many_question_counts_the_head_of_the_noun_after_it():
    assert profile("新城将配置多少张高档康复床位？").focus == ("床位",)
    assert profile("新城将配置多少张高档康复床位？").unit == "张"
    assert profile("商家以每套多少钱的价格卖出礼盒？").focus == ("价格",)  # 多少钱|的|价格


def test_an_owner_after_a_demonstrative_refers_back_and_is_no_name():
    assert profile("星海公司被处罚，对该机构的罚款共计多少？").owner == ""
    assert profile("星海公司的罚款共计多少？").owner == "星海公司"


def test_who_holds_an_office_asked_by_its_verb():
    asked = profile("华岳铸造厂厂长由谁担任？")
    assert asked.role and asked.focus[0] == "厂长" and asked.event == ()


def test_a_what_question_names_the_kind_of_thing_it_asks_for():
    assert profile("王明在华岳集团担任什么职务？").category == "职务"
    assert profile("华岳集团的职务调整是什么？").category == ""  # the focus before the question word


def test_a_date_asked_in_two_question_words_is_asked_to_the_day():
    asked = profile("新厂房是几月几日正式投产的？")
    assert asked.answer_type == "time" and asked.date_unit == "日" and asked.event[0] == "投产"


def test_a_product_jieba_tags_as_a_name_is_what_a_how_many_question_counts():
    assert profile("新厂建成后一年能产多少锌锭？").focus == ("锌锭",)


def test_which_hospital_asks_for_a_member_named_as_such_which_firm_does_not():
    assert profile("伤者被送往哪家医院救治？").which == "医院"
    assert profile("这批设备是哪家企业生产的？").which == ""  # a firm is named 某某集团 as often


def test_a_one_character_verb_of_motion_leads_to_the_event_asked_about():
    assert profile("王明是哪一年去西安参加新厂建设的？").event[0] == "参加"


def test_the_type_of_the_several_answers_a_question_asks_for():
    assert profile("宣讲团的4位成员分别是谁？").members == "person"
    assert profile("公司的办事处设在哪些城市？").members == "place"
    assert profile("宣讲团有哪几位成员？").members == "person"
    assert profile("宣讲团的团长是谁？").members == ""
    assert profile("凉山矿业党员都去了哪几所干部学院？").answer_type == "list"  # 哪|几所


def test_an_office_followed_by_the_verb_of_naming_asks_its_holder():
    assert profile("星海电厂的厂长叫什么名字？").role
    assert profile("星海电厂的厂长叫什么名字？").focus == ("厂长",)
    assert not profile("星海电厂开展的竞赛叫什么？").role
