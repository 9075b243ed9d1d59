"""The figures the README quotes, regenerated: ``python -m eval.regress [--only NAME] [--table]``.

Each run is one corpus and split, with the command that reproduces its figures (as Anserini keeps each
regression's expected scores beside its command). The results go to ``eval/results/regression.json``, which
is committed; ``--table`` prints the README's tables from it, and a test checks that the README quotes them.
Indexes are built once into ``eval/out/regress-*`` and reused (updated when the letters change).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
RESULTS = ROOT / "eval" / "results" / "regression.json"
REAL_SPLIT = "eval/data/real/split.tsv"
FIELD_NAMES = {"doc_number": "文号", "agency": "agency", "date": "date", "addressee": "addressee"}


@dataclass(frozen=True)
class Run:
    """One corpus and split: the letters indexed, the questions asked, the fields checked (real letters)."""

    name: str
    corpus: str
    split: str
    letters: tuple[str, ...]
    gold: str
    split_file: str | None = None  # the gold file holds both splits: this file says which question is which
    fields_tsv: str | None = None

    def command(self) -> str:
        """The two evaluation commands whose figures this run records."""
        letters = " ".join(f"--letters {path}" for path in self.letters)
        split = f" --split {self.split_file}:{self.split}" if self.split_file else ""
        return (f"python -m eval.retrieval --gold {self.gold}{split} {letters} --index eval/out/regress-{self.corpus}; "
                f"python -m eval.answers --gold {self.gold}{split} {letters} --index eval/out/regress-{self.corpus}")


RUNS = (
    Run("letters28-dev", "letters28", "dev", ("../shared/letters",), "eval/data/letters28/dev.jsonl"),
    Run("letters28-test", "letters28", "test", ("../shared/letters",), "eval/data/letters28/test.jsonl"),
    Run("real-dev", "real", "dev", ("../shared/letters", "../shared/real/letters"), "../shared/real/gold.jsonl",
        REAL_SPLIT, "../shared/real/letters.tsv"),
    # more questions on the dev letters, written later from the letters alone by someone who had not read the code
    Run("real-dev2", "real", "dev", ("../shared/letters", "../shared/real/letters"), "eval/data/real/dev2.jsonl",
        REAL_SPLIT),
    Run("real-test", "real", "test", ("../shared/letters", "../shared/real/letters"), "../shared/real/gold.jsonl",
        REAL_SPLIT, "../shared/real/letters.tsv"),
)


def measure(run: Run) -> dict[str, Any]:
    """Retrieval, answers and (for real letters) field accuracy of one run, with default settings."""
    from rag import Config, Index, IndexLoadError

    from . import answers, fields
    from .gold import load_gold, read_split
    from .retrieval import evaluate

    def here(path: str) -> Path:
        return (ROOT / path).resolve()

    split = f"{here(run.split_file)}:{run.split}" if run.split_file else None
    questions = load_gold([here(run.gold)], split)
    folder = ROOT / "eval" / "out" / f"regress-{run.corpus}"
    letters = [str(here(path)) for path in run.letters]
    try:
        index = Index.load(folder)
        index.add(letters)
    except (IndexLoadError, FileNotFoundError):  # none yet, or one of an older format or other settings
        index = Index.build(letters, folder, config=Config(), rebuild=True)
    systems, _ = evaluate(index, questions, k=10, log=lambda _: None)
    hybrid = systems[0].summary
    retrieval = {lang: {"n": hybrid[lang]["n"], **{label: _round(hybrid[lang][metric]) for label, metric in
                                                   (("R@1", "recall@1"), ("R@5", "recall@5"), ("MRR@10", "mrr@10"))}}
                 for lang in ("zh", "en")}
    outcomes = answers.evaluate(index, questions, 8, index.config.abstain_threshold, index.config.max_absent_share)
    judged = answers.report(index, outcomes)
    answered = {lang: {
        "answerable": judged[lang]["answerable"], "unanswerable": judged[lang]["unanswerable"],
        "evidence": _count(outcomes, lang, lambda o: o.row.answerable, lambda o: o.covered),
        "answered": _count(outcomes, lang, lambda o: o.row.answerable, lambda o: not o.abstained),
        "declined": _count(outcomes, lang, lambda o: not o.row.answerable, lambda o: o.abstained),
        "citation_validity": judged[lang]["citation_validity"]} for lang in ("zh", "en", "all")}
    out: dict[str, Any] = {"command": run.command(), "questions": len(questions), "retrieval": retrieval,
                           "answers": answered}
    if run.fields_tsv and split:
        _, ids = read_split(split)
        rows = fields.read_rows(here(run.fields_tsv), ids)
        parsed = fields.parse_folder(here(run.letters[-1]), rows)
        out["fields"] = {s.field: [s.right, s.printed] for s in fields.score_fields(parsed, rows)}
    return out


def _count(outcomes: Sequence[Any], lang: str, among: Any, good: Any) -> list[int]:
    """``[good, of]`` among the outcomes of a language (``all``: both)."""
    mine = [o for o in outcomes if (lang == "all" or o.row.lang == lang) and among(o)]
    return [sum(1 for o in mine if good(o)), len(mine)]


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


def table(results: dict[str, Any]) -> str:
    """The README's figures: one table per corpus, dev and test side by side."""
    out: list[str] = []
    for corpus, title in (("letters28", "28 letters (`../shared/letters`)"),
                          ("real", "real letters (`../shared/real`, indexed with the 28)")):
        dev, more, test = (results.get(f"{corpus}-{split}") for split in ("dev", "dev2", "test"))
        if not dev or not test:
            continue
        runs = [dev, *([more] if more else []), test]
        heads = [f"dev ({dev['questions']} questions)", *([f"dev, more ({more['questions']})"] if more else []),
                 f"test ({test['questions']}, frozen)"]
        out += [f"| {title} | " + " | ".join(heads) + " |", "|---" * (len(runs) + 1) + "|"]
        columns = [_cells(r, with_fields="fields" in dev and "fields" in test) for r in runs]
        out += [f"| {label} | " + " | ".join(column[label] for column in columns) + " |" for label in columns[0]]
        out.append("")
    return "\n".join(out).rstrip() + "\n"


def _cells(result: dict[str, Any], with_fields: bool) -> dict[str, str]:
    """One run's column of the README table, by row label."""
    cells = {f"{lang} retrieval R@1 / R@5 / MRR@10": _retrieval(result, lang) for lang in ("zh", "en")}
    cells |= {f"{lang} evidence in the answer": _share(result["answers"][lang]["evidence"]) for lang in ("zh", "en")}
    cells["answerable answered"] = _share(result["answers"]["all"]["answered"])
    cells["unanswerable declined"] = _share(result["answers"]["all"]["declined"])
    if with_fields:
        cells |= {f"field {label} exact": _share(result["fields"][name]) if "fields" in result else "-"
                  for name, label in FIELD_NAMES.items()}
    return cells


def _retrieval(result: dict[str, Any], lang: str) -> str:
    r = result["retrieval"][lang]
    return " / ".join("-" if r[m] is None else f"{r[m]:.2f}" for m in ("R@1", "R@5", "MRR@10"))


def _share(count: Sequence[int]) -> str:
    good, whole = count
    return f"{good}/{whole} ({good / whole:.0%})" if whole else "-"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m eval.regress", description=__doc__.split("\n")[0])
    parser.add_argument("--only", action="append", choices=[r.name for r in RUNS], help="these runs only")
    parser.add_argument("--table", action="store_true", help="print the README's tables from the saved results")
    parser.add_argument("--out", type=Path, default=RESULTS, help=f"the results file (default {RESULTS})")
    args = parser.parse_args(argv)
    results: dict[str, Any] = json.loads(args.out.read_text("utf-8")) if args.out.exists() else {}
    if not args.table:
        for run in RUNS:
            if args.only and run.name not in args.only:
                continue
            print(f"{run.name}: {run.command()}", file=sys.stderr)
            results[run.name] = measure(run)
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(results, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    print(table(results), end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
