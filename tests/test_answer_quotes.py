"""Which sentences an extractive answer quotes: continuations of a quoted sentence, an answer to each part."""

from __future__ import annotations

from pathlib import Path

import pytest

from rag import Analyzer
from rag.answer.clauses import split_clauses
from rag.answer.extractive import compose, with_continuations
from rag.answer.scoring import Sentence, SentenceEvidence
from rag.retrieve.hits import Hit

from .conftest import index_of_texts


def _evidence(question: str, texts: list[str], scores: list[float]) -> SentenceEvidence:
    """One passage holding ``texts`` in reading order (one blank between them), scored ``scores``."""
    passage = " ".join(texts)
    hit = Hit(text=passage, score=1.0, letter_id="a", chunk_id="a#0", start=0, end=len(passage), section="",
              title=None, agency=None, doc_number=None, date=None, citation="a", rank=1, dense_score=0.9,
              lexical_score=1.0, path="")
    sentences, start = [], 0
    for text, score in zip(texts, scores, strict=True):
        sentences.append(Sentence(hit, start, start + len(text), text, 0.5, 0.5, 0.0, score))
        start += len(text) + 1
    return SentenceEvidence(question, "zh", (hit,), tuple(sorted(sentences, key=lambda s: -s.score)), 1.0, 0.9)


TEXTS = ["社区食堂建设意义重大。", "但是，目前还没有专门的经费预算。", "下一步将争取设立引导资金。",
         "其中部分资金用于设备。"]


def test_a_quoted_sentence_brings_the_next_one_when_it_continues_it():
    evidence = _evidence("社区食堂有专门经费吗？", TEXTS, [1.0, 0.3, 0.9, 0.2])
    plain = compose(evidence, threshold=0.5, max_sentences=2)
    assert [c.quote for c in plain.citations] == [TEXTS[0], TEXTS[2]]
    answer = compose(evidence, threshold=0.5, max_sentences=2, continuations=True)
    # the "但是" reservation and the "其中" detail each follow the quoted sentence they continue
    assert [c.quote for c in answer.citations] == TEXTS
    assert answer.text == f"{TEXTS[0]}[1]{TEXTS[1]}[2]{TEXTS[2]}[3]{TEXTS[3]}[4]"
    alone = compose(evidence, threshold=0.5, max_sentences=1, continuations=True)
    assert [c.quote for c in alone.citations] == TEXTS[:2]


def test_a_continuation_is_quoted_once_and_only_after_its_own_sentence():
    evidence = _evidence("社区食堂有专门经费吗？", TEXTS, [1.0, 0.95, 0.2, 0.1])
    chosen = with_continuations(evidence, list(evidence.sentences[:2]))
    assert [s.text for s in chosen] == TEXTS[:2]  # already chosen: not repeated
    third = [s for s in evidence.sentences if s.text == TEXTS[2]]
    assert [s.text for s in with_continuations(evidence, third)] == [TEXTS[2], TEXTS[3]]
    opening = [s for s in evidence.sentences if s.text == TEXTS[1]]
    assert [s.text for s in with_continuations(evidence, opening)] == [TEXTS[1]]  # "下一步" continues nothing


CANTEEN = """某区民政局
关于设立社区老人食堂专项经费的答复
李华委员：
　　社区老人食堂的建设是从特定群体服务向普惠制服务转变的重要举措，对于提升老年人幸福感具有现实意义。但是，目前从财政资金保障上还没有专门的经费预算。下一步，我局将积极争取财政预算设立引导资金。
　　感谢您对我区养老服务工作的关心。
"""


@pytest.mark.parametrize("continuations", [True, False])
def test_the_index_quotes_the_reservation_after_the_sentence_it_qualifies(tmp_path: Path, analyzer: Analyzer,
                                                                        continuations: bool):
    index = index_of_texts(tmp_path, analyzer, canteen=CANTEEN)
    answer = index.with_config(abstain_threshold=0.0, max_answer_sentences=1,
                               quote_continuations=continuations).ask("社区老人食堂的建设有什么现实意义？")
    assert "现实意义" in answer.citations[0].quote
    assert ("还没有专门的经费预算" in answer.text) is continuations


@pytest.mark.parametrize(("question", "parts"), [
    ("河北的申请能在网上办吗？走哪个平台？", ["河北的申请能在网上办吗", "走哪个平台"]),
    ("静安区有多少个助餐场所，其中长者食堂几家？", ["静安区有多少个助餐场所", "其中长者食堂几家"]),
    ("慈溪对技改项目按设备投入奖励，比例最高能到多少？", ["慈溪对技改项目按设备投入奖励，比例最高能到多少"]),
    ("Who should I contact about the proposal, and on what number?", ["Who should I contact about the proposal",
                                                                     "on what number"]),
    ("Was the proposal adopted, fully or partly?", ["Was the proposal adopted, fully or partly"]),
])
def test_a_question_is_split_into_the_questions_it_coordinates(question: str, parts: list[str]):
    assert split_clauses(question) == parts


PLATFORM = """某省药品监督管理局
关于优化创新医疗器械审查服务的答复
张伟代表：
　　我局落实第二类创新医疗器械特别审查办法，设立创新审查服务办公室，负责创新特别审查申请的审查工作。结合产业发展实际，设置创新医疗器械申报条件。优化申报流程，通过省政务服务网实现电子化办理。
　　感谢您对药品监管工作的关心。
"""


@pytest.mark.parametrize("clauses", [True, False])
def test_each_part_of_a_two_part_question_gets_its_answering_sentence(tmp_path: Path, analyzer: Analyzer,
                                                                     clauses: bool):
    index = index_of_texts(tmp_path, analyzer, platform=PLATFORM)
    view = index.with_config(abstain_threshold=0.0, max_absent_share=1.0, max_answer_sentences=1,
                             clause_answers=clauses)
    answer = view.ask("创新医疗器械特别审查申请由谁负责审查？走哪个网办理？")
    assert "创新审查服务办公室" in answer.citations[0].quote
    assert ("省政务服务网" in answer.text) is clauses
    single = view.ask("创新医疗器械特别审查申请由谁负责审查？")
    assert [c.quote for c in single.citations] == [answer.citations[0].quote]  # one question: one sentence


def test_the_parts_of_a_question_are_scored_with_the_sentence_vectors_already_made(tmp_path: Path,
                                                                                   analyzer: Analyzer):
    index = index_of_texts(tmp_path, analyzer, platform=PLATFORM)
    encoded: list[str] = []
    passages = index.encoder.encode_passages

    def counted(texts, batch_size: int = 64):
        encoded.extend(texts)
        return passages(texts, batch_size)

    index.encoder.encode_passages = counted  # type: ignore[method-assign]
    view = index.with_config(abstain_threshold=0.0, max_absent_share=1.0, max_answer_sentences=1)
    answer = view.ask("创新医疗器械特别审查申请由谁负责审查？走哪个网办理？")
    assert "省政务服务网" in answer.text and encoded  # each part answered, its sentences embedded once
    assert len(encoded) == len(set(encoded))
