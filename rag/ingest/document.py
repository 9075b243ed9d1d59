"""What ingest hands on: a readable file's text (:class:`Document`) or the reason it was skipped."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass


@dataclass(frozen=True)
class Document:
    """The text of one readable file, with line ends normalised to ``\\n``."""

    path: str
    text: str
    sha256: str
    encoding: str


@dataclass(frozen=True)
class Skipped:
    """A file that was not indexed, and why."""

    path: str
    reason: str

    def __str__(self) -> str:
        return f"{self.path}: {self.reason}"


class UnreadableFile(Exception):
    """Raised by the readers with a reason a person can act on."""


def printable(text: str) -> str:
    """Text from a file name or a letter made safe to print on one terminal line.

    Control and format characters (newlines, ANSI escape sequences, bidirectional overrides, lone
    surrogates) are shown as Python escapes, so a crafted name cannot forge or recolour output lines.
    """
    return "".join(c.encode("unicode_escape", "backslashreplace").decode("ascii")
                   if unicodedata.category(c)[0] == "C" else c for c in text)


def printable_lines(text: str) -> str:
    """:func:`printable` line by line: text of several lines (a report, a letter's passage) for the terminal."""
    return "\n".join(printable(line) for line in text.split("\n"))


def normalize_newlines(text: str) -> str:
    """Unify line ends and drop a BOM and NUL characters, so offsets mean the same everywhere."""
    return text.lstrip("\ufeff").replace("\r\n", "\n").replace("\r", "\n").replace("\x00", "")
