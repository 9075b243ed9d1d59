"""Letter parsing: exact metadata and section trees of the sample letters, and odd layouts."""

from __future__ import annotations

from pathlib import Path

import pytest

from rag.ingest import read_document
from rag.parse import CLOSING, PREAMBLE, Letter, parse_letter
from rag.retrieve.hits import citation

from .conftest import LETTER_000, LETTER_004


def _parse(path):
    document = read_document(path)
    return parse_letter(document.text, letter_id=path.stem, path=str(path), sha256=document.sha256)


def test_cixi_letter_metadata():
    letter = _parse(LETTER_000)
    assert letter.metadata() | {"path": None} == {
        "letter_id": "000_3530caffdd2f932b", "path": None,
        "title": "对市十七届人大五次会议第276号建议的答复",
        "doc_number": "慈卫建〔2021〕15号",
        "agency": "慈溪市卫生健康局",
        "date": "2021-06-30",
        "addressee": "李佳代表",
        "session": "市十七届人大五次会议",
        "proposal_number": "276",
        "kind": "建议",
        "signer": "史国建",
        "contact": "孙恺",
        "phone": "63990807",
    }


def test_cixi_letter_section_tree():
    letter = _parse(LETTER_000)
    assert [(s.level, s.label, s.path_text) for s in letter.sections] == [
        (0, PREAMBLE, PREAMBLE),
        (1, "一", "一、引导产业链发展，鼓励企业创新研发"),
        (2, "一（一）", "一、引导产业链发展，鼓励企业创新研发 › （一）加强组织协调"),
        (2, "一（二）", "一、引导产业链发展，鼓励企业创新研发 › （二）加大培育支持"),
        (2, "一（三）", "一、引导产业链发展，鼓励企业创新研发 › （三）发挥协会作用"),
        (1, "二", "二、深入开展“三服务”，推动企业高质量发展"),
        (2, "二（一）", "二、深入开展“三服务”，推动企业高质量发展 › （一）助推新产品“首试首用”"),
        (2, "二（二）", "二、深入开展“三服务”，推动企业高质量发展 › （二）牵线搭桥助力复工复产"),
        (2, "二（三）", "二、深入开展“三服务”，推动企业高质量发展 › （三）精准对接精准服务"),
        (1, "三", "三、采购政策对企业产品推广使用的影响"),
        (0, CLOSING, CLOSING),
    ]
    support = letter.sections[3]
    assert letter.text[support.start:].startswith("（二）加大培育支持。鼓励和支持医疗器械生产企业")
    assert "给予30%补助" in letter.text[support.start:support.end]


def test_hebei_letter_metadata_half_width_punctuation():
    letter = _parse(LETTER_004)
    assert letter.metadata() | {"path": None} == {
        "letter_id": "004_dce9e1310b5c7813", "path": None,
        "title": "对政协河北省第十三届委员会第一次会议第0315号提案的答复",
        "doc_number": "冀工信承字〔2023〕第187号",
        "agency": "河北省工业和信息化厅",
        "date": "2023-04-21",
        "addressee": "龙红华委员",
        "session": "政协河北省第十三届委员会第一次会议",
        "proposal_number": "0315",
        "kind": "提案",
        "signer": "董继华",
        "contact": "梁沛",
        "phone": "0311-87801895",
    }


def test_hebei_letter_section_tree():
    letter = _parse(LETTER_004)
    labels = [s.label for s in letter.sections]
    assert labels == [PREAMBLE, "一", "一（一）", "一（二）", "一（三）", "一（四）", "一（五）", "一（六）",
                      "二", "二（一）", "二（二）", "二（三）", "二（四）", CLOSING]
    assert letter.sections[5].path == ("一、工作开展情况", "(四)加强招商引资")
    # inline 一是…二是… runs stay inside their section
    assert "一是借助“云招商”" in letter.text[letter.sections[5].start:letter.sections[5].end]
    assert "二是充分利用经贸活动平台招商" in letter.text[letter.sections[5].start:letter.sections[5].end]


def test_sections_cover_the_text_in_order():
    for path in (LETTER_000, LETTER_004):
        letter = _parse(path)
        assert letter.sections[0].start == 0 and letter.sections[-1].end == len(letter.text)
        for before, after in zip(letter.sections, letter.sections[1:], strict=False):
            assert before.end == after.start


def test_missing_fields_are_none_not_guessed():
    letter = parse_letter("尊敬的王委员：\n感谢您的建议。我们会认真研究。\n", letter_id="x")
    assert letter.addressee == "王委员"
    assert (letter.doc_number, letter.agency, letter.date, letter.title, letter.signer, letter.contact) == (
        None, None, None, None, None, None)


def test_web_page_header_labels_and_level_three_headings():
    text = (
        "索 引 号: | WE-1 | 主题分类: | 卫生 |\n"
        "发布机构: | 区卫生健康委 | 发文日期: | 2024-03-22 |\n"
        "名 称: | 对区政协七届三次会议第24-130号提案的会办意见 | |\n"
        "文 号: | 嘉卫建提〔2024〕8号 | 公开类型: | 主动公开 |\n"
        "区经委：\n"
        "现将意见函告如下：\n"
        "一、总体情况\n"
        "1.加强临床研究。支持医院开展临床试验。\n"
        "2.推动成果转化。设立专项资金。\n"
    )
    letter = parse_letter(text, letter_id="w")
    assert letter.doc_number == "嘉卫建提〔2024〕8号"
    assert letter.title == "对区政协七届三次会议第24-130号提案的会办意见"
    assert letter.agency == "区卫生健康委"
    assert letter.date == "2024-03-22"
    assert letter.addressee == "区经委"
    assert letter.proposal_number == "24-130"
    assert [s.path_text for s in letter.sections][1:] == [
        "一、总体情况", "一、总体情况 › 1.加强临床研究", "一、总体情况 › 2.推动成果转化"]
    assert [s.label for s in letter.sections][1:] == ["一", "一1.", "一2."]


def test_chinese_numeral_signature_date():
    text = "某某代表：\n一、情况\n内容很多。\n某市民政局\n二〇二一年六月三十日\n"
    assert parse_letter(text, letter_id="d").date == "2021-06-30"
    assert parse_letter(text, letter_id="d").agency == "某市民政局"


@pytest.mark.parametrize(("name", "contact", "phone"), [
    ("x032", "王浪", "66223882"),  # （联系人:王浪,联系电话:66223882）: no stray bracket
    ("x018", "邢启明", "68724305"),  # （此件主动公开;联系人:邢启明,电话:68724305）
    ("x034", "刘熠", "3303606"),  # the phone before the name
    ("x016", "季琪昕", "59176609"),  # 联系人姓名:季琪昕 联系电话:59176609
])
def test_contact_name_and_phone_are_separate_fields(shared_letters: Path, name: str, contact: str, phone: str):
    text = (shared_letters / f"{name}.txt").read_text(encoding="utf-8")
    letter = parse_letter(text, letter_id=name)
    assert (letter.contact, letter.phone) == (contact, phone)
    assert letter.metadata()["phone"] == phone


def test_addressee_greeted_without_a_colon():
    text = ("某区人民政府关于第0068号建议办理情况的答复函\n\n岳林代表\n\n"
            "提出的《关于支持中医药产业园的建议》收悉。\n一、情况\n内容。\n")
    assert parse_letter(text, letter_id="a").addressee == "岳林代表"
    assert parse_letter("尊敬的张伟、李娜委员\n您们的提案收悉。\n", letter_id="b").addressee == "张伟、李娜委员"
    # a line ending in 代表 that says more than a greeting is body text, not the addressee
    assert parse_letter("我们认真听取了人大代表\n的意见。\n", letter_id="c").addressee is None


def test_date_in_a_table_cell_or_after_its_label_without_a_colon():
    table = ("[ 索引号 ] | 115/2023-00096 | [ 发文字号 ] | 渝科局函〔2023〕281号 |\n"
             "[ 成文日期 ] | 2023-07-26 | [ 发布日期 ] | 2023-07-28 |\n周杭代表:\n你提出的建议收悉。\n")
    assert parse_letter(table, letter_id="t").date == "2023-07-26"
    spaced = "关于第466号建议的答复\n索 引 号 011043372/2021-28662 发文日期 2021-06-21\n田群代表:\n您提出的建议收悉。\n"
    assert parse_letter(spaced, letter_id="s").date == "2021-06-21"


def test_signature_date_after_the_agency_on_one_line():
    text = "某某代表：\n一、情况\n内容很多。\n某市民政局 二〇二一年六月三十日\n"
    letter = parse_letter(text, letter_id="d")
    assert (letter.date, letter.agency) == ("2021-06-30", "某市民政局")


def test_a_document_number_cut_off_in_copying():
    text = "对市政协第112号提案的答复\n舞教〔2022106                    签发人:魏红涛\n张伟委员:\n您们的提案收悉。\n"
    letter = parse_letter(text, letter_id="c")
    assert (letter.doc_number, letter.signer) == ("舞教〔2022106", "魏红涛")
    # a bracketed year inside a sentence is no document number
    assert parse_letter("王委员:\n依据《规划〔2021〕》推进工作。\n", letter_id="n").doc_number is None


@pytest.mark.parametrize(("title", "number"), [
    ("对省十四届人大三次会议539号建议的会办意见", "539"),  # no 第: the number names the proposal after it
    ("对区二届人大六次会议第126号代表建议的答复", "126"),
    ("关于对县政协第十届一次会议第17号提案的答复", "17"),
])
def test_the_proposal_number_is_read_with_or_without_its_第(title: str, number: str):
    letter = parse_letter(f"{title}\n程漫代表：\n　　您提出的建议收悉，现答复如下。\n", letter_id="n")
    assert letter.proposal_number == number


def test_a_document_number_is_no_proposal_number():
    text = "湘工信函〔2025〕117号\n关于建设中心的意见\n程漫代表：\n　　您提出的建议收悉。\n"
    letter = parse_letter(text, letter_id="d")
    assert letter.proposal_number is None


@pytest.mark.parametrize(("header", "agency"), [
    ("关于第466号建议的答复\n索 引 号 011043372/2021-28662 发文日期 2021-06-21\n发布机构 规信处 文  号\n", "规信处"),
    ("对第4711号建议的答复摘要\n发布时间:2022-08-10 来源: 农业农村部网站 作者:佚名\n", "农业农村部"),
    ("", "区发展改革局"),  # no header: the body names the office ("结合区发展改革局职能")
])
def test_the_replying_office_read_from_a_row_without_colons_a_website_or_the_body(header: str, agency: str):
    body = "耿美玲委员:\n您提出的建议已收悉,结合区发展改革局职能,现将办理情况回复如下:\n一、强化规划引领\n内容。\n"
    assert parse_letter(header + body, letter_id="a").agency == agency


def test_a_metadata_row_without_colons_is_read_only_as_a_row():
    # one label word in a sentence is no row: "来源" here is no page label
    letter = parse_letter("某某代表:\n资金来源 财政拨款为主。\n一、情况\n内容。\n", letter_id="r")
    assert letter.agency is None


def test_the_official_who_approved_the_reply_is_its_signer():
    text = "杨运平代表:\n您的建议收悉。\n以上答复意见已经我局杨军局长审定,您对此有何意见,请填写征询意见表。\n"
    assert parse_letter(text, letter_id="s").signer == "杨军"
    assert parse_letter("某代表:\n经区政府常务会议审定,项目已立项。\n", letter_id="n").signer is None  # no person
    assert parse_letter("某代表:\n以上答复已经我局分管副局长审定。\n", letter_id="m").signer is None  # a title only


def test_a_letter_without_a_document_number_is_cited_by_a_short_name():
    title = "关于对市十七届人大二次会议第135494号关于改善生物医药企业改革创新环境的建议的答复"
    dated = Letter(letter_id="a", path="x/a.txt", text="", sha256="", title=title, agency="烟台市发展和改革委员会",
                   date="2023-06-01")
    assert citation(dated, "一") == "烟台市发展和改革委员会 · 2023-06-01 · 一"
    undated = Letter(letter_id="b", path="x/b.txt", text="", sha256="", title=title)
    name = citation(undated, "")
    assert name == title[:19] + "…" and len(name) == 20
    numbered = Letter(letter_id="c", path="x/c.txt", text="", sha256="", title=title, doc_number="烟发改〔2023〕5号",
                      agency="烟台市发展和改革委员会", date="2023-06-01")
    assert citation(numbered, "（二）") == "烟发改〔2023〕5号 · （二）"
