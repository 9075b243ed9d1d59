"""The place gate: a question about a place none of the retrieved letters mentions is declined."""

from __future__ import annotations

import pytest

from rag import Config, Index
from rag.answer.pinyin import spelled_names
from rag.answer.places import Gazetteer, NamedPlace, bundled

GAZETTEER = """# provincial-level divisions
zhejiang\t浙江
guangdong\t广东
# prefecture level: 浙江省
ningbo\t宁波
# prefecture level: 广东省
guangzhou\t广州
# districts, counties and county-level cities: 宁波市
cixi\t慈溪
"""


def test_places_are_found_in_english_and_chinese_questions():
    gazetteer = Gazetteer.load(GAZETTEER)
    assert [p.names for p in gazetteer.named("How much does Guangzhou subsidise each meal?")] == [("广州",)]
    assert [p.names for p in gazetteer.named("Does Cixi's Ningbo office fund trials?")] == [("慈溪",), ("宁波",)]
    assert gazetteer.named("what does cixi give?") == ()  # a place name is capitalised in English
    assert [p.names for p in gazetteer.named("广州市对长者食堂每餐补贴多少？")] == [("广州",)]
    assert gazetteer.named("广州的补贴") == ()  # a two-character name counts only as a division: 广州市, 广州区…
    # … or as the city of a zone: 宁波高新区, 广州经济技术开发区
    assert [p.names for p in gazetteer.named("宁波高新区对注册证奖励多少钱？")] == [("宁波",)]
    assert [p.names for p in gazetteer.named("广州经济技术开发区有哪些补贴？")] == [("广州",)]
    assert gazetteer.named("宁波高端医疗器械") == ()
    # … or of a government body's short name: 宁波发改委, 广州卫健委, 慈溪政府
    assert [p.names for p in gazetteer.named("宁波发改委那份会办意见的联系人是谁？")] == [("宁波",)]
    assert [p.names for p in gazetteer.named("广州卫健委和慈溪政府怎么说？")] == [("广州",), ("慈溪",)]


def test_a_letter_naming_a_place_inside_the_one_asked_about_mentions_it():
    gazetteer = Gazetteer.load(GAZETTEER)
    zhejiang, = gazetteer.named("What does Zhejiang give?")
    assert gazetteer.mentioned(zhejiang, ["慈溪市卫生健康局关于……的答复"])  # 慈溪 lies in 宁波, in 浙江
    assert not gazetteer.mentioned(zhejiang, ["广州市民政局"])
    cixi, = gazetteer.named("What does Cixi give?")
    assert not gazetteer.mentioned(cixi, ["宁波市经信局"])  # a letter about the whole city is not about one county
    assert gazetteer.locates("慈溪市卫生健康局") and not gazetteer.locates("我区养老服务工作")


def test_the_bundled_gazetteer_knows_divisions_and_their_parents():
    gazetteer = bundled()
    guangzhou, = gazetteer.named("Guangzhou")
    assert guangzhou.names == ("广州",)
    assert gazetteer.mentioned(gazetteer.named("Which hospitals in Zhejiang?")[0], ["慈溪市"])
    france, = gazetteer.named("What is the capital of France?")  # countries too: CLDR's names
    assert france.names == ("法国",) and gazetteer.named("法国的首都是哪座城市？") == (NamedPlace("法国", ("法国",)),)
    assert not gazetteer.mentioned(france, ["慈溪市卫生健康局"])


@pytest.mark.slow
@pytest.mark.parametrize("question", ["How much does Guangzhou subsidise each meal at its elderly canteens?",
                                      "武汉市对康复辅具租赁有什么补贴标准？"])
def test_a_question_about_a_place_no_letter_mentions_is_declined(use_index: Index, question: str):
    answer = use_index.ask(question)
    assert answer.abstained and not answer.citations
    assert answer.unplaced and "none of the letters found mentions" in str(answer.notes[0])
    assert not use_index.with_config(place_gate=False, answer_kind_gate=False,
                                     abstain_threshold=0.0).ask(question).abstained


@pytest.mark.slow
def test_a_letter_that_names_no_place_does_not_rule_a_place_out(use_index: Index):
    # x042 answers for 静安区 but never names it: the gate must not decline its questions
    answer = use_index.ask("静安区有多少个社区老年人助餐场所？")
    assert not answer.abstained and "109" in answer.text and not answer.unplaced
    assert Config().place_gate


def test_an_english_word_spelling_a_name_in_pinyin_finds_it_as_the_letter_writes_it():
    letters = ["瓦草冲村民小组共75户320名。", "花山区民政局联系人：余晓辉。", "南翔镇人民政府，麻天路公交。"]
    unknown = lambda word: False  # noqa: E731
    assert spelled_names("How many households live in Wacaochong village?", letters, unknown) == \
        {"wacaochong": ("瓦草冲",)}
    assert spelled_names("Who can I call at the Huashan office?", letters, unknown) == {"huashan": ("花山",)}
    assert spelled_names("When will buses run on the Matian road near Nanxiang?", letters, unknown) == \
        {"matian": ("麻天",), "nanxiang": ("南翔",)}
    # only a name ending where a place's name ends (村, 区, 镇, 路…); words the glossary knows are not spelled out
    assert spelled_names("Does Wacao fund it?", ["瓦草冲村"], unknown) == {}
    assert spelled_names("Who can I call at the Huashan office?", letters, lambda word: word == "huashan") == {}
    assert spelled_names("what does huashan say?", letters, unknown) == {}  # a name is capitalised in English


def test_a_persons_name_in_pinyin_is_found_before_a_title_or_a_comma():
    letters = ["仇有福委员:\n你提出的提案收悉。", "张伟鹏、孙爱玲、杨巧云委员:", "有福之人，仇恨"]
    unknown = lambda word: False  # noqa: E731
    assert spelled_names("What number was Qiu Youfu's proposal?", letters, unknown) == {"qiuyoufu": ("仇有福",)}
    assert spelled_names("What did Sun Ailing ask for?", letters, unknown) == {"sunailing": ("孙爱玲",)}
    # the surname is the first word; without a title or a list after it, characters read alike are no name
    assert spelled_names("What did Youfu Qiu ask?", letters, unknown) == {}
    assert spelled_names("What did Qiu Youfu ask?", ["仇有福利院"], unknown) == {}


def test_a_pinyin_name_ties_the_answer_to_the_letter_naming_it(tmp_path, analyzer):
    from rag import Config, Index

    folder = tmp_path / "letters"
    folder.mkdir()
    (folder / "a.txt").write_text("关于一村一品示范村镇的答复\n某某代表：\n"
                                  "自2011年起，我部持续开展全国一村一品示范村镇认定工作。"
                                  "其中，江口县等110个村镇3000户农户获得认定。\n", encoding="utf-8")
    (folder / "b.txt").write_text("关于瓦草冲建老年活动室的答复\n某某代表：\n瓦草冲村民小组现有75户320名村民，"
                                  "活动场所已不能满足村民需要。\n", encoding="utf-8")
    built = Index.build([folder], tmp_path / "index", config=Config(), analyzer=analyzer)
    index = built.with_config(abstain_threshold=0.0, max_absent_share=1.0, max_answer_sentences=1)
    question = "How many households live in the Wacaochong village group?"
    assert "75户" in index.ask(question).text
    assert "75户" not in index.with_config(pinyin_names=False).ask(question).text


def test_a_question_naming_a_place_no_retrieved_letter_mentions_is_searched_among_the_letters_naming_it(tmp_path):
    from rag import Config, Index

    folder = tmp_path / "letters"
    folder.mkdir()
    drugs = ("北京市医保局关于创新药品纳入医保药品目录的答复\n某某代表：\n"
             "积极支持创新药品纳入医保药品目录，药品目录调整以新药作为评审重点。\n")
    putuo = ("普陀区科委关于生命健康产业的答复\n某某委员：\n"
             "做实上海市生物医药产品注册指导服务工作站，为企业提供精准服务。\n")
    (folder / "drugs.txt").write_text(drugs, encoding="utf-8")
    (folder / "putuo.txt").write_text(putuo, encoding="utf-8")
    index = Index.build([folder], tmp_path / "index", config=Config())
    question = "Which drugs and medicines does Putuo help register?"
    assert [h.letter_id for h in index.search(question, k=1)] == ["drugs"]  # its words match the drug letter best
    assert [h.letter_id for h in index.ask(question, k=1).hits] == ["putuo"]
    assert [h.letter_id for h in index.with_config(place_search=False).ask(question, k=1).hits] == ["drugs"]
    # a place no letter names: nothing to search again, the place gate declines
    assert index.ask("Which drugs does Guangzhou list?", k=1).abstained


def test_a_long_capitalised_word_is_no_pinyin_name():
    assert spelled_names("Is " + "Anan" * 50 + " near Wacaochong village?", ["瓦草冲村"], lambda word: False) == \
        {"wacaochong": ("瓦草冲",)}
