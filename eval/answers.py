"""Evaluate extractive answers on gold questions: evidence coverage, abstention and citation validity.

Usage::

    python -m eval.answers --gold eval/data/letters28/dev.jsonl --letters ../shared/letters
    python -m eval.answers ... --calibrate      # also print the abstention settings to store in Config
    python -m eval.answers ... --ablate         # also each abstention feature and the bridge turned off

Gold files are read and validated by :mod:`eval.gold`. An answerable question is covered when one of
its evidence strings appears in the answer text (both NFKC-normalised, all whitespace removed); an
abstention on it counts as not covered.

Each question is asked once, with the abstention threshold at 0 and the gates off (so the answer is
composed whenever a usable sentence exists, and carries its evidence confidence, the share of its words in
no indexed passage, the places no letter found mentions and the kind of answer its quotes lack). The place
and answer-type gates then abstain as the index's config has them on; a threshold ``t`` and a cut ``a``
abstain exactly where the confidence is below ``t`` or that share is above ``a``, so every pair is
evaluated, and the calibrated one chosen, without asking again.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from rag import Answer, Citation, Config, Index, split_sentences

from .gold import Question, load_gold, normalize, validate_evidence

ANSWER_RATE_TARGET = 0.95
MIN_GAP = 0.02
ABSENT_MARGIN = 0.05
# every reason an answer is declined: no sentence to quote, then each gate of the answer
GATES = ("no usable sentence", "confidence threshold", "absent words", "place", "answer kind")


@dataclass(frozen=True)
class Outcome:
    """One gold question, the answer composed at threshold 0, and whether ``threshold`` abstains on it."""

    row: Question
    answer: Answer
    threshold: float = 0.0
    max_absent_share: float = 1.0
    place_gate: bool = False
    kind_gate: bool = False

    @property
    def confidence(self) -> float:
        return self.answer.confidence

    @property
    def abstained(self) -> bool:
        return self.answer.abstained or self.answer.confidence < self.threshold or self.gated

    @property
    def gated(self) -> bool:
        """Whether the absent-word gate, the place gate or the answer-type gate abstains on it, whatever its
        confidence."""
        return (self.answer.absent_share > self.max_absent_share or self.place_gate and bool(self.answer.unplaced)
                or self.kind_gate and bool(self.answer.missing_kind))

    @property
    def gates(self) -> tuple[str, ...]:
        """The gates that decline it (:data:`GATES`), in that order."""
        fired = (self.answer.abstained, self.answer.confidence < self.threshold,
                 self.answer.absent_share > self.max_absent_share, self.place_gate and bool(self.answer.unplaced),
                 self.kind_gate and bool(self.answer.missing_kind))
        return tuple(gate for gate, fires in zip(GATES, fired, strict=True) if fires)

    @property
    def citations(self) -> tuple[Citation, ...]:
        return () if self.abstained else self.answer.citations

    @property
    def covered(self) -> bool:
        text = normalize(self.answer.text)
        return not self.abstained and any(normalize(e) in text for e in self.row.evidence)

    @property
    def covered_all(self) -> bool:
        text = normalize(self.answer.text)
        return not self.abstained and all(normalize(e) in text for e in self.row.evidence)


def citation_problems(index: Index, answer: Answer, citations: Sequence[Citation] | None = None) -> list[str]:
    """Why each invalid citation of ``answer`` is invalid (empty when all quote a real sentence in place).

    ``citations`` defaults to all of the answer's citations.
    """
    problems = []
    for c in answer.citations if citations is None else citations:
        text = index.letter(c.hit.letter_id).text
        sentences = set(split_sentences(c.hit.text, c.hit.start))
        if text[c.start:c.end] != c.quote:
            problems.append(f"[{c.n}] quote differs from the letter at {c.start}-{c.end}")
        elif not c.hit.start <= c.start < c.end <= c.hit.end:
            problems.append(f"[{c.n}] {c.start}-{c.end} is outside passage {c.hit.start}-{c.hit.end}")
        elif (c.start, c.end) not in sentences:
            problems.append(f"[{c.n}] {c.start}-{c.end} is not a whole sentence of the passage")
        elif f"[{c.n}]" not in answer.text and not any(s.citation_n == c.n for s in answer.support):
            problems.append(f"[{c.n}] is never referred to")
    return problems


def evaluate(index: Index, rows: list[Question], k: int, threshold: float,
             max_absent_share: float = 1.0) -> list[Outcome]:
    """Ask every question once (threshold 0, no absent-word gate) and judge the answers as ``threshold`` and
    ``max_absent_share`` would have them."""
    ungated = index.with_config(abstain_threshold=0.0, max_absent_share=1.0, place_gate=False,
                                answer_kind_gate=False)
    return [Outcome(row, ungated.ask(row.question, k=k), threshold, max_absent_share, index.config.place_gate,
                    index.config.answer_kind_gate) for row in rows]


def rethreshold(outcomes: list[Outcome], threshold: float, max_absent_share: float | None = None) -> list[Outcome]:
    """The same answers judged at another abstention threshold (and absent-word cut), without asking again."""
    return [replace(o, threshold=threshold, max_absent_share=o.max_absent_share if max_absent_share is None
                    else max_absent_share) for o in outcomes]


def calibrate_both(outcomes: list[Outcome], answer_rate: float = ANSWER_RATE_TARGET, min_gap: float = MIN_GAP,
                   absent_margin: float = ABSENT_MARGIN) -> tuple[float, float]:
    """The absent-word cut, then the abstention threshold calibrated with it.

    The absent-word gate is for questions about what no letter mentions: it may not cost an answerable
    question here, so the cut sits ``absent_margin`` above the largest share among answerable questions
    (1.0, no cut, when that reaches 1). The threshold is then :func:`calibrate`'s, the questions above the
    cut abstaining anyway.
    """
    largest = max((o.answer.absent_share for o in outcomes if o.row.answerable), default=0.0)
    cut = round(min(1.0, largest + absent_margin), 4)
    return calibrate(rethreshold(outcomes, 0.0, cut), answer_rate, min_gap), cut


def calibrate(outcomes: list[Outcome], answer_rate: float = ANSWER_RATE_TARGET, min_gap: float = MIN_GAP) -> float:
    """The abstention threshold, chosen among the midpoints between neighbouring confidences.

    Of the thresholds that answer at least ``answer_rate`` of the answerable questions, the one abstaining
    on the most unanswerable ones, counting only thresholds with at least ``min_gap`` between the
    confidences on either side (a margin for questions not in the gold set); ties go to the wider gap.
    Questions the absent-word cut of ``outcomes`` abstains on count as abstaining at every threshold.
    """
    def level(o: Outcome) -> float:
        return -1.0 if getattr(o, "gated", False) else o.confidence

    answerable = [level(o) for o in outcomes if o.row.answerable]
    unanswerable = [level(o) for o in outcomes if not o.row.answerable]
    levels = sorted(set(answerable + unanswerable))
    if not answerable or len(levels) < 2:
        return 0.0
    best: tuple[bool, float, float, float] | None = None
    for low, high in zip(levels, levels[1:], strict=False):
        threshold = (low + high) / 2
        if sum(c >= threshold for c in answerable) < answer_rate * len(answerable):
            break
        abstained = sum(c < threshold for c in unanswerable)
        key = (high - low >= min_gap, abstained, high - low, threshold)
        if best is None or key[:3] > best[:3]:
            best = key
    return round(best[3], 4) if best else 0.0


def report(index: Index, outcomes: list[Outcome]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for language in ("zh", "en", "all"):
        mine = [o for o in outcomes if language == "all" or o.row.lang == language]
        answerable = [o for o in mine if o.row.answerable]
        unanswerable = [o for o in mine if not o.row.answerable]
        abstained = [o for o in mine if o.abstained]
        citations = [c for o in mine for c in o.citations]
        bad = sum(len(citation_problems(index, o.answer, o.citations)) for o in mine)
        out[language] = {
            "answerable": len(answerable),
            "unanswerable": len(unanswerable),
            "evidence_in_answer": _share(sum(o.covered for o in answerable), len(answerable)),
            "all_evidence_in_answer": _share(sum(o.covered_all for o in answerable), len(answerable)),
            "answer_rate": _share(sum(not o.abstained for o in answerable), len(answerable)),
            "abstention_recall": _share(sum(o.abstained for o in unanswerable), len(unanswerable)),
            "abstention_precision": _share(sum(not o.row.answerable for o in abstained), len(abstained)),
            "citations": len(citations),
            "citation_validity": _share(len(citations) - bad, len(citations)),
        }
    return out


def gate_report(outcomes: Sequence[Outcome]) -> dict[str, dict[str, int]]:
    """Per decline gate, how many answerable questions it declines (``answerable_declined``, of them
    ``answerable_alone`` by it alone) and how many unanswerable ones it catches (``unanswerable_caught``,
    ``unanswerable_alone``)."""
    out = {}
    for gate in GATES:
        fired = [o for o in outcomes if gate in o.gates]
        answerable = [o for o in fired if o.row.answerable]
        unanswerable = [o for o in fired if not o.row.answerable]
        out[gate] = {"answerable_declined": len(answerable),
                     "answerable_alone": sum(o.gates == (gate,) for o in answerable),
                     "unanswerable_caught": len(unanswerable),
                     "unanswerable_alone": sum(o.gates == (gate,) for o in unanswerable)}
    return out


def _share(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def ablate(index: Index, rows: list[Question], k: int, threshold: float, max_absent_share: float,
           outcomes: list[Outcome]) -> dict[str, dict[str, Any]]:
    """The report with each abstention feature, and the bridge, turned off (everything else as given).

    ``outcomes`` are the answers of the full system (asked once); turning the bridge off, or a feature choosing the
    quoted sentences, asks again.
    """
    bridgeless = evaluate(index.with_config(bridge_weight=0.0), rows, k, threshold, max_absent_share)
    asked_again = {"quote continuations off": {"quote_continuations": False},
                   "an answer per question part off": {"clause_answers": False},
                   "typed figure need not share terms": {"kind_min_overlap": 0.0},
                   "typed figure's share not relative": {"kind_overlap_relative": False},
                   "English words not read as the letter renders them": {"bridge_terms": False},
                   "listing sentences not spared": {"spare_listing_sentences": False},
                   "proposer/addressee wordings off": {"broad_field_cues": False},
                   "letter's own date not a field": {"letter_date_field": False},
                   "handling result not a field": {"result_field": False},
                   "proposal number not a field": {"proposal_number_field": False},
                   "replying office not a field": {"agency_field": False},
                   "departments consulted not a field": {"consulted_field": False},
                   "field letter not by a name spelled": {"named_field_letter": False},
                   "field lines judged as sentences": {"field_line_answers": False},
                   "fields of the best hit's letter": {"field_letter_by_sentence": False},
                   "field lines only from retrieved passages": {"field_line_passages": False},
                   "place-bound sentences off": {"place_bound_sentences": False},
                   "pinyin names not terms": {"pinyin_names": False},
                   "pinyin bridge off (retrieval)": {"pinyin_bridge": False},
                   "no search again for a place named": {"place_search": False}}
    variants = {
        "all on": outcomes,
        "absent-word gate off": rethreshold(outcomes, threshold, 1.0),
        "confidence threshold off": rethreshold(outcomes, 0.0),
        "place gate off": [replace(o, place_gate=False) for o in outcomes],
        "answer-type gate off": [replace(o, kind_gate=False) for o in outcomes],
        "bridge off (retrieval and absent words)": bridgeless,
        "bridge and absent-word gate off": rethreshold(bridgeless, threshold, 1.0),
        **{name: evaluate(index.with_config(**changes), rows, k, threshold, max_absent_share)
           for name, changes in asked_again.items()},
    }
    return {name: report(index, judged) for name, judged in variants.items()}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m eval.answers", description=__doc__.split("\n")[0])
    parser.add_argument("--gold", action="append", required=True, metavar="FILE.jsonl")
    parser.add_argument("--split", metavar="FILE:NAME",
                        help="only the questions of a frozen split, e.g. eval/data/real/split.tsv:dev")
    parser.add_argument("--letters", action="append", default=[], metavar="DIR",
                        help="letters to index (when --index is missing or empty)")
    parser.add_argument("--index", metavar="DIR", help="index folder (built from --letters when missing)")
    parser.add_argument("--k", type=int, default=8, help="passages read per question (default 8, as index.ask)")
    parser.add_argument("--threshold", type=float, help="abstention threshold (default: the index's config)")
    parser.add_argument("--max-absent-share", type=float,
                        help="abstain above this share of words in no passage (default: the index's config)")
    parser.add_argument("--calibrate", action="store_true",
                        help=f"pick the threshold and absent-word cut that answer ≥ {ANSWER_RATE_TARGET * 100:.0f}%% "
                             "of answerable questions and abstain on the most unanswerable ones; report with them")
    parser.add_argument("--ablate", action="store_true",
                        help="also report with each abstention feature and the bridge turned off")
    parser.add_argument("--show", action="store_true", help="print every question's outcome")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    args = parser.parse_args(argv)

    rows = load_gold(args.gold, args.split)
    with tempfile.TemporaryDirectory() as scratch:
        directory = Path(args.index) if args.index else Path(scratch) / "index"
        if (directory / "manifest.json").exists():
            index = Index.load(directory, config=None)
            if args.letters:
                index.add(args.letters)
        elif args.letters:
            index = Index.build(args.letters, directory, config=Config())
        else:
            parser.error("give --letters to build an index, or --index of an existing one")
        validate_evidence(rows, (letter.text for letter in index.letters))
        threshold = args.threshold if args.threshold is not None else index.config.abstain_threshold
        cut = args.max_absent_share if args.max_absent_share is not None else index.config.max_absent_share
        outcomes = evaluate(index, rows, args.k, threshold, cut)
        if args.calibrate:
            threshold, cut = calibrate_both(outcomes)
            outcomes = rethreshold(outcomes, threshold, cut)
        result: dict[str, Any] = {"threshold": threshold, "max_absent_share": cut, "questions": len(rows),
                                  **report(index, outcomes), "gates": gate_report(outcomes)}
        if args.calibrate:
            result["calibrated_threshold"], result["calibrated_max_absent_share"] = threshold, cut
        if args.ablate:
            result["ablations"] = ablate(index, rows, args.k, threshold, cut, outcomes)
        if args.show:
            for o in sorted(outcomes, key=lambda o: (o.row.answerable, o.confidence)):
                mark = ("ok " if o.covered else "MISS") if o.row.answerable else ("ok " if o.abstained else "FALSE")
                print(f"{mark} {o.row.id:5} {o.row.lang} conf {o.confidence:.3f} absent {o.answer.absent_share:.2f}"
                      f" {','.join(o.gates) or '-':12}  {o.row.question[:70]}")
    if args.json:
        print(json.dumps(result, ensure_ascii=False))
        return 0
    _print(result)
    return 0


def _print(result: dict[str, Any]) -> None:
    print(f"{result['questions']} questions; abstention threshold {result['threshold']}, "
          f"absent-word cut {result['max_absent_share']}")
    print(f"{'':4} {'evidence':>9} {'all-ev':>7} {'answered':>9} {'abst.rec':>9} {'abst.prec':>9} {'citations':>10}")
    for language in ("zh", "en", "all"):
        r = result[language]
        print(f"{language:4} {_pct(r['evidence_in_answer']):>9} {_pct(r['all_evidence_in_answer']):>7} "
              f"{_pct(r['answer_rate']):>9} {_pct(r['abstention_recall']):>9} {_pct(r['abstention_precision']):>9} "
              f"{_pct(r['citation_validity']):>6} of {r['citations']}")
    answerable, unanswerable = result["all"]["answerable"], result["all"]["unanswerable"]
    print(f"\n{'decline gate':22} {'answerable declined':>20} {'(alone)':>8} {'unanswerable caught':>20} "
          f"{'(alone)':>8}")
    for gate, r in result["gates"].items():
        print(f"{gate:22} {r['answerable_declined']:>14} of {answerable:<3} {r['answerable_alone']:>8} "
              f"{r['unanswerable_caught']:>14} of {unanswerable:<3} {r['unanswerable_alone']:>8}")
    if "calibrated_threshold" in result:
        print(f"calibrated abstain_threshold = {result['threshold']}, max_absent_share = {result['max_absent_share']}"
              "  (store them in rag/config.py, Config)")
    if "ablations" in result:
        print(f"\n{'ablation':42} {'zh ev':>6} {'en ev':>6} {'answered':>9} {'zh decl':>8} {'en decl':>8} "
              f"{'declined':>9}")
        for name, r in result["ablations"].items():
            print(f"{name:42} {_pct(r['zh']['evidence_in_answer']):>6} {_pct(r['en']['evidence_in_answer']):>6} "
                  f"{_pct(r['all']['answer_rate']):>9} {_pct(r['zh']['abstention_recall']):>8} "
                  f"{_pct(r['en']['abstention_recall']):>8} {_pct(r['all']['abstention_recall']):>9}")


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


if __name__ == "__main__":
    sys.exit(main())
