"""Declining what the letters do not answer, in both languages: the confidence threshold and the absent-word gate."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from rag import Analyzer, Config, Index
from rag.answer.extractive import compose
from rag.answer.scoring import Sentence, SentenceEvidence
from rag.answer.terms import absent_share
from rag.retrieve.hits import Hit

OFF_TOPIC = ["What is the capital of France?", "Who won the 2018 World Cup?", "法国的首都是哪座城市？"]
FIVE_LETTERS = ("000_3530caffdd2f932b.txt", "004_dce9e1310b5c7813.txt", "x009.txt", "x010.txt", "x021.txt")


@pytest.fixture(scope="module")
def five_letter_index(tmp_path_factory: pytest.TempPathFactory, shared_letters: Path, analyzer: Analyzer) -> Index:
    """Five shared letters (x010 and the one saying 早在2018年, where the off-topic questions were first quoted)."""
    folder = tmp_path_factory.mktemp("five") / "letters"
    folder.mkdir()
    for name in FIVE_LETTERS:
        shutil.copy(shared_letters / name, folder / name)
    return Index.build([folder], folder.parent / "index", analyzer=analyzer)


@pytest.mark.slow
@pytest.mark.parametrize("question", OFF_TOPIC)
def test_off_topic_questions_are_declined_on_five_letters_and_on_all(five_letter_index: Index, use_index: Index,
                                                                     question: str):
    for index in (five_letter_index, use_index):
        answer = index.ask(question)
        assert answer.abstained and not answer.citations, (index.directory, answer.text)
        # a gate declines them on its own (words in no letter, or a place none of the letters found names),
        # even where the confidence would have let them through
        assert answer.absent_share > Config().max_absent_share or answer.unplaced
        assert index.with_config(abstain_threshold=0.0).ask(question).abstained


@pytest.mark.slow
def test_the_gate_off_lets_an_off_topic_question_through_on_confidence_alone(use_index: Index):
    ungated = use_index.with_config(abstain_threshold=0.0, max_absent_share=1.0).ask("Who won the 2018 World Cup?")
    assert not ungated.abstained and ungated.citations


@pytest.mark.slow
@pytest.mark.parametrize(("question", "evidence"), [
    ("When did Hubei's provincial party secretary visit Qichun to look at the moxa industry?", "2020年12月9日"),
    ("What subsidies exist for Class II device registration?", "二类"),
])
def test_a_concrete_on_topic_english_question_is_still_answered(use_index: Index, question: str, evidence: str):
    answer = use_index.ask(question)
    assert not answer.abstained and evidence in answer.text
    assert answer.absent_share <= Config().max_absent_share


def test_absent_share_counts_words_no_chunk_holds(analyzer: Analyzer, fake_index: Index):
    statistics = fake_index._stores.lexical
    assert absent_share("What is the capital of France?", analyzer, statistics, bridge_candidates=3) == 0.5
    # without the bridge the glossary still knows both: capital (资本|资金, in the letters), France (法国, in none)
    assert absent_share("What is the capital of France?", analyzer, statistics, bridge_candidates=0) == 0.5
    assert absent_share("法国的首都是哪座城市？", analyzer, statistics, bridge_candidates=3) == 1.0
    assert absent_share("慈溪对医疗器械临床试验有哪些补助？", analyzer, statistics, bridge_candidates=3) == 0.0


def _evidence(absent: float, confidence: float = 0.9) -> SentenceEvidence:
    hit = Hit(text="慈溪市对医疗器械临床试验给予补助。", score=1.0, letter_id="a", chunk_id="a#0", start=0, end=17,
              section="", title=None, agency=None, doc_number=None, date=None, citation="a", rank=1,
              dense_score=0.9, lexical_score=1.0, path="")
    sentence = Sentence(hit, 0, 17, hit.text, 0.9, 1.0, 0.0, 1.2)
    return SentenceEvidence("Question?", "en", (hit,), (sentence,), 1.0, confidence, absent=absent)


def test_compose_declines_above_the_absent_share_whatever_the_confidence():
    declined = compose(_evidence(absent=0.6), threshold=0.5, max_absent_share=0.5)
    assert declined.abstained
    assert tuple(map(str, declined.notes)) == ("60% of the question's words are in none of the letters",)
    assert declined.absent_share == 0.6 and declined.confidence == 0.9
    answered = compose(_evidence(absent=0.5), threshold=0.5, max_absent_share=0.5)
    assert not answered.abstained and answered.citations[0].quote == "慈溪市对医疗器械临床试验给予补助。"
    assert compose(_evidence(absent=1.0), threshold=0.5).abstained is False  # 1.0: no gate
