"""The kinds asked only with their switch: an economic output is a sum of money, an office's holder a title."""

from __future__ import annotations

from pathlib import Path

import pytest

from rag import Analyzer
from rag.answer.answer_type import asked_answer, missing_kind

from .conftest import index_of_texts

BUREAU = """某市科学技术局
关于支持生物城建设的答复函
周某代表：
您提出的建议收悉，现答复如下：
2018年以来，市科技局累计投入财政经费超7000万元，支持生物城内企业开展创新产品研发。
我局将继续支持生物城建设。
某市科学技术局
2023年7月26日
"""
TRANSPORT = """某区交通局
关于开通公交线路的复函
杨某代表：
您提出的建议收悉，现答复如下：
目前公交线路开行方案已制定，预计将于2020年12月底前开行。
以上答复意见已经我局杨军局长审定。
某区交通局
2020年12月3日
"""


@pytest.mark.parametrize(("question", "name"), [
    ("2023年烟台市生物医药产业的产值是多少？", "output"),
    ("河北省高端医疗器械产业2022年的营业收入是多少？", "output"),
    ("2021年慈溪市的GDP是多少？", "output"),
    ("What was the annual output value of the park in 2022?", "output"),
    ("Who is the director of the science and technology bureau?", "official"),
    ("Who is the current mayor of Haikou?", "official"),
    ("科技局局长是谁？", "official"),
])
def test_an_output_or_an_office_is_asked_only_with_its_switch(question: str, name: str):
    expected = "amount" if name == "output" else "official"
    on = asked_answer(question, (name,))
    assert on is not None and on.kind == expected
    off = asked_answer(question)
    assert off is None or off.kind != expected or name == "output" and off.kind == "amount"


@pytest.mark.parametrize(("question", "lacking", "holding"), [
    ("生物医药产业的产值是多少？", "2019年，将生物医药产业列入国家产业集群。", "预计年产值超过100亿元。"),
    ("What was the revenue of the device industry?", "共批复建设18家重点实验室。", "全年营业收入达到120亿元。"),
    ("Who is the mayor of the city?", "根据市委、市政府的工作安排，纳入投资计划。", "由分管副市长任组长。"),
    ("Who is the current mayor of Haikou?", "海口市长流卫生院提升为二级医院。", "会议由王某市长主持。"),
    ("Who is the director of the bureau?", "市科技局累计投入财政经费超7000万元。", "答复意见已经杨军局长审定。"),
])
def test_a_sentence_answers_an_output_or_office_question_only_when_it_states_one(question: str, lacking: str,
                                                                                 holding: str):
    extra = ("output", "official")
    assert missing_kind(question, [lacking], extra) is not None
    assert missing_kind(question, [lacking, holding], extra) is None


def test_an_office_the_letter_never_names_is_declined_and_one_it_names_answered(tmp_path: Path, analyzer: Analyzer):
    index = index_of_texts(tmp_path, analyzer, bureau=BUREAU, transport=TRANSPORT).with_config(
        abstain_threshold=0.0, max_absent_share=1.0)
    unnamed = index.ask("Who is the director of the science and technology bureau?")
    assert unnamed.abstained and unnamed.missing_kind == "official"
    assert not index.with_config(official_kind=False).ask("Who is the director of the science and technology bureau?"
                                                          ).abstained
    named = index.ask("审定答复意见的局长是谁？")
    assert not named.abstained and "杨军局长" in named.text


def test_an_output_the_letter_never_states_is_declined(tmp_path: Path, analyzer: Analyzer):
    index = index_of_texts(tmp_path, analyzer, transport=TRANSPORT).with_config(abstain_threshold=0.0,
                                                                                max_absent_share=1.0)
    question = "公交线路2020年的营业收入是多少？"  # the letter gives a date, no sum of money
    answer = index.ask(question)
    assert answer.abstained and answer.missing_kind == "amount"
    assert not index.with_config(output_amount_kind=False).ask(question).abstained
