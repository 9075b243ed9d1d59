"""Letter fields from any layout: page chrome is never a field; each layout kind; wrapped scans; the field report."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from eval.fields import main as fields_main
from eval.fields import parse_folder, read_rows, score_fields
from eval.gold import read_split
from rag import Config, chunk_letter, parse_letter, read_document
from rag.ingest.layout import join_wrapped_lines
from rag.parse.chrome import is_chrome

ROOT = Path(__file__).resolve().parents[1]
REAL = ROOT.parent / "shared" / "real"
SPLIT = ROOT / "eval" / "data" / "real" / "split.tsv"
FIELDS = ("doc_number", "agency", "date", "addressee")
# what the page around a letter prints (widgets, counters, navigation, labels): no field holds any of it
CHROME_MARKERS = ("分享", "字号", "字体", "相关文章", "相关解读", "相关文件", "阅读", "点击", "浏览", "访问", "作者",
                  "打印", "关键词", "有效性", "时效性", "标题", "欢迎", "今天是", "索引号", "当前位置", "首页", "位置",
                  "发布", "来源", "提案者", "领衔代表", "案由", "题目", "承办单位", "主办单位", "答复日期", "详细查看",
                  "关闭", "星期", "无障碍", ":", "：", "|", ">", "【", "•")


@pytest.fixture(scope="module")
def real() -> Path:
    if not (REAL / "letters.tsv").is_file():
        pytest.fail(f"{REAL} is missing: the field tests read the real letters from ../shared/real")
    return REAL


def _parse(text: str):
    return parse_letter(text, letter_id="t")


def test_no_real_letters_field_is_page_chrome(real: Path):
    rows = read_rows(real / "letters.tsv")
    letters = parse_folder(real / "letters", rows)
    assert len(letters) == len(rows) == 72
    chrome = []
    for name, letter in sorted(letters.items()):
        for field in FIELDS:
            value = re.sub(r"\s+", "", getattr(letter, field) or "")
            chrome += [(name, field, value, m) for m in CHROME_MARKERS if m in value]
            if value and is_chrome(value):
                chrome.append((name, field, value, "a chrome line"))
    assert chrome == []


# Each field's exact matches on the frozen split of ../shared/real (python -m eval.fields); never fewer
HELD = {
    "dev": {"doc_number": 8, "agency": 25, "date": 15, "addressee": 34},  # of 8, 25, 15, 34 printed
    "test": {"doc_number": 9, "agency": 21, "date": 13, "addressee": 34},  # of 9, 24, 14, 34: measured once, not tuned
}


@pytest.mark.parametrize("split", sorted(HELD))
def test_the_field_report_holds_its_figures(real: Path, split: str):
    rows = read_rows(real / "letters.tsv", read_split(f"{SPLIT}:{split}")[1])
    scores = {s.field: s for s in score_fields(parse_folder(real / "letters", rows), rows)}
    assert {f: scores[f].right for f in FIELDS} == {f: max(scores[f].right, HELD[split][f]) for f in FIELDS}, {
        f: scores[f].misses for f in FIELDS}
    assert sum(s.false for s in scores.values()) == 0, {f: scores[f].misses for f in FIELDS}


def test_the_field_report_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    (tmp_path / "a.txt").write_text("琼教函〔2024〕8号\n王伟代表：\n您提出的建议收悉。\n某市教育局\n2024年3月1日\n",
                                    encoding="utf-8")
    (tmp_path / "b.txt").write_text("李娜委员：\n您提出的提案收悉。\n", encoding="utf-8")
    tsv = tmp_path / "letters.tsv"
    tsv.write_text("file\tdoc_number\tagency\tdate\taddressee\n"
                   "a.txt\t琼教函〔2024〕8号\t某市教育局\t2024-03-01\t王伟代表\n"
                   "b.txt\t\t某市民政局\t\t李娜 委员\n", encoding="utf-8")
    assert fields_main(["--letters", str(tmp_path), "--tsv", str(tsv), "--json"]) == 0
    out = capsys.readouterr().out
    assert '"agency": {"right": 1, "printed": 2, "accuracy": 0.5, "false": 0, "absent": 0}' in out
    assert '"addressee": {"right": 2, "printed": 2, "accuracy": 1.0' in out  # compared without blanks
    assert '"date": {"right": 1, "printed": 1, "accuracy": 1.0, "false": 0, "absent": 1}' in out


@pytest.mark.parametrize("chrome", [
    "访问量:", "分享到:", "【字体大小：大 中 小】", "字号:[大 中 小] 打印本页", "作者: 编辑部", "相关文章:",
    "阅读人次: 128", "欢迎访问某市人民政府网站!今天是2024年3月1日 星期五", "• 索 引 号: 11/2024-001", "标  题:",
    "提 案 者:", "领衔代表: 代 表 团:", "关键词:", "有效性:", "当前位置: 首页 > 政务公开 > 建议提案",
])
def test_a_chrome_line_before_the_greeting_is_never_the_addressee(chrome: str):
    letter = _parse(f"关于第5号建议的答复\n{chrome}\n尊敬的王伟代表\n您提出的建议收悉,现答复如下:\n一、情况\n内容。\n")
    assert is_chrome(chrome)
    assert letter.addressee == "王伟代表"


@pytest.mark.parametrize(("greeting", "addressee"), [
    ("委员您好:", "委员"),
    ("尊敬的王伟代表：您好！", "王伟代表"),
    ("省农工党:", "省农工党"),  # a party committee
    ("民建界别:", "民建界别"),  # a sector group
    ("九三学社海南省委会:", "九三学社海南省委会"),
    ("黄有福等2位代表:", "黄有福等2位代表"),
    ("海口市代表团:", "海口市代表团"),
    ("民革某市委:", "民革某市委"),  # a democratic party's committee
    ("尊敬的陈磊、卢晓辉委员:", "陈磊、卢晓辉委员"),
])
def test_the_greeting_of_a_deputy_member_or_group(greeting: str, addressee: str):
    assert _parse(f"对第5号提案的答复\n{greeting}\n您提出的提案收悉。\n").addressee == addressee


def test_a_greeting_that_runs_on_into_the_reply_after_the_document_number():
    letter = _parse("浙林提〔2022〕41号 陈晓军委员: 您在省政协会议上提出的第437号提案收悉,现答复如下: 我厅高度重视。\n")
    assert (letter.doc_number, letter.addressee) == ("浙林提〔2022〕41号", "陈晓军委员")


def test_no_greeting_the_reply_opening_with_your_proposal():
    letter = _parse("目录项的基本信息\n索引号: 000019705/2019-00174 主办单位: 国家能源局\n制发日期: 2019-09-02\n"
                    "关于第0240号提案答复的函\n你们提出的《关于充电桩的提案》收悉,现答复如下:\n近年来充电桩加快发展。\n")
    assert (letter.addressee, letter.agency, letter.date) == (None, "国家能源局", "2019-09-02")


@pytest.mark.parametrize("number", ["某政联字〔2020〕第8号", "某住建议字〔2025〕8号", "提案(临公复)字(2025)第01号"])
def test_a_document_number_alone_on_its_line(number: str):
    letter = _parse(f"{number}\n对市政协第16号提案的答复\n常兴君委员:\n您提出的提案收悉。\n")
    assert letter.doc_number == number


def test_a_table_without_colons_and_a_title_spaced_out_or_with_its_document_number():
    table = ("索引号 | 11/2023-1 | 成文日期 | 2023年5月4日 |\n发文机关 | 市交通运输局 | 发布日期 | 2023-05-10 |\n"
             "标题 | 关于第45号建议的答复 |\n张华代表：\n您提出的建议收悉。\n")
    letter = _parse(table)
    assert (letter.agency, letter.date, letter.title) == ("市交通运输局", "2023-05-04", "关于第45号建议的答复")
    spaced = _parse("对市政协十六届四次会议第16号\n提 案 的 答 复\n李委员:\n您提出的提案收悉。\n")
    assert (spaced.title, spaced.proposal_number) == ("对市政协十六届四次会议第16号提案的答复", "16")
    numbered = _parse("某县公安局关于县人大代表015号建议的答复 某公复〔2023〕01号\n李代表:\n您提出的建议收悉。\n")
    assert (numbered.title, numbered.doc_number, numbered.agency) == (
        "某县公安局关于县人大代表015号建议的答复", "某公复〔2023〕01号", "某县公安局")


def test_a_cited_document_or_a_bare_proposal_number_is_no_document_number():
    text = ("发布机构 | 市卫生健康委员会 | 文 号 | 第201号提案 |\n李委员:\n"
            "您提出的提案收悉。依据《关于印发方案的通知》(某府发〔2019〕116号),我们推进工作。\n")
    assert _parse(text).doc_number is None
    assert _parse("对市政协〔2023〕第15号提案的答复\n李委员:\n您提出的提案收悉。\n").doc_number is None


@pytest.mark.parametrize(("text", "agency"), [
    # the signature above its date, before the title's office and the page's labels
    ("发布机构: 市政府办公室\n市卫健委关于第5号建议的答复\n王伟代表:\n您提出的建议收悉。\n"
     "市发改委(市粮储局)\n2023年7月17日\n", "市发改委(市粮储局)"),
    # the office printed under the signature's date, its contact beside it
    ("王伟代表:\n您提出的建议收悉。\n一、情况\n内容。\n2022726\n舞钢市教育体育局  联系电话:3303606 联系人:刘熠\n",
     "舞钢市教育体育局"),
    ("王伟代表:\n您提出的建议收悉。\n一、情况\n内容。\n2021年7月20日\n联系单位:舞钢市住房和城乡建设局\n", None),
    # no signature: the title's office, as printed
    ("省医疗保障局关于第5号建议的答复\n发布机构: 海南省医疗保障局\n王伟代表:\n您提出的建议收悉。\n", "省医疗保障局"),
    # a letterhead over a title without its office, beside a listing's column of the office in short
    ("承办单位答复 答复日期 答复内容\n省食药监局\n2006年7月5日\n详细查看\n海南省食品药品监督管理局\n"
     "对民盟省委提案第0273号的答复\n民盟海南省委员会:\n贵委提出的提案收悉。\n", "海南省食品药品监督管理局"),
    # only the listing's column
    ("承办单位 答复日期 答复内容\n省卫计委\n2008年7月14日\n详细查看\n对代表建议第2083号的答复\n吉小妹代表:\n"
     "你提出的建议收悉。\n", "省卫计委"),
    # only a label; an office inside the organisation (机关党委) is not the one replying
    ("某提案答复\n浏览次数: 发表时间:2025-07-17 信息来源:霍山县卫健委  字体:[  ]\n储军委员:\n您提出的提案收悉。\n",
     "霍山县卫健委"),
    ("答复\n• 发布时间:2020年11月16日\n• 来源:机关党委\n何晓霞委员:\n您提出的提案收悉。\n", None),
])
def test_the_replying_office(text: str, agency: str | None):
    assert _parse(text).agency == agency


@pytest.mark.parametrize(("signature", "date"), [
    ("二〇二三年七月十七日", "2023-07-17"),
    ("二○二三年十二月三十一日", "2023-12-31"),  # a circle for the zero
    ("2023717", "2023-07-17"),  # the separators lost in copying
    ("2023.7.17", "2023-07-17"),
    ("2023111", None),  # 1/11 or 11/1: not read
])
def test_the_signature_date_in_any_common_form(signature: str, date: str | None):
    assert _parse(f"王伟代表:\n您提出的建议收悉。\n一、情况\n内容。\n某市农业农村局\n{signature}\n").date == date


def test_a_publication_date_is_not_the_letters_date():
    page = "关于第5号建议的答复\n发布时间:2021-09-07 10:36 来源: 某县文化和旅游局 浏览量: 【字号:   打印\n"
    assert _parse(page + "石昌艳委员:\n您提出的提案收悉。\n").date is None
    listing = "承办单位答复 答复日期 答复内容\n农业厅\n2013年8月13日\n详细查看\n关于南药的建议\n"
    letter = _parse(listing + "孙永望委员:\n您提出的建议收悉。\n")
    assert (letter.date, letter.agency) == ("2013-08-13", "农业厅")  # the listing's reply date is the letter's


WRAPPED = """关于第12号建议的答复
张三代表：
　　您提出的建议收悉，现答复如下：
　　一、关于产业发展。今年以来，我局共支持12家企
业开展技术改造，累计投入资金3000万元，带动就
业500余人，进一步推动了全市医疗器械产业的发
展壮大。我局还组织企业参加展会和对接活动，帮
助企业拓展市场，全年新增订单金额超过2亿元，
有力促进了产业集群发展。同时，我局会同市场监
管部门为企业提供注册指导，服务企业取得医疗器
械注册证15张，缩短了产品上市时间，降低了企业
的研发成本，提高了企业的市场竞争能力和发展后
劲。下一步，我局将继续加大对企业的支持力度，
推动产业高质量发展，力争明年产值突破百亿元。
　　感谢您的关心。
某市经济和信息化局
2023年7月17日
"""


def test_lines_a_scan_wrapped_inside_a_sentence_are_joined(tmp_path: Path):
    path = tmp_path / "scan.txt"
    path.write_text(WRAPPED, encoding="utf-8")
    document = read_document(path)
    letter = parse_letter(document.text, letter_id="scan", path=str(path), sha256=document.sha256)
    assert "我局共支持12家企业开展技术改造" in letter.text
    assert letter.text.endswith("　　感谢您的关心。\n某市经济和信息化局\n2023年7月17日\n")  # the signature stays apart
    chunks = chunk_letter(letter, Config(max_chunk_chars=120, min_chunk_chars=20))
    assert len(chunks) >= 2
    assert any("共支持12家企业开展技术改造" in c.text for c in chunks)
    for chunk in chunks[:-1]:  # no chunk boundary cuts a sentence
        assert re.search(r"[。：！？]\s*$", chunk.text), chunk.text


def test_a_page_whose_paragraphs_are_lines_of_any_length_is_left_as_it_is():
    page = ("关于第12号建议的答复\n张三代表：\n您提出的建议收悉，现答复如下：\n一、强化规划引领,明确产业发展方向\n"
            "将卫生健康事业发展纳入全区国民经济和社会发展规划体系,明确实施健康行动,推动以治病为中心向以健康为中心转变\n"
            "二、推动产业融合,构建协同发展格局\n协同相关部门,促进大健康产业与生物医药、文旅、体育等产业深度融合\n"
            "三、加强对上争取,保障产业健康发展\n做好对上争取工作\n")
    assert join_wrapped_lines(page) == page
