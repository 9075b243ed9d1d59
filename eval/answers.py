"""Evaluate extractive answers on gold questions: evidence coverage, abstention and citation validity.

Usage::

    python -m eval.answers --gold eval/data/dev.jsonl --gold eval/data/extra.jsonl --letters ../shared/letters
    python -m eval.answers ... --calibrate      # also print the abstention threshold to store in Config

Gold files are read and validated by :mod:`eval.gold`. An answerable question is covered when one of
its evidence strings appears in the answer text (both NFKC-normalised, all whitespace removed); an
abstention on it counts as not covered.

Each question is asked once, with the abstention threshold at 0 (so the answer is composed whenever
a usable sentence exists, and its confidence is the evidence confidence). A threshold ``t`` then
abstains exactly where that confidence is below ``t``, so every threshold is evaluated, and the
calibrated one chosen, without asking again.
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


@dataclass(frozen=True)
class Outcome:
    """One gold question, the answer composed at threshold 0, and whether ``threshold`` abstains on it."""

    row: Question
    answer: Answer
    threshold: float = 0.0

    @property
    def confidence(self) -> float:
        return self.answer.confidence

    @property
    def abstained(self) -> bool:
        return self.answer.abstained or self.answer.confidence < self.threshold

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


def evaluate(index: Index, rows: list[Question], k: int, threshold: float) -> list[Outcome]:
    """Ask every question once (threshold 0) and judge the answers as ``threshold`` would have them."""
    unthresholded = index.with_config(abstain_threshold=0.0)
    return [Outcome(row, unthresholded.ask(row.question, k=k), threshold) for row in rows]


def rethreshold(outcomes: list[Outcome], threshold: float) -> list[Outcome]:
    """The same answers judged at another abstention threshold, without asking again."""
    return [replace(o, threshold=threshold) for o in outcomes]


def calibrate(outcomes: list[Outcome], answer_rate: float = ANSWER_RATE_TARGET, min_gap: float = MIN_GAP) -> float:
    """The abstention threshold, chosen among the midpoints between neighbouring confidences.

    Of the thresholds that answer at least ``answer_rate`` of the answerable questions, the one abstaining
    on the most unanswerable ones, counting only thresholds with at least ``min_gap`` between the
    confidences on either side (a margin for questions not in the gold set); ties go to the wider gap.
    """
    answerable = [o.confidence for o in outcomes if o.row.answerable]
    unanswerable = [o.confidence for o in outcomes if not o.row.answerable]
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


def _share(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m eval.answers", description=__doc__.split("\n")[0])
    parser.add_argument("--gold", action="append", required=True, metavar="FILE.jsonl")
    parser.add_argument("--letters", action="append", default=[], metavar="DIR",
                        help="letters to index (when --index is missing or empty)")
    parser.add_argument("--index", metavar="DIR", help="index folder (built from --letters when missing)")
    parser.add_argument("--k", type=int, default=8, help="passages read per question (default 8, as index.ask)")
    parser.add_argument("--threshold", type=float, help="abstention threshold (default: the index's config)")
    parser.add_argument("--calibrate", action="store_true",
                        help=f"pick the threshold that answers ≥ {ANSWER_RATE_TARGET * 100:.0f}%% of answerable "
                             "questions and abstains on the most unanswerable ones; report with it")
    parser.add_argument("--show", action="store_true", help="print every question's outcome")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    args = parser.parse_args(argv)

    rows = load_gold(args.gold)
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
        outcomes = evaluate(index, rows, args.k, threshold)
        calibrated = None
        if args.calibrate:
            calibrated = calibrate(outcomes)
            threshold = calibrated
            outcomes = rethreshold(outcomes, threshold)
        result = {"threshold": threshold, "questions": len(rows), **report(index, outcomes)}
        if calibrated is not None:
            result["calibrated_threshold"] = calibrated
        if args.show:
            for o in sorted(outcomes, key=lambda o: (o.row.answerable, o.confidence)):
                mark = ("ok " if o.covered else "MISS") if o.row.answerable else ("ok " if o.abstained else "FALSE")
                print(f"{mark} {o.row.id:5} {o.row.lang} conf {o.confidence:.3f}  {o.row.question[:70]}")
    if args.json:
        print(json.dumps(result, ensure_ascii=False))
        return 0
    print(f"{len(rows)} questions; abstention threshold {threshold}")
    print(f"{'':4} {'evidence':>9} {'all-ev':>7} {'answered':>9} {'abst.rec':>9} {'abst.prec':>9} {'citations':>10}")
    for language in ("zh", "en", "all"):
        r = result[language]
        print(f"{language:4} {_pct(r['evidence_in_answer']):>9} {_pct(r['all_evidence_in_answer']):>7} "
              f"{_pct(r['answer_rate']):>9} {_pct(r['abstention_recall']):>9} {_pct(r['abstention_precision']):>9} "
              f"{_pct(r['citation_validity']):>6} of {r['citations']}")
    if calibrated is not None:
        print(f"calibrated abstain_threshold = {calibrated}  (store it in rag/config.py, Config.abstain_threshold)")
    return 0


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


if __name__ == "__main__":
    sys.exit(main())
