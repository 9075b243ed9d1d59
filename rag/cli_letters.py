"""The ``rag`` commands across letters: ``rag letters`` (each letter, its region and sources) and ``rag compare``."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .ingest import printable

if TYPE_CHECKING:
    from .answer.compare import Comparison
    from .index import Index
    from .parse import Letter


def add_letter_commands(sub: Any, filter_args: Callable[[argparse.ArgumentParser], None]
                        ) -> tuple[argparse.ArgumentParser, argparse.ArgumentParser]:
    """Add ``compare`` (with the search filters ``filter_args`` adds) and ``letters`` to the subcommands ``sub``;
    returns the two parsers."""
    compare = sub.add_parser("compare", help="compare what every letter answering a question offers: a row per "
                             "measure (place, agency, date, amount or rate, cap, condition), quoted and cited")
    compare.add_argument("question", help="the question (Chinese or English)")
    compare.add_argument("--index", default="index", metavar="DIR", help="index folder (default: index)")
    compare.add_argument("--letters", type=int, default=20, metavar="N",
                         help="how many of the best-matching letters to read (default: 20)")
    compare.add_argument("--json", action="store_true", help="machine-readable output")
    filter_args(compare)

    letters = sub.add_parser("letters", help="list the indexed letters")
    letters.add_argument("--index", default="index", metavar="DIR")
    letters.add_argument("--json", action="store_true")
    return compare, letters


def print_letters(index: Index, as_json: bool) -> None:
    """Every indexed letter: a JSON list of their fields, or a line each (:func:`letter_row`)."""
    if as_json:
        rows = [letter.metadata() | {"paths": list(letter.paths), "region": letter.region.as_json()}
                for letter in index.letters]
        print(json.dumps(rows, ensure_ascii=False))
        return
    for letter in index.letters:
        print(letter_row(letter))


def letter_row(letter: Letter) -> str:
    """A letter as one tab-separated line: id, document number, agency, region, date, and its title, or else its
    file; a letter published in several places adds its sources, one per line below it."""
    name = letter.title or f"({Path(letter.path).name})"
    fields = [letter.letter_id, letter.doc_number or "-", letter.agency or "-", letter.region.text() or "-",
              letter.date or "-", name]
    sources = [f"\n\tsource: {printable(path)}" for path in letter.paths] if len(letter.paths) > 1 else []
    return "\t".join(printable(field) for field in fields) + "".join(sources)


def print_comparison(comparison: Comparison, as_json: bool) -> None:
    """A comparison as one JSON object (the ``rag compare --json`` contract) or as terminal text."""
    from .answer.compare import format_comparison

    if as_json:
        print(json.dumps(comparison.to_dict(), ensure_ascii=False))
        return
    for line in format_comparison(comparison).splitlines():
        print(printable(line))
