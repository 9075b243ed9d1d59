"""Letter-field accuracy: ``python -m eval.fields --letters DIR --tsv FILE [--split FILE:NAME] [--json]``.

Parses each letter as ``Index.build`` does (:func:`rag.read_documents` then :func:`rag.parse_letter`) and compares
its 文号, replying office, date and addressee with the fields a ``letters.tsv`` says the letter prints: exact
match after NFKC and whitespace removal, counted on the letters whose row prints the field. A value read where
the row prints none is a false field, counted apart.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from rag import Letter, parse_letter, read_documents

from .gold import GoldError, normalize, read_split

FIELDS = ("doc_number", "agency", "date", "addressee")


@dataclass(frozen=True)
class FieldScore:
    """One field's figures: ``right`` of ``printed`` letters read exactly; ``false`` values read where none is printed.

    ``misses`` lists ``(file, expected, read)`` for each letter read wrongly or not at all, and each false field.
    """

    field: str
    right: int
    printed: int
    false: int
    absent: int
    misses: tuple[tuple[str, str, str], ...]

    @property
    def accuracy(self) -> float:
        return self.right / self.printed if self.printed else 1.0


def read_rows(tsv: str | Path, ids: frozenset[str] | None = None) -> dict[str, dict[str, str]]:
    """The rows of a ``letters.tsv`` by file name, only those of ``ids`` when given."""
    with Path(tsv).open(encoding="utf-8", newline="") as f:
        rows = {row["file"]: row for row in csv.DictReader(f, delimiter="\t")}
    return {name: row for name, row in rows.items() if ids is None or name in ids}


def parse_folder(folder: str | Path, names: Iterable[str]) -> dict[str, Letter]:
    """The letters named (file names inside ``folder``), parsed the way an index build parses them."""
    documents, _ = read_documents([Path(folder) / name for name in names])
    return {Path(d.path).name: parse_letter(d.text, letter_id=Path(d.path).stem, path=d.path, sha256=d.sha256)
            for d in documents}


def score_fields(letters: dict[str, Letter], rows: dict[str, dict[str, str]]) -> list[FieldScore]:
    """Each field's accuracy over the rows (a row whose letter could not be read counts as read wrongly)."""
    scores = []
    for field in FIELDS:
        right = printed = false = absent = 0
        misses: list[tuple[str, str, str]] = []
        for name, row in sorted(rows.items()):
            expected = normalize(row.get(field) or "")
            letter = letters.get(name)
            got = normalize((getattr(letter, field) if letter else None) or "")
            if expected:
                printed += 1
                if got == expected:
                    right += 1
                else:
                    misses.append((name, expected, got))
            else:
                absent += 1
                if got:
                    false += 1
                    misses.append((name, "", got))
        scores.append(FieldScore(field, right, printed, false, absent, tuple(misses)))
    return scores


def report(scores: Sequence[FieldScore], *, show_misses: bool = False) -> str:
    lines = [f"{'field':<11} {'exact':>7} {'%':>6}   false fields"]
    for s in scores:
        lines.append(f"{s.field:<11} {s.right:>3}/{s.printed:<3} {100 * s.accuracy:>5.1f}%   {s.false}/{s.absent}")
        if show_misses:
            lines += [f"    {name}: want {want or '-'!r} got {got or '-'!r}" for name, want, got in s.misses]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m eval.fields", description=__doc__.split("\n")[0])
    parser.add_argument("--letters", required=True, help="the folder of letter files named in the tsv")
    parser.add_argument("--tsv", required=True, help="letters.tsv: file, doc_number, agency, date, addressee, …")
    parser.add_argument("--split", help="FILE:NAME, only the letters of that frozen split")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument("--misses", action="store_true", help="list each letter read wrongly")
    args = parser.parse_args(argv)
    try:
        ids = read_split(args.split)[1] if args.split else None
        rows = read_rows(args.tsv, ids)
    except (GoldError, OSError, KeyError) as exc:
        print(f"eval.fields: {exc}", file=sys.stderr)
        return 2
    letters = parse_folder(args.letters, rows)
    scores = score_fields(letters, rows)
    if args.json:
        print(json.dumps({s.field: {"right": s.right, "printed": s.printed, "accuracy": round(s.accuracy, 4),
                                    "false": s.false, "absent": s.absent} for s in scores}, ensure_ascii=False))
    else:
        print(report(scores, show_misses=args.misses))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
