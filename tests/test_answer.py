"""Extractive answers: verified citations, abstention from the config's threshold, the support table, the CLI."""

from __future__ import annotations

import json
import re
import unicodedata
from pathlib import Path

import pytest

from rag import Analyzer, Config, Index
from rag.analyze import Glossary
from rag.answer import (
    ABSTAIN_EN,
    ABSTAIN_ZH,
    CLOSEST_ZH,
    LEAD_EN,
    Answer,
    answer_to_dict,
    format_answer,
    number_spans,
)
from rag.answer.extractive import choose_sentences
from rag.answer.scoring import Sentence, SentenceEvidence
from rag.answer.support import support_item
from rag.answer.terms import Term, question_terms
from rag.chunk import split_sentences
from rag.cli import main
from rag.retrieve.hits import Hit

from .conftest import FakeEncoder

CITATION_KEYS = {"n", "quote", "citation", "letter_id", "start", "end"}


def assert_citations_verified(index: Index, answer: Answer) -> None:
    """Every citation quotes a whole sentence of its passage, exactly, at the stated offsets."""
    for citation in answer.citations:
        letter = index.letter(citation.hit.letter_id)
        assert letter.text[citation.start:citation.end] == citation.quote
        assert citation.hit.start <= citation.start < citation.end <= citation.hit.end
        assert (citation.start, citation.end) in split_sentences(citation.hit.text, citation.hit.start)
    numbers = [c.n for c in answer.citations]
    assert numbers == list(range(1, len(numbers) + 1))
    shown = [int(n) for n in re.findall(r"\[(\d+)\]", answer.text)]
    assert sorted(set(shown)) == numbers  # every citation is in the text, none is made up
    assert {item.citation_n for item in answer.support} <= set(shown)


def squash(text: str) -> str:
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", text))


# ---- offline unit tests on the sample letters (fake encoder) ---------------------------------------
def test_chinese_question_quotes_the_answering_sentence_with_its_citation(fake_index: Index):
    answer = fake_index.ask("医疗器械临床试验费用能不能用创新券？")

    assert not answer.abstained and answer.mode == "extractive" and answer.language == "zh"
    first = answer.citations[0]
    assert first.quote == "明确医疗器械临床试验费用纳入创新券范围，按科技创新券专项管理办法给予30%补助。"
    assert first.hit.letter_id == "000_3530caffdd2f932b" and first.hit.citation.startswith("慈卫建〔2021〕15号")
    assert f"{first.quote}[1]" in answer.text
    assert_citations_verified(fake_index, answer)


def test_english_question_gets_an_english_lead_and_the_chinese_sentences_quoted(fake_index: Index):
    answer = fake_index.ask("What share of clinical trial costs can be covered by innovation vouchers?")

    assert answer.language == "en" and not answer.abstained
    lead, *quoted = answer.text.split("\n")
    assert lead == LEAD_EN
    assert "给予30%补助" in "".join(quoted)  # the letter's own words, not a translation
    assert_citations_verified(fake_index, answer)


def test_abstention_threshold_comes_from_the_config(fake_index: Index):
    question = "医疗器械临床试验费用能不能用创新券？"
    answered = fake_index.with_config(abstain_threshold=0.0).ask(question)
    strict = fake_index.with_config(abstain_threshold=answered.confidence + 0.01).ask(question)

    assert not answered.abstained and answered.citations
    assert strict.abstained and strict.text == ABSTAIN_ZH and strict.citations == ()
    assert strict.confidence == pytest.approx(answered.confidence)
    assert [h.chunk_id for h in strict.hits] == [h.chunk_id for h in answered.hits]  # the closest passages
    shown = format_answer(strict)
    assert CLOSEST_ZH in shown and strict.hits[0].citation in shown


def test_english_abstention_is_said_in_english(fake_index: Index):
    answer = fake_index.with_config(abstain_threshold=1.01).ask("Is there a subsidy for clinical trials?")
    assert answer.abstained and answer.text == ABSTAIN_EN


def test_at_most_the_configured_number_of_sentences_in_reading_order(fake_index: Index):
    index = fake_index.with_config(abstain_threshold=0.0, max_answer_sentences=2, answer_keep_ratio=0.0)
    answer = index.ask("慈溪市医疗器械产业有哪些扶持政策？")
    quoted = [c for c in answer.citations if f"[{c.n}]" in answer.text]
    assert len(quoted) == 2
    same_letter = [c for c in quoted if c.hit.letter_id == quoted[0].hit.letter_id]
    assert [c.start for c in same_letter] == sorted(c.start for c in same_letter)


def test_support_question_gets_a_table_of_measures_with_citations(fake_index: Index):
    answer = fake_index.with_config(abstain_threshold=0.0).ask("慈溪对医疗器械技改项目和临床试验有哪些补助和奖励？")
    by_n = {c.n: c for c in answer.citations}
    rows = {by_n[item.citation_n].quote: item for item in answer.support}

    reward = next(item for quote, item in rows.items() if "最高400万" in quote)
    assert (reward.amount, reward.cap) == ("不超过8%", "最高400万")
    assert "两年投入300万元" in reward.condition
    voucher = next(item for quote, item in rows.items() if "创新券" in quote)
    assert voucher.amount == "30%" and voucher.agency == "慈溪市卫生健康局"
    assert_citations_verified(fake_index, answer)


def test_non_support_question_has_no_table(fake_index: Index):
    answer = fake_index.with_config(abstain_threshold=0.0).ask("慈溪市促进健康产业发展联席会议制度是哪一年建立的？")
    assert answer.support == ()


def test_support_item_reads_amount_cap_condition_and_agency():
    item = support_item("经信部门对企业取得二类、三类医疗器械产品相关资质给予专项支持；", "慈溪市卫生健康局", 3)
    assert item == type(item)(what="专项支持", amount=None, cap=None,
                              condition="企业取得二类、三类医疗器械产品相关资质", agency="经信部门", citation_n=3)
    sentence = "明确医疗器械临床试验费用纳入创新券范围，按科技创新券专项管理办法给予30%补助。"
    rate = support_item(sentence, "慈溪市卫生健康局", 1)
    assert (rate.what, rate.amount, rate.condition, rate.agency) == (
        "医疗器械临床试验费用纳入创新券范围", "30%", "按科技创新券专项管理办法", "慈溪市卫生健康局")


def test_number_spans_mark_amounts_rates_counts_and_dates():
    text = "2020年12月9日起，对10家企业给予30%补助，最高400万元。"
    marked = [text[s:e] for s, e in number_spans(text)]
    assert marked == ["2020年12月9日", "10家", "30%", "最高400万元"]


def test_english_terms_come_from_the_glossary(analyzer):
    texts = ["二类补助", "注册"]

    class Counts:  # term statistics over two tiny documents
        documents = len(texts)

        def document_frequency(self, token: str) -> int:
            return sum(token in text for text in texts)

    terms = question_terms("What subsidies exist for Class II device registration?", analyzer, Counts())
    forms = [set(t.forms) for t in terms]
    assert any({"补助", "补贴"} <= f for f in forms)
    assert any("二类" in f for f in forms)
    assert any("注册" in f for f in forms)
    assert not any(f & {"exist", "what"} for f in forms)


def test_a_chinese_questions_words_are_found_in_their_glossary_abbreviations_and_demonstratives_are_no_terms(analyzer):
    texts = ["海口市发展和改革委员会", "联系人:邢启明", "邮政编码:201802"]

    class Counts:
        documents = len(texts)

        def document_frequency(self, token: str) -> int:
            return sum(token in text for text in texts)

    forms = [set(t.forms) for t in question_terms("海口发改委那份会办意见的联系人是谁？", analyzer, Counts())]
    assert any({"发改委", "发展和改革委员会"} <= f for f in forms)
    assert not any(f & {"那份", "那份会"} for f in forms)
    colloquial = [set(t.forms) for t in question_terms("莱芜区打算搞个什么工程，叫什么名字？", analyzer, Counts())]
    assert not any(f & {"搞个", "名字", "什么"} for f in colloquial)
    slang = [set(t.forms) for t in question_terms("这个行动叫啥？", analyzer, Counts())]
    assert not any(f & {"叫啥", "啥"} for f in slang)
    assert any({"邮编", "邮政编码"} <= f for f in question_terms("南翔镇的邮编是多少？", analyzer, Counts())
               for f in [set(f.forms)])
    english = [set(t.forms) for t in question_terms("What is the postal code of the town government?", analyzer,
                                                    Counts())]
    assert any("邮政编码" in f for f in english)


def test_glossary_aliases_pair_abbreviations_with_their_long_forms_only():
    glossary = Glossary({"ndrc": ["发改委", "发展和改革委员会"], "device registration": ["医疗器械", "医疗器械注册"],
                         "suggestion": ["建议", "意见"]})
    assert glossary.aliases == {"发改委": ("发展和改革委员会",), "发展和改革委员会": ("发改委",)}


def test_answer_to_dict_is_the_json_contract(fake_index: Index):
    data = answer_to_dict(fake_index.ask("医疗器械临床试验费用能不能用创新券？"))
    json.dumps(data, ensure_ascii=False)
    assert {"text", "abstained", "confidence", "citations", "support", "hits", "notes", "mode"} <= data.keys()
    assert data["citations"] and all(CITATION_KEYS <= c.keys() for c in data["citations"])
    assert data["citations"][0]["quote"] in data["text"]


def test_no_passages_means_abstention(fake_index: Index):
    from rag import Filters

    answer = fake_index.ask("医疗器械临床试验费用能不能用创新券？", filters=Filters(letters=("no-such-letter",)))
    assert answer.abstained and answer.hits == () and answer.citations == ()


# ---- the real encoder over every shared letter -----------------------------------------------------
def test_class_ii_support_table_lists_qualification_support_and_clinical_trial_subsidy(use_index: Index):
    answer = use_index.ask("what subsidies exist for Class II device registration")
    by_n = {c.n: c for c in answer.citations}
    quotes = [by_n[item.citation_n].quote for item in answer.support]

    assert not answer.abstained
    assert any("二类、三类医疗器械产品相关资质给予专项支持" in q for q in quotes)
    clinical = next(item for item in answer.support if "临床试验" in by_n[item.citation_n].quote)
    assert clinical.amount == "30%" and "创新券" in by_n[clinical.citation_n].quote
    assert by_n[clinical.citation_n].hit.citation.startswith("慈卫建〔2021〕15号")
    assert_citations_verified(use_index, answer)


@pytest.mark.parametrize("question", ["深圳市对二类医疗器械首次注册给多少补贴？",
                                      "What is the VAT rate on imported MRI scanners?"])
def test_questions_the_letters_are_silent_on_abstain(use_index: Index, question: str):
    answer = use_index.ask(question)
    assert answer.abstained and answer.confidence < use_index.config.abstain_threshold
    assert answer.hits  # still shown as the closest passages


@pytest.mark.parametrize(("question", "evidence"), [
    ("疫情期间有多少家企业取得了医疗器械应急注册证？", "服务10家企业取得15张医疗器械应急注册证"),
    ("What online purchasing rate are public hospitals expected to reach for sunshine-listed consumables?",
     "网上采购率力争达到90%以上"),
])
def test_answerable_questions_quote_the_evidence(use_index: Index, question: str, evidence: str):
    answer = use_index.ask(question)
    assert not answer.abstained and squash(evidence) in squash(answer.text)
    assert_citations_verified(use_index, answer)


def test_cli_ask_json_contract(use_index: Index, capsys):
    assert main(["ask", "医疗器械临床试验费用能不能用创新券？", "--index", str(use_index.directory), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert {"text", "abstained", "confidence", "citations"} <= data.keys() and data["abstained"] is False
    letter = use_index.letter(data["citations"][0]["letter_id"])
    first = data["citations"][0]
    assert CITATION_KEYS <= first.keys() and letter.text[first["start"]:first["end"]] == first["quote"]


def test_cli_ask_queries_prints_one_line_per_question(use_index: Index, tmp_path: Path, capsys):
    queries = tmp_path / "q.jsonl"
    rows = [{"id": "a", "question": "医疗器械临床试验费用能不能用创新券？"},
            {"id": 7, "question": "深圳市对二类医疗器械首次注册给多少补贴？"}]
    queries.write_text("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows), encoding="utf-8")
    assert main(["ask", "--queries", str(queries), "--index", str(use_index.directory), "--json"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [row["id"] for row in lines] == ["a", 7]
    assert [row["answer"]["abstained"] for row in lines] == [False, True]


def test_cli_ask_prints_the_answer_and_its_sources(use_index: Index, capsys):
    assert main(["ask", "医疗器械临床试验费用能不能用创新券？", "--index", str(use_index.directory)]) == 0
    out = capsys.readouterr().out
    assert "给予30%补助。[1]" in out and "[1] 慈卫建〔2021〕15号" in out


def test_default_threshold_is_the_calibrated_one():
    assert 0.0 < Config().abstain_threshold < 1.0


@pytest.mark.parametrize(("question", "language"), [
    ("Can innovation vouchers (创新券) pay for clinical trials of medical devices?", "en"),
    ("What does 慈卫建〔2021〕15号 say about clinical trials?", "en"),
    ("医疗器械临床试验费用能不能用创新券？", "zh"),
    ("二类 device 注册有哪些补助？", "zh"),
])
def test_cli_answer_is_labelled_in_the_question_language(fake_index: Index, question: str, language: str):
    answer = fake_index.with_config(abstain_threshold=0.0).ask(question)
    printed = format_answer(answer)
    assert answer.language == language
    if language == "en":
        assert printed.startswith(LEAD_EN) and "(confidence " in printed and "置信度" not in printed
    else:
        assert "（置信度 " in printed and "confidence" not in printed and "extractive" not in printed


@pytest.mark.slow
@pytest.mark.parametrize(("question", "evidence"), [
    ("Who should I contact at the Hebei industry and IT department about the medical device proposal?", "梁 沛"),
    ("慈溪市卫生健康局关于医疗器械产业的答复，联系人是谁？", "孙恺"),
    ("重庆市卫健委关于綦江康养产业园区建议的答复函文号是多少？", "渝卫函〔2023〕300号"),
])
def test_a_question_about_a_letter_field_quotes_the_line_stating_it(use_index: Index, question: str, evidence: str):
    answer = use_index.ask(question)
    assert not answer.abstained and evidence in answer.text
    assert use_index.with_config(field_weight=0.0).ask(question).text != answer.text


def test_the_next_quoted_sentence_is_the_one_adding_what_the_others_do_not_say():
    texts = ["技能人才培训成效显著。", "技能人才评价制度健全。", "技能人才竞赛广泛开展。", "积极推动中国特色学徒制。"]
    hit = Hit(text="".join(texts), score=1.0, letter_id="a", chunk_id="a#0", start=0, end=len("".join(texts)),
              section="", title=None, agency=None, doc_number=None, date=None, citation="a", rank=1,
              dense_score=0.9, lexical_score=1.0, path="")
    sentences = tuple(Sentence(hit, 0, 1, text, 0.5, 0.5, 0.0, score)
                      for text, score in zip(texts, (1.0, 0.95, 0.9, 0.85), strict=True))
    terms = (Term(("技能人才",), 1.0), Term(("学徒", "学徒制"), 3.0))
    evidence = SentenceEvidence("学徒", "zh", (hit,), sentences, 1.0, 0.9, terms)
    assert [s.text for s in choose_sentences(evidence, 2, 0.75)] == texts[:2]  # by score alone
    assert [s.text for s in choose_sentences(evidence, 2, 0.75, novelty=0.2)] == [texts[0], texts[3]]
    assert [s.text for s in choose_sentences(evidence, 2, 0.9, novelty=0.2)] == texts[:2]  # 0.85 < 0.9 × 1.0


YANTAI = """烟台市发展和改革委员会
关于改善生物医药企业改革创新环境的建议的答复
王红委员：
　　你们提出的《关于改善烟台市生物医药企业改革创新环境的建议》收悉，现答复如下：
　　一、设立产业引导基金
　　我委设立规模10亿元的医药产业引导基金，重点投向创新药和高端医疗器械项目。
　　二、优化审批服务
　　市行政审批服务局开通药品经营许可绿色通道，办理时限压缩至5个工作日。
　　感谢您对烟台市生物医药企业改革创新环境的关心和支持。
　　此复。
烟台市发展和改革委员会
2023年6月1日
"""


def test_a_letters_title_greeting_and_formulae_are_never_the_answer(tmp_path: Path, fake_encoder: FakeEncoder,
                                                                     analyzer: Analyzer):
    """The title, the opening "…收悉，现答复如下" and the closing thanks share the question's words, the reply's
    measures do not: the answer quotes the measures."""
    folder = tmp_path / "letters"
    folder.mkdir()
    (folder / "yantai.txt").write_text(YANTAI, encoding="utf-8")
    index = Index.build([folder], tmp_path / "index", encoder=fake_encoder, analyzer=analyzer,
                        config=Config(abstain_threshold=0.0))
    answer = index.ask("烟台市如何改善生物医药企业改革创新环境？")
    quotes = [c.quote for c in answer.citations]
    assert not answer.abstained and quotes
    furniture = ("关于改善生物医药企业改革创新环境的建议的答复", "收悉", "感谢您", "此复", "王红委员")
    assert not [q for q in quotes if any(f in q for f in furniture)], quotes
    assert any("引导基金" in q or "绿色通道" in q for q in quotes)
    assert_citations_verified(index, answer)
