"""The answer-type check: what kind of answer a question asks for, whether a sentence holds one, and the gate."""

from __future__ import annotations

from pathlib import Path

import pytest

from rag import Analyzer, Index, answer_to_dict
from rag.answer.answer_type import asked_kind, lists_answers, missing_kind
from rag.answer.extractive import compose
from rag.answer.scoring import Sentence, SentenceEvidence
from rag.retrieve.hits import Hit

from .conftest import index_of_texts


@pytest.mark.parametrize(("question", "kind"), [
    ("城口县社区医养中心项目总投资是多少万元？", "amount"),
    ("西安高新区对取得注册证的企业奖励多少钱？", "amount"),
    ("How much did phase I of the upgrade project cost?", "amount"),
    ("What monthly operating subsidy does Hefei give each elderly canteen?", "amount"),
    ("宁波市第一医院采购了多少台乳腺癌筛查设备？", "count"),
    ("How many ICU beds does the hospital have?", "count"),
    ("医保目录对中药饮片的报销比例是多少？", "rate"),
    ("贵州省农村生活污水治理率目前是多少？", "rate"),
    ("What share of clinical trial costs can a device maker recover?", "rate"),
    ("By how much did coronary stent prices fall?", "rate"),
    ("麻天路什么时候能通公交？", "date"),
    ("In what year did the Ming dynasty end?", "date"),
    ("When did provincial experts review the sewage projects?", "date"),
    ("办理经营许可证需要多少个工作日？", "duration"),
    ("How many working days does Hebei need to approve a registration?", "duration"),
    ("How often do disabled elderly people get home visits?", "duration"),
    ("联系人和电话是什么？", "phone"),
    ("Who should I contact about the proposal, and on what number?", "phone"),
    ("创新医疗器械特别审查由哪个机构负责？", "unit"),
    ("Which office in the ecology and environment branch is handling the proposal?", "unit"),
    # a rate or a limit named after a copula and modifiers; a limit or standard of money asked in Chinese
    ("What is the VAT rate on imported scanners?", "rate"),
    ("What is the extra deduction ratio for research spending?", "rate"),
    ("What price cap applies to coronary stents?", "amount"),
    ("What is the subsidy ceiling per bed?", "amount"),
    ("What is the maximum grant a firm can receive?", "amount"),
    ("养老机构床位补贴标准是多少？", "amount"),
    ("研发奖励上限是多少？", "amount"),
    ("首台套保险最高能补多少？", "amount"),
    ("报销比例最高能到多少？", "rate"),
    ("What is the deadline for applications?", "date"),
    # "how much" of a thing is a quantity in its unit, of money (or before a money word) a sum; a length is a measure
    ("How much waste per day did the district's own plants handle?", "count"),
    ("How much land was set aside for the ginseng nursery?", "count"),
    ("How much central funding did the county receive?", "amount"),
    ("How much money was spent on the road?", "amount"),
    ("How much repair money has the Oujiang bridge received?", "amount"),
    ("新增的交通标线有多长？", "count"),
    ("这条路修了多宽？", "count"),
    ("审批需要多长时间？", "duration"),
])
def test_the_kind_a_question_asks_for_is_found_in_both_languages(question: str, kind: str):
    assert asked_kind(question) == kind


@pytest.mark.parametrize("question", [
    "What is the document number of the Hebei industry department's reply?",  # a number, but not a count
    "贵州哪几个县列入了农业现代化示范区创建名单？",  # which counties: names, not a count
    "How much faster is device registration in the park?",  # a comparison, answered in months or words
    "On average, how much cheaper did the negotiated drugs become?",  # a difference, often a rate (降幅44%)
    "Who is the named contact person on the reply?",  # a person's name has no shape to check
    "What subsidies exist for Class II device registration?",  # a kind of support, not an amount
    "二类医疗器械注册有哪些补助或支持？",
    "Can clinical trial costs be paid with innovation vouchers?",  # yes or no, not a sum
    "Is there an annual subsidy for elderly canteens?",
    "Is there a cap on the subsidy?",  # yes or no
    "Was the growth rate discussed?",  # yes or no, though it names a rate
    "烟台发改委那份答复回的是第几号提案？",  # a proposal's number, not a day of the month (几号)
    "这个服务平台在西部地区排第几家？",  # a rank (首家), not a count
    "When Hebei invites business leaders, which global companies does it want to bring in?",  # "when" opens a clause
])
def test_questions_asking_for_no_checkable_kind_have_none(question: str):
    assert asked_kind(question) is None
    assert missing_kind(question, ["这句话什么也没说。"]) is None


@pytest.mark.parametrize(("question", "holding", "lacking"), [
    ("项目总投资是多少？", "项目总投资1.2亿元。", "项目已完成可行性研究。"),
    ("What is the total investment for phase I?", "一期总投资三千万元。", "一期将于年底完工。"),
    ("奖励多少钱？", "按设备投入最高400万进行奖励。", "对企业给予专项支持。"),
    ("规划设置多少张床位？", "规划设置床位一百二十张。", "共纳入18个公共卫生类项目。"),
    ("How many beds will phase II have?", "二期设置床位600张。", "二期共建设18个项目。"),
    ("城口县有多少家老龄友善医院？", "老龄友善医院28家。", "2017年起开展创建。"),  # a year counts nothing
    ("渝中区大概有多少家中医药机构？", "截2023年底,辖区中医药机构逾450", "辖区中医药机构众多。"),
    ("报销比例是多少？", "按规定给予30%补助。", "纳入医保报销范围。"),
    ("What share of the costs is reimbursed?", "报销百分之七十。", "纳入医保报销范围。"),
    ("什么时候能通公交？", "预计将于2020年12月底前开行。", "正在协调有关部门。"),
    ("需要几个工作日？", "5个工作日内即可开展临床试验。", "将进一步压缩审批时限。"),
    ("联系电话是多少？", "联系人及电话：梁沛 0311-87801895", "联系人：梁沛"),
    ("由哪个部门牵头？", "由历史文化街区管委会牵头。", "将组建工作专班。"),
    ("How much waste did the district's plants handle each day?", "区级终端合计处置垃圾日均量为258吨。",
     "垃圾分类工作有序推进。"),
    ("新画了多长的交通标线？", "增设交通标线约1.1万米。", "增设交通标志。"),
    # "几个人": people are counted in 人, whatever classifier the question puts before them
    ("平均每个社区配了几个人？", "平均每个社区配置了12人。", "社区工作者实行统一招聘。"),
])
def test_a_sentence_holds_the_kind_asked_or_lacks_it(question: str, holding: str, lacking: str):
    assert missing_kind(question, [lacking, holding]) is None
    assert missing_kind(question, [lacking]) == asked_kind(question)


def _evidence(question: str, sentence_text: str) -> SentenceEvidence:
    hit = Hit(text=sentence_text, score=1.0, letter_id="a", chunk_id="a#0", start=0, end=len(sentence_text),
              section="", title=None, agency=None, doc_number=None, date=None, citation="a", rank=1,
              dense_score=0.9, lexical_score=1.0, path="")
    sentence = Sentence(hit, 0, len(sentence_text), sentence_text, 0.9, 1.0, 0.0, 1.2)
    return SentenceEvidence(question, "en", (hit,), (sentence,), 1.0, 0.9)


def test_compose_declines_a_typed_question_its_quotes_do_not_answer_and_says_why():
    declined = compose(_evidence("How much did phase I cost?", "一期工程已于去年完工。"), threshold=0.5, kind_gate=True)
    assert declined.abstained and not declined.citations and declined.missing_kind == "amount"
    assert tuple(map(str, declined.notes)) == (
        "the letter found states no amount of money, which the question asks for",)
    assert answer_to_dict(declined)["missing_kind"] == "amount"
    answered = compose(_evidence("How much did phase I cost?", "一期工程总投资1.2亿元。"), threshold=0.5,
                       kind_gate=True)
    assert not answered.abstained and answered.missing_kind == "" and "1.2亿元" in answered.text
    ungated = compose(_evidence("How much did phase I cost?", "一期工程已于去年完工。"), threshold=0.5)
    assert not ungated.abstained and ungated.missing_kind == "amount"  # still reported, for the evaluation


HOSPITAL = """某县卫生健康局
关于加快县人民医院新院区建设的答复
王明代表：
　　您提出的建议收悉，现答复如下：
　　县人民医院新院区二期工程将建设康复楼和护理楼，规划设置床位600张，计划于明年开工建设。
　　感谢您对我县卫生健康事业的关心和支持。
"""
CANTEEN = """某区民政局
关于发展社区老年助餐服务的答复
李华委员：
　　您提出的建议收悉，现答复如下：
　　全区已建成社区长者食堂12家，为老年人提供午餐和送餐上门服务，就餐老人可享受八五折优惠。
　　感谢您对我区养老服务工作的关心。
"""


@pytest.fixture()
def two_letter_index(tmp_path: Path, analyzer: Analyzer) -> Index:
    """Two letters written here: a hospital's phase II (its beds, no investment) and canteens (a count, a rate)."""
    index = index_of_texts(tmp_path, analyzer, hospital=HOSPITAL, canteen=CANTEEN)
    return index.with_config(abstain_threshold=0.0, max_absent_share=1.0)  # only the answer-type gate decides


def test_a_typed_question_whose_letter_lacks_that_kind_is_declined(two_letter_index: Index):
    answer = two_letter_index.ask("县人民医院新院区二期工程总投资是多少万元？")
    assert answer.abstained and not answer.citations and answer.missing_kind == "amount"
    assert answer.hits[0].letter_id == "hospital"  # the letter about the very project, which gives no figure
    assert "amount of money" in str(answer.notes[0])
    ungated = two_letter_index.with_config(answer_kind_gate=False).ask("县人民医院新院区二期工程总投资是多少万元？")
    assert not ungated.abstained and "康复楼" in ungated.text


@pytest.mark.parametrize(("question", "figure"), [
    ("县人民医院新院区二期工程规划设置多少张床位？", "600张"),
    ("全区已建成多少家社区长者食堂？", "12家"),
])
def test_a_typed_question_whose_letter_has_that_kind_is_answered(two_letter_index: Index, question: str,
                                                                 figure: str):
    answer = two_letter_index.ask(question)
    assert not answer.abstained and figure in answer.text and answer.missing_kind == ""


def test_a_count_of_something_else_does_not_answer_a_count_question(two_letter_index: Index):
    answer = two_letter_index.ask("社区长者食堂一共有多少张餐桌？")  # the letter counts canteens, not tables
    assert answer.abstained and answer.missing_kind == "count"


@pytest.mark.parametrize(("text", "counts"), [("我部指导各地发展一批龙头企业牵头的联合体。", False),
                                              ("第一批试点已经结束。", False), ("已认定十一批共30家联合体。", True),
                                              ("全国培育8000多个农业产业化联合体。", True)])
def test_a_batch_of_some_is_no_count(text: str, counts: bool):
    assert (missing_kind("How many farming alliances have been set up?", [text]) is None) is counts


def _held(question: str, text: str, overlap: float) -> SentenceEvidence:
    hit = Hit(text=text, score=1.0, letter_id="a", chunk_id="a#0", start=0, end=len(text), section="", title=None,
              agency=None, doc_number=None, date=None, citation="a", rank=1, dense_score=0.9, lexical_score=1.0,
              path="")
    return SentenceEvidence(question, "zh", (hit,), (Sentence(hit, 0, len(text), text, 0.9, overlap, 0.0, 1.2),),
                            1.0, 0.9)


@pytest.mark.parametrize(("question", "text"), [
    ("城口县社区医养中心项目总投资是多少万元？", "綦江区医院项目已安排中央预算内投资10000万元。"),
    ("阳光挂网耗材价格平均下降多少？", "网上采购率力争达到90%以上。"),
])
def test_a_figure_of_the_kind_asked_about_something_else_is_no_answer(question: str, text: str):
    about_else = compose(_held(question, text, 0.2), threshold=0.5, kind_gate=True, kind_min_overlap=0.35)
    assert about_else.abstained and about_else.missing_kind == asked_kind(question)
    about_it = compose(_held(question, text, 0.6), threshold=0.5, kind_gate=True, kind_min_overlap=0.35)
    assert not about_it.abstained and text in about_it.text
    unchecked = compose(_held(question, text, 0.2), threshold=0.5, kind_gate=True)
    assert not unchecked.abstained  # kind_min_overlap 0: any sentence of the kind will do


def test_a_contact_line_answers_a_phone_question_whatever_words_it_shares():
    line = "联系人及电话：梁沛 0311-87801895"
    answer = compose(_held("联系电话是多少？", line, 0.0), threshold=0.5, kind_gate=True, kind_min_overlap=0.35)
    assert not answer.abstained and line in answer.text


@pytest.mark.parametrize(("question", "text", "lists"), [
    ("会同了哪些省直部门？", "我委会同省财政厅、省经济和信息化厅、省发展改革委等部门进行了研究。", True),
    ("Which city agencies did the commission consult?", "经与市发展改革委、市民政局、市财政局共同研究，现答复如下：",
     True),
    ("会同了哪些省直部门？", "您提出的建议已交我局办理。", False),  # one department is no list
    ("由哪个部门牵头？", "由市发展改革委、市财政局共同研究。", False),  # one department asked for
    ("Which agency leads the work?", "经与市发展改革委、市民政局共同研究。", False),
])
def test_a_plural_question_for_departments_is_answered_by_a_list_of_them(question: str, text: str, lists: bool):
    assert lists_answers(question, text) is lists


REPLY = """某市卫生健康委员会
关于发展健康服务业的答复
王明代表：
　　经与市发展改革委、市民政局、市财政局共同研究康养产业园区建设，现将办理情况答复如下：
　　我委将加快推进康养产业园区建设。
"""


@pytest.mark.parametrize("spared", [True, False])
def test_the_sentence_listing_the_departments_asked_for_is_quoted_despite_its_courtesy(
        tmp_path: Path, analyzer: Analyzer, spared: bool):
    index = index_of_texts(tmp_path, analyzer, reply=REPLY)
    # (asked this way, the departments the reply was settled with are also a field: that is off here)
    view = index.with_config(abstain_threshold=0.0, max_absent_share=1.0, max_answer_sentences=1,
                             spare_listing_sentences=spared, consulted_field=False)
    answer = view.ask("哪些部门共同研究了康养产业园区建设？")
    if spared:
        assert not answer.abstained and "市民政局" in answer.text
    else:  # the penalty ("答复如下") puts the plainer sentence first, which names no department: the gate declines
        assert answer.abstained and answer.missing_kind == "unit"
