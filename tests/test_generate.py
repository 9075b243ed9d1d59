"""Generative answers against a local chat-completions protocol fixture: citation checking, streaming, fallback."""

from __future__ import annotations

import json
import re

import pytest

from rag import Index
from rag.answer import ABSTAIN_ZH, LLM, Answer
from rag.answer.generative import check_answer, split_reply, stream_answer
from rag.cli import main

QUESTION = "医疗器械临床试验费用能不能用创新券？"


@pytest.fixture()
def answering_index(fake_index: Index) -> Index:
    return fake_index.with_config(abstain_threshold=0.0)


def assert_quotes_real(index: Index, answer: Answer) -> None:
    for citation in answer.citations:
        assert index.letter(citation.hit.letter_id).text[citation.start:citation.end] == citation.quote
        assert citation.hit.start <= citation.start < citation.end <= citation.hit.end


def test_invented_citation_is_flagged_and_its_sentence_dropped(answering_index: Index, chat_completions_protocol):
    url, script = chat_completions_protocol
    hits = answering_index.search(QUESTION, k=3)
    script.reply = "可以，医疗器械临床试验费用纳入创新券范围，按规定给予30%补助[1]。此外还可获得100万元奖励[9]。"

    answer = answering_index.ask(QUESTION, k=3, llm=LLM(url, "scripted"))

    assert answer.mode == "generative" and not answer.abstained
    # the model's sentence, then the support table's other sentences (quoted so their numbers are visible)
    assert answer.text.split("\n")[0] == "可以，医疗器械临床试验费用纳入创新券范围，按规定给予30%补助。[1]"
    assert "100万元" not in answer.text
    assert len(answer.notes) == 1 and "[9]" in answer.notes[0] and "does not exist" in answer.notes[0]
    assert answer.citations[0].hit == hits[0]
    assert "给予30%补助" in answer.citations[0].quote
    assert_quotes_real(answering_index, answer)


def test_sentence_without_citation_is_flagged_and_dropped(answering_index: Index):
    hits = answering_index.search(QUESTION, k=3)
    answer = check_answer(QUESTION, "临床试验费用纳入创新券范围[1]。我认为这项政策很好。", hits)
    assert answer.text == "临床试验费用纳入创新券范围。[1]"
    assert answer.notes == ("dropped a sentence without a citation: 我认为这项政策很好。",)


def test_citations_are_renumbered_in_order_of_use_and_reused(answering_index: Index):
    from rag.chunk import split_sentences

    hits = answering_index.search(QUESTION, k=3)
    a, b = (hit.text[s - hit.start:e - hit.start] for hit in (hits[2], hits[0])
            for s, e in split_sentences(hit.text, hit.start)[:1])
    answer = check_answer(QUESTION, f"{a}[3]{b}[1]{a}[3]", hits)

    assert answer.text == f"{a}[1]{b}[2]{a}[1]"
    assert [(c.hit.chunk_id, c.quote) for c in answer.citations] == [(hits[2].chunk_id, a), (hits[0].chunk_id, b)]
    assert_quotes_real(answering_index, answer)


def test_nothing_verifiable_falls_back_to_the_extractive_answer(answering_index: Index):
    hits = answering_index.search(QUESTION, k=3)
    extractive = answering_index.ask(QUESTION, k=3)
    answer = check_answer(QUESTION, "可以用[7]。没有问题。", hits, fallback=extractive)
    assert answer.mode == "extractive" and answer.text == extractive.text
    assert any("[7]" in note for note in answer.notes)
    assert "no sentence with a valid citation" in answer.notes[-1]


def test_stream_yields_deltas_then_the_checked_answer(answering_index: Index, chat_completions_protocol):
    url, script = chat_completions_protocol
    hits = answering_index.search(QUESTION, k=3)
    script.reply = "临床试验费用纳入创新券范围，给予30%补助[1]。"

    pieces = list(stream_answer(QUESTION, hits, LLM(url, "scripted")))

    deltas, final = pieces[:-1], pieces[-1]
    assert len(deltas) > 1 and all(isinstance(d, str) for d in deltas)
    assert "".join(deltas) == script.reply
    assert isinstance(final, Answer) and final.text == "临床试验费用纳入创新券范围，给予30%补助。[1]"


def test_request_carries_model_key_and_numbered_passages(answering_index: Index, chat_completions_protocol):
    url, script = chat_completions_protocol
    hits = answering_index.search(QUESTION, k=2)
    script.reply = "临床试验费用纳入创新券范围[1]。"

    answering_index.ask(QUESTION, k=2, llm=LLM(url, "qwen-test", api_key="sk-test"))

    request = script.requests[0]
    assert request["model"] == "qwen-test" and request["stream"] is True
    assert script.headers[0]["Authorization"] == "Bearer sk-test"
    user = request["messages"][-1]["content"]
    assert f"[1] {hits[0].citation}" in user and f"[2] {hits[1].citation}" in user
    assert hits[0].text in user and user.endswith(f"Question: {QUESTION}")
    assert "[2]" in request["messages"][0]["content"]  # the rules ask for a citation on every sentence


def test_endpoint_down_falls_back_to_extractive_with_a_visible_note(answering_index: Index, closed_url: str):
    answer = answering_index.ask(QUESTION, llm=LLM(closed_url, "any", timeout=5))
    extractive = answering_index.ask(QUESTION)

    assert answer.mode == "extractive" and answer.text == extractive.text
    assert answer.citations == extractive.citations
    assert answer.notes and "cannot reach" in answer.notes[-1] and "extractive" in answer.notes[-1]


def test_http_error_falls_back_too(answering_index: Index, chat_completions_protocol):
    url, script = chat_completions_protocol
    script.status = 500
    answer = answering_index.ask(QUESTION, llm=LLM(url, "scripted"))
    assert answer.mode == "extractive" and "HTTP 500" in answer.notes[-1]


def test_index_ask_with_llm_is_generative_and_keeps_the_support_table(answering_index: Index,
                                                                      chat_completions_protocol):
    url, script = chat_completions_protocol
    script.reply = "临床试验费用可纳入创新券范围，补助30%[1]。"
    answer = answering_index.ask("慈溪对医疗器械临床试验有什么补助？", llm=LLM(url, "scripted"))

    assert answer.mode == "generative" and answer.text.startswith("临床试验费用可纳入创新券范围，补助30%。[1]\n")
    assert answer.support
    numbers = {c.n for c in answer.citations}
    assert all(item.citation_n in numbers for item in answer.support)
    shown = {int(n) for n in re.findall(r"\[(\d+)\]", answer.text)}
    assert shown == numbers  # the table's citations are quoted in the text too
    assert_quotes_real(answering_index, answer)


def test_model_saying_no_answer_abstains(answering_index: Index, chat_completions_protocol):
    url, script = chat_completions_protocol
    script.reply = "NO_ANSWER"
    answer = answering_index.ask(QUESTION, llm=LLM(url, "scripted"))
    assert answer.abstained and answer.text == ABSTAIN_ZH and answer.mode == "generative"


def test_weak_evidence_abstains_without_asking_the_model(fake_index: Index, chat_completions_protocol):
    url, script = chat_completions_protocol
    strict = fake_index.with_config(abstain_threshold=1.01)
    pieces = list(strict.ask_stream(QUESTION, llm=LLM(url, "scripted")))
    assert len(pieces) == 1 and pieces[0].abstained and script.requests == []


def test_endpoint_answering_plain_json_is_accepted(answering_index: Index, chat_completions_protocol):
    url, script = chat_completions_protocol
    script.reply, script.sse = "临床试验费用纳入创新券范围[1]。", False  # an endpoint that ignores "stream"
    hits = answering_index.search(QUESTION, k=2)
    pieces = list(stream_answer(QUESTION, hits, LLM(url, "scripted")))
    assert pieces[0] == script.reply
    assert pieces[-1].text == "临床试验费用纳入创新券范围。[1]"


def test_split_reply_keeps_markers_with_their_sentence():
    assert split_reply("第一句。[1]第二句[2]。Third one [3]. Fourth.") == [
        "第一句。[1]", "第二句[2]。", "Third one [3].", "Fourth."]


def test_cli_ask_with_llm_reads_the_key_from_the_named_variable(use_index: Index, chat_completions_protocol,
                                                                 monkeypatch, capsys):
    url, script = chat_completions_protocol
    script.reply = "临床试验费用纳入创新券范围，给予30%补助[1]。"
    monkeypatch.setenv("MY_LLM_KEY", "sk-from-env")
    assert main(["ask", QUESTION, "--index", str(use_index.directory), "--json", "--llm-url", url,
                 "--llm-model", "scripted", "--llm-key-env", "MY_LLM_KEY"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["mode"] == "generative"
    assert data["text"].split("\n")[0] == "临床试验费用纳入创新券范围，给予30%补助。[1]"
    assert script.headers[0]["Authorization"] == "Bearer sk-from-env"
    first = data["citations"][0]
    assert use_index.letter(first["letter_id"]).text[first["start"]:first["end"]] == first["quote"]


def test_cli_ask_reports_an_unreachable_endpoint(use_index: Index, closed_url: str, capsys):
    assert main(["ask", QUESTION, "--index", str(use_index.directory), "--llm-url", closed_url,
                 "--llm-model", "m"]) == 0
    out = capsys.readouterr().out
    assert "给予30%补助。[1]" in out and "note: the language model was not used" in out
