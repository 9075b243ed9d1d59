"""Letter fields asked in many wordings (the proposer, whom a letter is written to, its own date), and answers kept to
letters about the place a question names."""

from __future__ import annotations

from pathlib import Path

import pytest

from rag import Analyzer, Answer, Index
from rag.answer import answer
from rag.answer.answer_type import missing_kind
from rag.answer.fields import asked_fields, date_forms, field_values
from rag.answer.places import bundled
from rag.parse import Letter
from rag.retrieve.hits import Hit

from .conftest import index_of_texts

CANTEEN = """某区民政局
关于推进社区老人食堂建设的答复
王明委员：
　　您提出的关于推进社区老人食堂建设的提案收悉，现答复如下：
　　目前，全区已建成社区老人食堂12家，老年人助餐点30个，为老年人提供就近就餐服务。
　　下一步，我局将继续推进社区老人食堂建设，扩大助餐服务覆盖面。
　　　　　　　　　　　　　　　　某区民政局
　　　　　　　　　　　　　　　　2023年5月8日
"""
HAIKOU = """海口市发展和改革委员会关于康养项目的会办意见
市卫生健康委员会：
　　我委已将海口市第四人民医院新院二期项目等18个公共卫生类项目纳入政府投资计划，并争取到中央预算内资金1200万元用于健康产业园项目建设。
"""
LAIWU = """莱芜区发展改革局关于发展大健康产业的答复
张强委员：
　　规划打造莱芜健康产业园项目，引导产业集聚发展。
"""


@pytest.mark.parametrize(("question", "language", "plain", "broad"), [
    ("Which CPPCC member wrote the proposal on community canteens?", "en", (), ("proposer",)),
    ("Who suggested building community canteens?", "en", (), ("proposer",)),
    ("Whose proposal did the civil affairs bureau answer?", "en", (), ("proposer",)),
    ("Which deputy raised it?", "en", ("addressee",), ("addressee", "proposer")),
    ("Which office were the comments sent to?", "en", (), ("addressee",)),
    ("这个提案的提案人是谁？", "zh", (), ("proposer",)),
    ("答复是写给哪个单位的？", "zh", (), ("addressee",)),
    ("由哪位领导签发？", "zh", ("signer",), ("signer",)),  # a leader who signs is no proposer
    ("How many canteens are there?", "en", (), ()),
])
def test_the_proposer_and_the_addressee_are_asked_in_many_wordings(question: str, language: str,
                                                                   plain: tuple[str, ...], broad: tuple[str, ...]):
    assert asked_fields(question, language) == plain
    assert asked_fields(question, language, broad=True) == broad


@pytest.mark.parametrize(("question", "language", "dated"), [
    ("When did the civil affairs bureau send its reply?", "en", True),
    ("What date is on the bureau's reply?", "en", True),
    ("这份复函是哪天发的？", "zh", True),
    ("会办意见的落款日期是哪天？", "zh", True),
    ("When did the State Council issue its opinion on healthy ageing?", "en", False),  # a date the letter reports
    ("湖北省委书记是哪天到蕲春调研的？", "zh", False),
])
def test_only_a_question_about_the_letters_own_date_asks_for_its_date_field(question: str, language: str,
                                                                          dated: bool):
    assert ("date" in asked_fields(question, language, dated=True)) is dated
    assert "date" not in asked_fields(question, language)


def test_a_date_field_is_matched_however_the_letter_writes_it():
    forms = date_forms("2025-12-01")
    assert {"2025-12-01", "2025年12月1日", "2025年12月01日", "二〇二五年十二月一日"} <= set(forms)
    assert date_forms("2025年") == []
    letter = Letter(letter_id="a", path="a.txt", text="", sha256="", date="2019-06-17")
    assert "2019年6月17日" in field_values(letter, ("date",))  # "2019 年6 月17 日" folds to this


def test_a_department_addressee_is_no_proposer():
    # a 会办意见 addressed to the department that answers the proposer passes on another's proposal: the proposer
    # is named where its body opens
    opening = "区发改委：\n　　张文浩委员提出的《关于产城融合的提案》收悉，经研究，现将会办意见函告如下：\n"
    department = Letter(letter_id="a", path="a.txt", text=opening, sha256="", addressee="区发改委")
    deputy = Letter(letter_id="b", path="b.txt", text="", sha256="", addressee="王明委员")
    several = Letter(letter_id="c", path="c.txt", text="省科技厅：\n程漫等3位代表提出的《建议》收悉。\n", sha256="",
                     addressee="省科技厅")
    nobody = Letter(letter_id="d", path="d.txt", text="代表您好：\n您提出的《建议》收悉。\n", sha256="",
                    addressee="代表")
    assert field_values(department, ("proposer",)) == ("张文浩",)
    assert field_values(department, ("addressee",)) == ("区发改委",)
    assert field_values(deputy, ("proposer",)) == ("王明委员",)
    assert field_values(several, ("proposer",)) == ("程漫",)
    assert field_values(nobody, ("proposer",)) == ()  # "代表" alone names nobody, nor does "您"


def _index(tmp_path: Path, analyzer: Analyzer, letters: dict[str, str]) -> Index:
    return index_of_texts(tmp_path, analyzer, **{name.removesuffix(".txt"): text for name, text in letters.items()}
                          ).with_config(abstain_threshold=0.0)


def test_the_letters_own_date_and_proposer_are_quoted_from_its_lines(tmp_path: Path, analyzer: Analyzer):
    index = _index(tmp_path, analyzer, {"canteen.txt": CANTEEN})
    dated = index.ask("关于社区老人食堂建设的答复是哪天发的？")
    assert not dated.abstained and "2023年5月8日" in dated.text
    assert "2023年5月8日" not in index.with_config(letter_date_field=False).ask(dated.question).text
    proposer = index.ask("推进社区老人食堂建设提案的提案人是谁？")
    assert not proposer.abstained and "王明委员" in proposer.text
    assert "王明委员" not in index.with_config(broad_field_cues=False).ask(proposer.question).text


def test_a_field_line_answers_the_kind_asked_and_keeps_the_confidence(tmp_path: Path, analyzer: Analyzer):
    index = _index(tmp_path, analyzer, {"canteen.txt": CANTEEN})
    question = "关于社区老人食堂建设的答复是哪天发的？"
    answer = index.ask(question)
    judged = index.with_config(field_line_answers=False).ask(question)
    # the date line shares no word with the question: as a sentence it holds too little of it to answer it
    assert answer.missing_kind == "" and judged.missing_kind == "date"
    assert answer.confidence > judged.confidence
    gated = index.with_config(answer_kind_gate=True)
    assert not gated.ask(question).abstained
    assert gated.with_config(field_line_answers=False).ask(question).abstained


def test_a_question_naming_a_place_is_not_answered_from_a_letter_about_another(tmp_path: Path, analyzer: Analyzer):
    index = _index(tmp_path, analyzer, {"haikou.txt": HAIKOU, "laiwu.txt": LAIWU})
    question = "莱芜区争取到多少中央预算内资金用于健康产业园项目建设？"
    unbound = index.with_config(place_bound_sentences=False, answer_kind_gate=False).ask(question)
    assert "1200万元" in unbound.text  # the Haikou letter's sum, about another park
    bound = index.with_config(answer_kind_gate=False).ask(question)
    assert "1200万元" not in bound.text and bound.missing_kind == "amount"  # the kind gate would decline it
    assert all(c.hit.letter_id == "laiwu" for c in bound.citations)


def test_a_letter_naming_only_a_place_around_the_one_asked_is_not_about_elsewhere():
    gazetteer = bundled()
    putuo = gazetteer.named("普陀区生命健康产业增速多少？")[0]
    assert not gazetteer.elsewhere(putuo, "上海市生物医药产品注册指导服务工作站为企业提供服务。")
    assert gazetteer.elsewhere(putuo, "海口市发展和改革委员会：我委已将项目纳入计划。")
    assert not gazetteer.elsewhere(putuo, "我区将推进生命健康产业发展。")  # names no place: may be from anywhere


@pytest.mark.parametrize(("question", "sentence", "missing"), [
    ("How many students will the new school take?", "对18所农村寄宿制学校的宿舍安装空调。", "count"),
    ("How many students will the new school take?", "新学校可容纳学生1200名。", None),
    ("What is the population of the county?", "全县65岁及以上老年人33700人。", None),
    ("What is the population of the county?", "全县已建成养老机构26家。", "count"),
    ("县里人口有多少？", "全县已建成养老机构26家。", "count"),
    # what "how many" asks about is counted, not another noun of the question
    ("How many smart blackboards does Wugang plan to buy for its schools?", "计划配备智慧黑板设备412套。", None),
    ("How many schools will get air conditioners?", "计划配备智慧黑板设备412套。", "count"),
    ("How many times have seniors swiped their cards?", "已累计完成12.67万人次刷卡消费。", None),
    ("How many times have seniors swiped their cards?", "全区共有助餐场所109个。", "count"),
    ("How many life science firms have moved in?", "目前入驻27家生命健康领域企业。", None),
    ("How many life science firms have moved in?", "36种药品纳入目录。", "count"),
    # up to four words name what is counted, up to the verb or preposition after them
    ("How many new elderly care beds will the district add?", "新建养老服务中心3个。", "count"),
    ("How many new elderly care beds will the district add?", "新增养老床位500张。", None),
    ("How many copies of the schools reply were sent?", "抄送:市政协提案委2份", None),
    # the thing counted may follow the number without a classifier: 6部门, 十大赛道, 十万百姓
    ("这个方案是几个部门一块发的？", "市卫生健康委、市民政局等6部门联合印发。", None),
    ("产业还分了多少条赛道？", "细分十大赛道。", None),
    ("产业还分了多少条赛道？", "聚焦四大领域。", "count"),
    ("How many ordinary people does the industry help?", "惠及十万百姓。", None),
])
def test_a_count_of_people_is_not_answered_by_a_count_of_something_else(question: str, sentence: str,
                                                                       missing: str | None):
    assert missing_kind(question, [sentence]) == missing


XUANZHOU = """宣州区民政局关于对第67号提案的答复
赵荣芳委员：
　　您在区政协会议上提出的关于要求推进社区食堂建设的提案收悉，现答复如下：
　　我局将推进社区食堂建设。
"""
JINGAN = """静安区民政局关于优化街镇助餐服务的答复
刘春燕代表：
　　您提出的关于优化统筹各街镇助餐服务方便老年人就餐的建议收悉。
　　全区共有老年人助餐场所109个，社区长者食堂31家。
"""


def test_the_proposer_is_read_from_the_letter_most_about_the_question(tmp_path: Path, analyzer: Analyzer):
    index = _index(tmp_path, analyzer, {"xuanzhou.txt": XUANZHOU, "jingan.txt": JINGAN})
    question = "宣州区推进社区食堂建设的提案是谁提的？"
    hits = index.search(question, k=8)
    # retrieval placing the other letter's passage first (as a real encoder may): its addressee names another
    hits = sorted(hits, key=lambda h: h.letter_id != "jingan")
    assert hits[0].letter_id == "jingan"

    def ask(index: Index) -> str:
        return _answer_text(index, question, hits)

    assert "赵荣芳委员" in ask(index)
    # the question names 宣州区: the letter about 静安 is about elsewhere, the placed hits' first letter is asked about
    assert "赵荣芳委员" in ask(index.with_config(field_letter_by_sentence=False))
    unplaced = index.with_config(field_letter_by_sentence=False, place_bound_sentences=False)
    assert "赵荣芳委员" not in ask(unplaced)
    assert "赵荣芳委员" in ask(unplaced.with_config(field_letter_by_sentence=True))


def test_a_typed_figure_in_a_letter_that_barely_uses_the_questions_words_still_answers(tmp_path: Path,
                                                                                      analyzer: Analyzer):
    canteen = ("静安区民政局关于老年助餐的答复\n刘春燕代表：\n"
               "　　优惠统一，开放敬老卡、社保卡等结算方式，同步落实持卡用户85折优惠。\n"
               "　　全区共有老年人助餐场所109个。\n")
    # the question's other words are in no letter here: the absent-word gate is not what this test is about
    index = _index(tmp_path, analyzer, {"canteen.txt": canteen}).with_config(max_absent_share=1.0)
    question = "老人持卡在社区长者食堂吃饭能打几折？"
    answer_ = index.ask(question)
    assert not answer_.abstained and "85折" in answer_.text
    # held to the fixed share, the 85折 sentence holds too little of the question (吃饭, 长者, 食堂 are not in it)
    strict = index.with_config(kind_overlap_relative=False).ask(question)
    assert strict.abstained and strict.missing_kind == "rate"


QICHUN = ("关于对省十三届人大五次会议第466号建议的答复\n田群代表：\n　　您提出的建议收悉。\n"
          "一、产业发展情况\n　　蕲春县积极布局大健康产业，依托蕲艾资源发展支柱产业。\n"
          "二、政策支持\n　　我委将加大对蕲春大健康产业发展的政策支持力度。\n")
HUASHAN = ("花山区民政局关于第78号提案办理情况的回复\n某某委员：\n　　您提出的关于社区食堂的提案收悉。\n"
           "一、建设情况\n　　大力推进社区食堂、老年助餐点建设，经过验收后发放一次性建设补贴。\n"
           "二、下一步\n　　继续提升老年助餐服务水平和质量。\n\n花山区民政局\n2023年8月31日\n"
           "联系人:余晓辉 联系电话:2472262\n")


@pytest.mark.parametrize(("letter", "question", "line"), [
    (QICHUN, "哪位代表提出要加大对蕲春大健康产业发展的政策支持？", "田群代表"),  # the addressee
    (HUASHAN, "社区食堂建设的事情找谁联系？", "余晓辉"),  # the contact
])
def test_a_field_line_is_quoted_when_no_retrieved_passage_holds_it(tmp_path: Path, analyzer: Analyzer, letter: str,
                                                                  question: str, line: str):
    index = _index(tmp_path, analyzer, {"letter.txt": letter})
    # the passages retrieved for the question's topic, not the header's or the signature's
    hits = [h for h in index.search(question, k=8) if line not in h.text]
    assert hits
    quoted = [c for c in _answer(index, question, hits).citations if line in c.quote]
    assert quoted and index.letter("letter").text[quoted[0].start:quoted[0].end] == quoted[0].quote
    assert line not in _answer_text(index.with_config(field_line_passages=False), question, hits)


def test_how_a_proposal_was_handled_is_a_field(tmp_path: Path, analyzer: Analyzer):
    assert "result" in asked_fields("Was the proposal adopted, fully or partly?", "en", result=True)
    assert "result" in asked_fields("南翔镇对这份提案的办理结果是什么？", "zh", result=True)
    assert "result" not in asked_fields("Was the proposal adopted, fully or partly?", "en")
    assert "result" in asked_fields("Did they take up the precision medicine suggestion?", "en", result=True)
    assert "result" in asked_fields("Did the bureau accept her proposal on canteens?", "en", result=True)
    assert "result" not in asked_fields("Do hospitals accept the innovation voucher?", "en", result=True)
    nanxiang = ("办理结果:部分采纳\n嘉定区经济委员会：\n　　关于精准医疗产业园的提案，南翔镇已集聚一批精准医疗企业。\n"
                "　　后期，希望区级层面对相关产业单位进行统一的政策指导。\n")
    index = _index(tmp_path, analyzer, {"nanxiang.txt": nanxiang})
    _quoted_only_with(index, "关于精准医疗产业园的提案，南翔镇采纳了吗？", "部分采纳", result_field=False)


def test_the_number_of_the_proposal_answered_is_a_field(tmp_path: Path, analyzer: Analyzer):
    for question, language in [("What number was the national deputy's suggestion on healthy ageing?", "en"),
                               ("What was the proposal number?", "en"), ("那个招生引资的提案是第几号？", "zh")]:
        assert "proposal" in asked_fields(question, language, numbered=True)
        assert "proposal" not in asked_fields(question, language)
    assert "proposal" not in asked_fields("On what number can I call the bureau?", "en", numbered=True)
    letter = Letter(letter_id="a", path="a.txt", sha256="", text="关于第200号建议的答复", proposal_number="200")
    assert field_values(letter, ("proposal",)) == ("200号",)  # not any 200 of the letter (200张床位)
    wacaochong = ("弥勒市民政局关于市人大代表建议第200号答复的函\n张三代表：\n"
                  "　　你提出的关于瓦草冲建老年活动室的建议收悉，现答复如下。\n　　活动室已建成200平方米。\n")
    index = _index(tmp_path, analyzer, {"wacaochong.txt": wacaochong})
    _quoted_only_with(index, "关于瓦草冲建老年活动室的那个建议是第几号？", "第200号", proposal_number_field=False)


def test_a_spaced_handling_result_label_is_read():
    letter = Letter(letter_id="a", path="a.txt", sha256="", text="| 办 理 结 果: | A |\n某某委员：\n")
    assert field_values(letter, ("result",)) == ("办理结果:|a",)


def test_the_replying_office_is_a_field(tmp_path: Path, analyzer: Analyzer):
    for question, language in [("Which Laiwu district office wrote back to the member?", "en"),
                               ("Which government office in Anning dealt with the request for a bus stop?", "en"),
                               ("这份答复是哪个部门发的？", "zh")]:
        assert "agency" in asked_fields(question, language, replying=True)
        assert "agency" not in asked_fields(question, language)
    # a co-handler or the departments that will act are no replying office
    assert "agency" not in asked_fields("Which district government helped handle the suggestion?", "en", replying=True)
    assert "agency" not in asked_fields("Which departments will support the park?", "en", replying=True)
    anning = ("关于对安宁市人大六届二次会议第28号建议的答复\n张三代表：\n"
              "　　您提出的增设公交站点的建议收悉，现答复如下。\n"
              "　　我局已会同公交公司实地查看，将在站点附近增设停靠站。\n\n安宁市交通运输局\n2018年12月1日\n")
    index = _index(tmp_path, analyzer, {"anning.txt": anning}).with_config(abstain_threshold=0.0, max_absent_share=1.0)
    _quoted_only_with(index, "Which government office in Anning dealt with the request for a new bus stop?",
                      "安宁市交通运输局[", agency_field=False)


@pytest.mark.parametrize(("question", "language", "signer"), [
    ("Who approved the Banan transport bureau's reply about buses?", "en", True),
    ("Which official reviewed and approved the reply?", "en", True),
    ("Was the hospital project approved last year?", "en", False),
    ("Who signed off on the Cixi health bureau's answer to the deputy?", "en", True),
    ("When was the Cixi health bureau's reply on local medical device use signed and dated?", "en", True),
    ("Who had to sign off on adding buses for the Matian road?", "en", False),  # the buses' approval, not the reply's
    ("How many people have signed up online for the meal card?", "en", False),
    ("这份答复是哪位领导审定的？", "zh", True),
    ("麻天路能不能通车，是哪几家单位一起去审定的？", "zh", False),  # units that examined the road, no signer
])
def test_who_approved_the_reply_asks_its_signer(question: str, language: str, signer: bool):
    assert ("signer" in asked_fields(question, language)) is signer


def test_the_field_letter_is_the_one_naming_the_person_the_question_spells(tmp_path: Path, analyzer: Analyzer):
    jingan = ("对区政协二届六次会议第126号提案的答复\n刘春燕委员：\n"
              "　　您提出的关于老年人就餐的提案收悉。\n　　全区老年人助餐场所109个，老年人就餐更加方便。\n")
    huashan = ("花山区民政局关于对花山区政协第二次会议第78号提案办理情况的回复\n仇有福委员：\n"
               "　　你提出的关于老年助餐维持正常运转的提案收悉。\n　　全区正式运营的社区助餐中心62个。\n")
    index = _index(tmp_path, analyzer, {"jingan.txt": jingan, "huashan.txt": huashan}).with_config(
        max_absent_share=1.0, place_gate=False)
    question = "What number was Qiu Youfu's proposal about meals for older people?"
    # the other letter's passages first, as a search may rank them
    hits = sorted(index.search(question, k=8), key=lambda h: h.letter_id != "jingan")
    assert "第78号" in _answer_text(index, question, hits)
    assert "第78号" not in _answer_text(index.with_config(named_field_letter=False), question, hits)


def test_the_departments_the_reply_was_settled_with_are_a_field(tmp_path: Path, analyzer: Analyzer):
    for question, language in [("Which district government helped handle the suggestion on the park?", "en"),
                               ("Which science funding body did the ministry talk to before answering?", "en"),
                               ("Which departments were consulted on the reply?", "en"),
                               ("这件建议还会同了哪些部门？", "zh"), ("市里跟哪些部门一起研究的？", "zh")]:
        assert "consulted" in asked_fields(question, language, consulted=True), question
        assert "consulted" not in asked_fields(question, language)
    for question in ["Which departments will support the park?", "Who can help companies register devices?",
                     "What will the bureau do together?"]:
        assert "consulted" not in asked_fields(question, "en", consulted=True), question
    letter = Letter(letter_id="a", path="a.txt", sha256="", text=(
        "您的建议收悉。经商人社部、财政部，现答复如下。\n我部会同财政部等部门持续加大资金扶持。\n"))
    assert field_values(letter, ("consulted",)) == ("经商人社部、财政部,现答复如下",)  # not the later 会同 of a policy
    park = ("关于医疗器械产业园建议的答复\n张三代表：\n"
            "　　你提出的关于建设医疗器械产业园的建议收悉。"
            "经与市财政局、市场监管局、南岸区政府共同研究办理，现答复如下。\n"
            "　　医疗器械产业园位于经济技术开发区，园区已入驻医疗器械企业30余户。\n"
            "　　园区临床服务快捷，附属医院拥有16个医疗器械临床组。\n"
            "　　园区产业政策支撑有力，区政府出台了加快医疗器械企业聚集发展的若干办法。\n"
            "　　下一步，区政府将继续建设医疗器械产业园，推动医疗器械产业发展。\n"
            "　　区政府将支持园区医疗器械企业开展研发，对产业园企业给予房租补贴。\n")
    _quoted_from_only_with(_index(tmp_path, analyzer, {"park.txt": park}),
                           "Which district government helped handle the suggestion on the medical device park?",
                           "南岸区政府", consulted_field=False)


def _quoted_from_only_with(index: Index, question: str, quote: str, **off: bool) -> None:
    """:func:`_quoted_only_with` whatever share of the question's words the letters lack (a one-letter index)."""
    _quoted_only_with(index.with_config(max_absent_share=1.0), question, quote, **off)


def _quoted_only_with(index: Index, question: str, quote: str, **off: bool) -> None:
    """``quote`` is in the answer to ``question``, and not once the ``off`` settings are applied."""
    assert quote in index.ask(question).text
    assert quote not in index.with_config(**off).ask(question).text


def test_a_field_is_read_from_the_letter_naming_the_place_asked_about(tmp_path: Path, analyzer: Analyzer):
    xuanzhou = ("关于对宣州区政协第四次会议第67号提案的答复\n赵荣芳委员：\n"
                "　　您提出的关于推进社区食堂建设的提案收悉。\n"
                "　　我局将推进社区老人食堂建设。\n")
    nowhere = ("对区二届人大六次会议第126号代表建议的答复\n刘春燕代表：\n　　您提出的优化社区食堂的建议收悉。\n"
               "　　全区共有社区长者食堂31家。\n")
    index = _index(tmp_path, analyzer, {"xuanzhou.txt": xuanzhou, "nowhere.txt": nowhere})
    question = "What number was the Xuanzhou proposal asking for community canteens?"
    # the letter naming no place ranks first (it may be from anywhere, so the place gate keeps it)
    hits = sorted(index.search(question, k=8), key=lambda h: h.letter_id != "nowhere")
    assert hits[0].letter_id == "nowhere"

    def ask(index: Index) -> str:
        return _answer_text(index, question, hits)

    assert "第67号" in ask(index) and "第126号" not in ask(index)
    assert "第126号" in ask(index.with_config(place_bound_sentences=False))  # the first hit's letter's number too


def test_who_to_call_asks_the_contact_and_naming_a_scheme_does_not():
    assert "contact" in asked_fields("Who can I call at the Huashan civil affairs office about this reply?", "en")
    assert "contact" not in asked_fields("What did Hebei call its way of pitching projects online?", "en")


def _answer(index: Index, question: str, hits: list[Hit]) -> Answer:
    """The answer to ``question`` from the given ``hits`` (not the index's own search)."""
    return answer(question, hits, encoder=index.encoder, analyzer=index.analyzer, statistics=index._stores.lexical,
                  letters={letter.letter_id: letter for letter in index.letters}, config=index.config)


def _answer_text(index: Index, question: str, hits: list[Hit]) -> str:
    return _answer(index, question, hits).text
