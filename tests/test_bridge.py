"""The English→Chinese bridge: CC-CEDICT reverse-indexed, behind the glossary, weighted on the lexical side."""

from __future__ import annotations

from pathlib import Path

import pytest

from rag import Glossary, Index
from rag.analyze import Analyzer, Bridge
from rag.answer.terms import Term, grounded_terms
from rag.stores.base import as_ids
from rag.stores.lexical_bm25 import BM25Store

from .conftest import FakeEncoder


class Counts:
    """Term statistics from a fixed table."""

    def __init__(self, documents: int, frequencies: dict[str, int]) -> None:
        self.documents = documents
        self.frequencies = frequencies

    def document_frequency(self, token: str) -> int:
        return self.frequencies.get(token, 0)


def test_senses_are_reverse_indexed_as_lookup_keys():
    bridge = Bridge.from_senses([
        ("补贴", ["to subsidize (sth)", "subsidy", "allowance"]),
        ("补助", ["subsidy"]),
        ("贴", ["to stick", "subsidy"]),  # one character: a particle or a fragment, left out
        ("補貼", ["variant of 补贴[bu3 tie1]"]),  # a cross-reference, not a sense
        ("老年人", ["the elderly", "old people or explanation going on too long"]),
    ])
    assert bridge.lookup("subsidy") == ("补贴", "补助")
    assert bridge.lookup("subsidize") == ("补贴",)
    assert bridge.lookup("elderly") == ("老年人",)
    assert bridge.lookup("old people or explanation going on too long") == ()
    assert bridge.lookup("variant of 补贴") == ()
    assert bridge.senses("补贴") == 3 and bridge.senses("补助") == 1
    assert bridge.match(["the", "elderly", "subsidy"]) == [("the", ()), ("elderly", ("老年人",)),
                                                          ("subsidy", ("补贴", "补助"))]


def test_the_glossary_takes_precedence_and_candidates_outside_the_index_are_dropped():
    bridge = Bridge.from_senses([
        ("首都", ["capital (city)"]), ("资金", ["funds", "capital"]), ("京都", ["Kyoto", "capital"]),
        ("补贴", ["subsidy"]), ("法国", ["France"]),
    ])
    analyzer = Analyzer(Glossary({"subsidy": ["补助"]}), bridge)
    statistics = Counts(100, {"首都": 2, "资金": 30, "补贴": 5})
    found = analyzer.bridged("Capital subsidies for France?", statistics, max_candidates=3)
    # "subsidies" is the glossary's (补助, never the bridge's 补贴); 京都 and 法国 are in no chunk
    assert [(b.english, b.candidates) for b in found] == [("capital", ("首都", "资金")), ("france", ())]
    assert found[1].known == ("法国",)
    rare, common = found[0].shares
    assert rare > common and rare + common == pytest.approx(1.0)  # 首都 is rarer and has one sense, 资金 two
    weights = analyzer.query_weights("Capital subsidies for France?", statistics, bridge_weight=0.5,
                                     max_candidates=1)
    assert weights == {"capital": 1.0, "subsidy": 1.0, "france": 1.0, "补助": 1.0, "首都": 0.5}
    assert "首都" not in analyzer.query_weights("Capital subsidies?", statistics, bridge_weight=0.0,
                                               max_candidates=3)


def test_a_spoken_questions_fillers_are_no_words_to_find():
    bridge = Bridge.from_senses([("其实", ["actually"]), ("已知", ["known"]), ("弯道", ["bend"]),
                                 ("工作", ["work"])])
    analyzer = Analyzer(Glossary({}), bridge)
    found = analyzer.bridged("Who actually did the work on the bends, as known?", Counts(10, {"工作": 2}), 3)
    assert [b.english for b in found] == ["work", "bend"]  # "actually" and "known" say nothing of the letters


def test_weighted_bm25_scales_each_token():
    store = BM25Store()
    store.add(as_ids([1, 2, 3]), [["养老", "补贴"], ["养老", "服务"], ["医疗"]])
    ids, plain = store.search(["养老", "补贴"], k=3)
    ids_weighted, weighted = store.search(["养老", "补贴"], k=3, weights=[1.0, 0.5])
    assert ids.tolist() == ids_weighted.tolist() == [1, 2]
    _, only_first = store.search(["养老"], k=3)
    _, only_second = store.search(["补贴"], k=3)
    assert weighted[0] == pytest.approx(only_first[0] + 0.5 * only_second[0])
    assert plain[0] == pytest.approx(only_first[0] + only_second[0])
    assert store.search(["补贴"], k=3, weights=[0.0])[0].tolist() == []
    with pytest.raises(ValueError, match="1 weights for 2 tokens"):
        store.search(["养老", "补贴"], k=3, weights=[1.0])


def test_cc_cedict_is_reverse_indexed_once_per_process():
    bridge = Bridge.cedict()
    assert Bridge.cedict() is bridge
    assert "书记" in bridge.lookup("secretary")
    assert "法国" in bridge.lookup("france")
    assert "世界杯" in bridge.lookup("world cup")
    assert len(bridge) > 50_000


def test_an_english_word_outside_the_glossary_reaches_its_passage_lexically(use_index: Index):
    """"secretary" is not in the glossary: only the bridge (书记) ties the question to the visit's passage."""
    question = "When did Hubei's provincial party secretary visit Qichun to look at the moxa industry?"
    assert not use_index.analyzer.glossary.translate("secretary")
    bridged = use_index.with_config(fusion="lexical", pinyin_bridge=False).search(question, k=5)
    plain = use_index.with_config(fusion="lexical", bridge_weight=0.0, pinyin_bridge=False).search(question, k=5)
    assert bridged[0].letter_id == "x009" and "2020年12月9日" in bridged[0].text
    assert "2020年12月9日" not in plain[0].text
    assert [h.chunk_id for h in plain].index(bridged[0].chunk_id) >= 2


def test_grounded_terms_take_the_dictionary_sense_the_answering_letter_uses():
    bridge = Bridge.from_senses([("意识", ["awareness"]), ("认知", ["cognition", "awareness"]),
                                 ("知", ["to know", "awareness"]), ("日常", ["day-to-day", "daily"]),
                                 ("公众", ["public"])])
    analyzer = Analyzer(Glossary({"public": ["公众"]}), bridge)
    statistics = Counts(100, {"意识": 10, "认知": 4, "日常": 8, "公众": 20})
    letter = "通过多种途径提高大众对AED的认知程度。由设置单位履行日常管理维护职责。"
    terms = grounded_terms("Who raises public awareness, and who looks after them day to day?", analyzer,
                           statistics, letter)
    # 意识 is a sense the letter does not use; 知 is one character; "public" is the glossary's
    assert [t.forms for t in terms] == [("认知",), ("日常",)]
    assert terms[0].weight > terms[1].weight  # rarer in the index
    assert grounded_terms("Who raises public awareness?", analyzer, statistics, letter,
                          taken=[Term(("认知",), 1.0)]) == ()
    assert grounded_terms("谁负责提高公众认知？", analyzer, statistics, letter) == ()
    assert grounded_terms("Who raises awareness?", analyzer, statistics, "没有相关内容。") == ()


def test_an_english_word_only_the_dictionary_knows_picks_the_sentence_of_the_best_letter_that_renders_it(
        tmp_path: Path, analyzer: Analyzer) -> None:
    folder = tmp_path / "letters"
    folder.mkdir()
    (folder / "aed.txt").write_text(
        "关于在公共场所配置AED的答复\n\n张三代表：\n\n您提出的建议收悉，现答复如下：\n\n"
        "一、在公共场所推广普及AED设施，对于提高急救能力具有重要意义。\n\n"
        "二、由AED设置所在的单位履行日常管理维护职责，并做好人员组织培训工作。\n\n"
        "巴彦淖尔市卫生健康委员会\n2022年7月26日\n", encoding="utf-8")
    index = Index.build([folder], tmp_path / "index", encoder=FakeEncoder(), analyzer=analyzer)
    question = "Who looks after the AEDs day to day?"
    ungated = index.with_config(abstain_threshold=0.0, max_absent_share=1.0)  # the sentences' order alone
    grounded = ungated.ask(question)
    plain = ungated.with_config(bridge_terms=False).ask(question)
    assert [c.quote for c in grounded.citations] == [
        "二、由AED设置所在的单位履行日常管理维护职责，并做好人员组织培训工作。"]
    assert "日常管理维护" not in plain.citations[0].quote
