"""The pinyin bridge: an English question's pinyin meets the index's own Chinese words, kept with the index."""

from __future__ import annotations

from pathlib import Path

from rag import Index
from rag.analyze import Analyzer, spelled_words, spelling

from .conftest import FakeEncoder, index_of_texts

_HEAD = "关于{title}的答复\n\n张三代表：\n\n您提出的建议收悉。现答复如下：\n\n"
LETTERS = {
    "road": _HEAD.format(title="加快建设乡村道路的建议") + "一、关于道路建设。李家村通往镇区的道路已列入计划，"
            "新桥路改造项目总投资1200万元，预计明年6月完工。瓯江大桥维修资金300万元已下达。\n\n二、关于养护。各乡镇负责日常养护。",
    "school": _HEAD.format(title="改善农村学校条件的建议") + "一、关于校舍。全县共改造校舍12所，新建食堂3个。"
              "\n\n二、关于师资。每年招聘教师50名，优先安排到偏远学校。",
    "water": _HEAD.format(title="加强饮水安全的建议") + "一、关于饮水工程。全市农村自来水普及率达到98%，"
             "今年新建水厂两座。\n\n二、关于水质。每季度抽检一次。",
}


def _top_letter(index: Index, question: str) -> str:
    return index.search(question, k=1)[0].letter_id


def test_spelling_is_toneless_pinyin_of_chinese_words_only():
    assert spelling("北仑") == "beilun" and spelling("西安") == "xian" and spelling("绿化") == "luhua"
    assert spelling("路") == "" and spelling("road") == ""


def test_a_village_and_a_project_written_in_pinyin_find_their_letter(tmp_path: Path, analyzer: Analyzer):
    index = index_of_texts(tmp_path, analyzer, **LETTERS)
    lexical = index._stores.lexical  # noqa: SLF001 - the store whose vocabulary the bridge reads
    assert "李家" in spelled_words("When will the road to Lijia village be built?", lexical)
    assert "新桥" in spelled_words("How much does the Xin Qiao road project cost?", lexical)
    assert spelled_words("How much does the road project cost?", lexical) == []
    for question in ("When will the road to Lijia village be finished?", "How much does the Xinqiao project cost?"):
        weights = index.analyzer.query_weights(question, lexical, bridge_weight=0.0, max_candidates=0)
        assert weights.keys() & {"李家", "李家村", "新桥"}
        assert not index.analyzer.query_weights(question, lexical, bridge_weight=0.0, max_candidates=0,
                                                spelled=False).keys() & {"李家", "李家村", "新桥"}
        assert _top_letter(index, question) == "road"


def test_the_pinyin_is_kept_with_the_index_and_follows_its_letters(tmp_path: Path, analyzer: Analyzer):
    index_of_texts(tmp_path, analyzer, **LETTERS)
    saved = list((tmp_path / "index").glob("*/lexical/*.pinyin.json"))
    assert saved and "lijia" in "".join(p.read_text(encoding="utf-8") for p in saved)
    loaded = Index.load(tmp_path / "index", encoder=FakeEncoder(), analyzer=analyzer)
    assert "李家" in loaded._stores.lexical.spelled("lijia")  # noqa: SLF001
    loaded.remove(["road"])
    assert spelled_words("Lijia village?", loaded._stores.lexical) == []  # noqa: SLF001 - its letter is gone
    loaded.add([tmp_path / "letters"])
    assert "李家" in spelled_words("Lijia village?", loaded._stores.lexical)  # noqa: SLF001


def test_the_answer_weighs_the_words_a_question_spells_that_the_letters_hold(tmp_path: Path, analyzer: Analyzer):
    from rag.answer.terms import spelled_terms

    index = index_of_texts(tmp_path, analyzer, **LETTERS)
    lexical = index._stores.lexical  # noqa: SLF001
    question = "How much repair money has the Oujiang bridge received?"
    assert [t.forms for t in spelled_terms(question, [LETTERS["road"]], analyzer, lexical)] == [("瓯江",)]
    assert spelled_terms(question, [LETTERS["school"]], analyzer, lexical) == ()  # not in the letters retrieved
    assert "300万元" in index.ask(question).text
