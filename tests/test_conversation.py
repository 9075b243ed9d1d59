"""Chat turns: follow-up questions, evidence spans, filters from the UI, replies with and without an answerer."""

from __future__ import annotations

from dataclasses import replace

import pytest

from rag import LLM, Filters, Index
from rag.ui import render
from rag.ui.conversation import (
    CitedPassage,
    Conversation,
    Turn,
    cited_spans,
    contextualize,
    is_follow_up,
    make_filters,
    matching_sentences,
    reply,
    reply_stream,
)
from rag.ui.labels import t

ZH = "二类医疗器械注册有哪些补助？"
EN = "what subsidies exist for Class II device registration"


@pytest.mark.parametrize(("question", "history", "expected"), [
    ("那三类呢？", [ZH], "三类医疗器械注册有哪些补助？"),
    ("三类呢", [ZH], "三类医疗器械注册有哪些补助？"),
    ("那呢？", [ZH], ZH),
    ("河北省呢？", [ZH], f"{ZH} 河北省呢？"),  # nothing to swap: searched together
    ("what about Class III?", [EN], "what subsidies exist for Class III device registration"),
    ("And Class III?", [EN], "what subsidies exist for Class III device registration"),
    ("医疗器械临床试验费用能不能用创新券？", [ZH], "医疗器械临床试验费用能不能用创新券？"),
    ("那三类呢？", [], "那三类呢？"),  # no history: as typed
    ("那三类呢？", [EN, ZH], "三类医疗器械注册有哪些补助？"),  # the latest question is the context
])
def test_contextualize(question: str, history: list[str], expected: str) -> None:
    assert contextualize(question, history) == expected


@pytest.mark.parametrize(("question", "expected"), [
    ("那三类呢？", True), ("what about them?", True), ("Hebei?", True), ("还有吗", True),
    (ZH, False), (EN, False), ("How large can the reward for equipment investment be?", False), ("", False),
])
def test_is_follow_up(question: str, expected: bool) -> None:
    assert is_follow_up(question) is expected


def test_make_filters() -> None:
    assert make_filters() is None
    assert make_filters(None, "2023", "2021") == Filters(date_from="2021-01-01", date_to="2023-12-31")
    assert make_filters("卫生", None, 2022, ["a"]) == Filters(letters=("a",), agency="卫生", date_to="2022-12-31")
    assert make_filters("", 2021, None) == Filters(date_from="2021-01-01")


def test_reply_without_answerer_shows_numbered_passages(fake_index: Index) -> None:
    turn = reply(fake_index, ZH, k=4, answer=False)
    assert turn.mode == "passages" and turn.query == ZH
    assert [e.n for e in turn.evidence] == [1, 2, 3, 4]
    cixi = [e for e in turn.evidence if e.hit.doc_number == "慈卫建〔2021〕15号"]
    assert cixi, "the Cixi letter answers this"
    letter = fake_index.letter(cixi[0].hit.letter_id)
    highlighted = [letter.text[s:e] for item in cixi for s, e in item.spans]
    assert any("二类、三类医疗器械产品相关资质给予专项支持" in h for h in highlighted)


def test_follow_up_turns_use_the_conversation(fake_index: Index) -> None:
    conversation = Conversation()
    first = reply(fake_index, ZH, conversation.queries(), k=3, answer=False)
    conversation = conversation.with_turn(first)
    second = reply(fake_index, "那三类呢？", conversation.queries(), k=3, answer=False)
    assert second.question == "那三类呢？" and second.query == "三类医疗器械注册有哪些补助？"
    assert conversation.turns == (first,)  # immutable


def test_a_short_question_after_a_declined_one_is_asked_as_it_is(fake_index: Index) -> None:
    declined = Turn(question="医疗器戒注册有什么补贴", query="医疗器戒注册有什么补贴", mode="abstained")
    answered = Turn(question=ZH, query=ZH, mode="answer")
    conversation = Conversation((answered, declined))
    assert conversation.queries() == []
    assert reply(fake_index, "补贴", conversation.queries(), k=3, answer=False).query == "补贴"
    # after an answered question the same word still leans on it
    assert Conversation((declined, answered)).queries() == [declined.query, ZH]


def test_reply_reports_a_bad_question(fake_index: Index) -> None:
    turn = reply(fake_index, "   ", answer=False)
    assert turn.mode == "error" and "empty" in turn.text


def test_reply_with_filters_that_exclude_everything_says_so(fake_index: Index) -> None:
    none_left = Filters(agency="慈溪", date_from="2023-01-01")  # the Cixi letter is from 2021
    for answer in (False, True):
        turn = reply(fake_index, ZH, filters=none_left, answer=answer)
        assert turn.mode == "filtered" and turn.evidence == ()
        for lang in ("zh", "en"):  # the bubble speaks the question's language, the evidence panel the interface's
            bubble, panel = render.chat_message(turn, lang), render.evidence_html(turn, 0, lang)
            assert t(turn.language or lang, "filtered") in bubble and t(lang, "filtered") in panel
            assert t(turn.language or lang, "declined") not in bubble and t(lang, "no_evidence") not in panel


def test_matching_sentences_and_cited_spans(fake_index: Index) -> None:
    hit = fake_index.search(ZH, k=5, filters=Filters(letters=("000_3530caffdd2f932b",)))[0]
    letter = fake_index.letter(hit.letter_id)
    spans = matching_sentences(hit, ["二类", "器械", "补助", "x"])
    assert spans and all(hit.start <= s < e <= hit.end for s, e in spans)
    assert matching_sentences(hit, ["二", "x", "zz"]) == ()  # single characters and short words are ignored
    item = CitedPassage(1, hit, spans)
    passages = Turn(question="q", query="q", mode="passages", evidence=(item,))
    answer = replace(passages, mode="answer")
    assert cited_spans(passages, item, letter) == ((hit.start, hit.end),)
    assert cited_spans(answer, item, letter) == spans
    moved = replace(letter, text="新增一行\n" + letter.text)
    assert cited_spans(answer, item, moved) == tuple((s + 5, e + 5) for s, e in spans)
    assert cited_spans(answer, item, replace(letter, text="全文已改")) == ()
    with pytest.raises(KeyError, match=r"\[7\]"):
        passages.evidence_for(7)


CLINICAL = "医疗器械临床试验费用能不能用创新券？"


def test_reply_stream_yields_the_draft_then_the_checked_turn(fake_index: Index, chat_completions_protocol) -> None:
    url, script = chat_completions_protocol
    script.reply, script.chunk_size = "临床试验费用纳入创新券范围，给予30%补助[1]。", 4
    index = fake_index.with_config(abstain_threshold=0.0)

    pieces = list(reply_stream(index, CLINICAL, llm=LLM(url, "scripted")))

    deltas, turn = pieces[:-1], pieces[-1]
    assert len(deltas) >= 2 and all(isinstance(d, str) for d in deltas)
    assert "".join(deltas) == script.reply
    assert isinstance(turn, Turn) and turn.mode == "answer" and turn.question == CLINICAL
    assert turn.text.split("\n")[0] == "临床试验费用纳入创新券范围，给予30%补助。[1]"
    cited = turn.evidence_for(1)
    assert cited.hit == index.search(CLINICAL, k=5)[0]
    (start, end), = cited.spans
    assert "给予30%补助" in index.letter(cited.hit.letter_id).text[start:end]
    assert turn.notes == ()


def test_reply_stream_falls_back_to_the_extractive_answer_with_a_note(fake_index: Index, closed_url: str) -> None:
    index = fake_index.with_config(abstain_threshold=0.0)
    pieces = list(reply_stream(index, CLINICAL, llm=LLM(closed_url, "any", timeout=5)))
    extractive = reply(index, CLINICAL)

    assert len(pieces) == 1 and isinstance(pieces[0], Turn)
    turn = pieces[0]
    assert turn.mode == "answer" and turn.text == extractive.text and turn.evidence == extractive.evidence
    assert "cannot reach" in turn.notes[-1] and "extractive" in turn.notes[-1]


def test_reply_stream_without_llm_is_reply(fake_index: Index) -> None:
    index = fake_index.with_config(abstain_threshold=0.0)
    history = ["二类医疗器械注册有哪些补助？"]
    assert list(reply_stream(index, "那三类呢？", history, k=3)) == [reply(index, "那三类呢？", history, k=3)]
    assert list(reply_stream(index, CLINICAL)) == [reply(index, CLINICAL)]


def test_reply_stream_reports_a_bad_question(fake_index: Index, closed_url: str) -> None:
    pieces = list(reply_stream(fake_index, "   ", llm=LLM(closed_url, "any", timeout=5)))
    assert pieces == [reply(fake_index, "   ")] and pieces[0].mode == "error"
