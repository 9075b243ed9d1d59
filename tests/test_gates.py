"""The decline gates decline only what they know: an approximate sum is money, a typo is no absent word, a village
the letters name is theirs, a two-part question asks two kinds."""

from __future__ import annotations

from pathlib import Path

import pytest

from rag import Analyzer
from rag.answer.answer_type import missing_kind
from rag.answer.scoring import local_names_found
from rag.answer.terms import absent_share

from .conftest import index_of_texts

LETTER = ("宁波市卫生健康委员会关于支持医疗器械企业发展的答复\n\n李四代表：\n\n您提出的建议收悉。现答复如下：\n\n"
          "一、关于注册补贴。对取得二类医疗器械注册证的企业，给予30多万元补贴，全年共发放补贴2.1亿余元。\n\n"
          "二、关于道路。大姚县塔包村通往镇区的道路已列入计划，今年9月开工。")


@pytest.mark.parametrize("sentence", ["共补助30多万元。", "投入近百万元。", "累计发放2.1亿余元。", "补贴1200万元。"])
def test_an_approximate_sum_is_money(sentence: str):
    assert missing_kind("补贴是多少钱？", [sentence]) is None


def test_a_question_in_two_parts_is_answered_by_either_kind():
    question = "2007年全省财政卫生投入多少万元，比上年增长多少？"
    assert missing_kind(question, ["2007年投入90972.47万元。"]) is None
    assert missing_kind(question, ["比上年增长40.10%。"]) is None
    assert missing_kind(question, ["卫生投入逐年增加。"]) is not None
    # one ask, one kind: "几个工作日" asks a duration; a count of departments does not answer it
    assert missing_kind("审批需要几个工作日？", ["由3个部门联合审批。"]) == "duration"


def test_what_an_english_count_counts_is_its_last_word():
    question = "How many school-area road safety hazards did the police find?"
    assert missing_kind(question, ["排查发现校园周边道路交通安全隐患15处。"]) is None
    assert missing_kind("How many times has the county held the festival?", ["至今已连续举办30届。"]) is None
    assert missing_kind("What staffing ratio is used?", ["原则上按照每500户社区居民配置1人。"]) is None


def test_a_typo_found_in_the_passages_is_no_absent_word(tmp_path: Path, analyzer: Analyzer):
    index = index_of_texts(tmp_path, analyzer, letter=LETTER)
    statistics = index._stores.lexical  # noqa: SLF001 - the term statistics the answer reads
    passages = [hit.text for hit in index.search("医疗器械注册补贴", k=3)]
    question = "二类医疗机械注册有多少补贴？"  # 机械 for 器械: a word, but no letter's
    assert absent_share(question, analyzer, statistics, 0) > 0
    assert absent_share(question, analyzer, statistics, 0, passages) == 0
    assert absent_share("医疗器戒注册有什么补帖？", analyzer, statistics, 0, passages) == 0
    answer = index.ask(question)
    assert not answer.abstained and "30多万元" in answer.text


def test_a_village_the_letters_name_is_theirs_whatever_the_gazetteer_lacks(tmp_path: Path, analyzer: Analyzer):
    index = index_of_texts(tmp_path, analyzer, letter=LETTER)
    hits = index.search("云南省塔包村的道路什么时候开工？", k=3)
    letters = {letter.letter_id: letter for letter in index.letters}
    assert local_names_found("云南省塔包村的道路什么时候开工？", hits, letters, analyzer)
    assert not local_names_found("云南省李家村的道路什么时候开工？", hits, letters, analyzer)
    assert not local_names_found("云南省农村的道路什么时候开工？", hits, letters, analyzer)  # 农村 is a word
    named = index.ask("云南省大姚县塔包村的道路什么时候开工？")
    assert not named.abstained and not named.unplaced and "9月开工" in named.text
    assert index.ask("云南省的道路什么时候开工？").unplaced == ("云南",)  # nothing the letter names: declined
