"""The questions a ``rag search`` or ``rag ask`` run asks: one argument, or a ``--queries`` JSON-lines file."""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Query:
    """One question of a run: its id (``None`` for a single question), the text, or why it cannot be asked."""

    qid: Any
    question: str = ""
    error: str | None = None


def read_questions(args: argparse.Namespace) -> list[Query]:
    """The questions of ``rag search`` / ``rag ask``: the QUESTION argument, or each line of ``--queries``."""
    if args.queries and args.question:
        raise ValueError("give a QUESTION or --queries FILE, not both")
    if args.queries:
        lines = Path(args.queries).read_text(encoding="utf-8").splitlines()
        return [_query_line(args.queries, number, line) for number, line in enumerate(lines, start=1)
                if line.strip()]
    if args.question is None:
        raise ValueError("give a QUESTION or --queries FILE.jsonl")
    if not _encodable(args.question):
        raise ValueError(_not_utf8(args.question))
    return [Query(None, args.question)]


def _not_utf8(argument: str) -> str:
    """Why a command-line argument is refused: Python keeps bytes that are not UTF-8 as lone surrogates."""
    raw = argument.encode("utf-8", "surrogateescape")
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        where = f" (byte 0x{raw[exc.start]:02x} at offset {exc.start})"
    else:  # a surrogate that came from no byte: typed as such
        where = ""
    return (f"the question is not valid UTF-8{where}: write it in UTF-8 (is the terminal or the script in another "
            "encoding, such as GBK?)")


def _query_line(source: str, number: int, line: str) -> Query:
    """A ``--queries`` line as a question, or as an error for its id (the batch goes on past it)."""
    where = f"{source} line {number}"
    try:
        row = json.loads(line)
    except ValueError as exc:
        return Query(f"line {number}", error=f"{where}: not JSON ({exc})")
    if not isinstance(row, dict) or "id" not in row or "question" not in row:
        return Query(f"line {number}", error=f"{where}: expected {{\"id\", \"question\"}}")
    qid, question = row["id"], row["question"]
    if not isinstance(qid, (str, int)) or isinstance(qid, bool) or not _encodable(str(qid)):
        return Query(f"line {number}", error=f"{where}: the id must be text or a whole number")
    if not isinstance(question, str):
        return Query(qid, error=f"{where}: the question must be text, not {type(question).__name__}")
    if not _encodable(question):
        return Query(qid, error=f"{where}: the question is not valid Unicode (a lone surrogate)")
    return Query(qid, question)


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


__all__ = ["Query", "read_questions"]
