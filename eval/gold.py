"""Gold questions: load and validate JSONL files, and judge which evidence strings a passage contains."""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

LANGUAGES = ("zh", "en")
_BLANKS = re.compile(r"\s+")


class GoldError(ValueError):
    """A gold file cannot be used; the message names the file, line and question."""


@dataclass(frozen=True)
class Question:
    """One gold question.

    Attributes:
        id: unique across every gold file of a run.
        question: the text asked, Chinese or English.
        lang: ``zh`` or ``en``.
        evidence: strings that appear verbatim in the letters; a hit containing one is relevant.
            Several strings are several parts of the answer (each is looked for separately).
        answerable: ``False`` for questions the letters cannot answer (their evidence is empty).
        source: the gold file it came from.
        line: its line number in that file (1-based).
        letter: the file name of the letter holding the answer, when the gold file says.
    """

    id: str
    question: str
    lang: str
    evidence: tuple[str, ...]
    answerable: bool
    source: str = ""
    line: int = 0
    letter: str | None = None

    @property
    def where(self) -> str:
        """``file line N (question ID)``, for error messages."""
        return f"{self.source} line {self.line} (question {self.id})"


def normalize(text: str) -> str:
    """NFKC-normalise and drop all whitespace, so full-/half-width forms and line breaks do not matter."""
    return _BLANKS.sub("", unicodedata.normalize("NFKC", text))


def evidence_found(text: str, evidence: Sequence[str]) -> tuple[int, ...]:
    """Positions in ``evidence`` of the strings that ``text`` contains (both sides normalised).

    Example:
        >>> evidence_found("给予30％\\n补助。", ["给予30%补助", "创新券"])
        (0,)
    """
    passage = normalize(text)
    return tuple(i for i, item in enumerate(evidence) if normalize(item) in passage)


def read_split(spec: str) -> tuple[str, frozenset[str]]:
    """The ids a frozen split selects: ``FILE:NAME`` (e.g. ``eval/data/real/split.tsv:test``).

    Returns:
        ``(name, ids)``: the letter file names (with and without their extension) and the question ids
        that the split file puts under NAME.

    Raises:
        GoldError: the spec has no ``:NAME``, the file cannot be read, or no row carries NAME.
    """
    path, sep, name = spec.rpartition(":")
    if not sep or not path or not name:
        raise GoldError(f"--split takes FILE:NAME (e.g. eval/data/real/split.tsv:test), not {spec!r}")
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise GoldError(f"cannot read split file {path}: {exc}") from exc
    ids: set[str] = set()
    for line in lines[1:]:
        kind, _, rest = line.partition("\t")
        item, _, side = rest.partition("\t")
        if side.strip() == name:
            ids.add(item)
            if kind == "letter":
                ids.add(Path(item).stem)
    if not ids:
        raise GoldError(f"split file {path} puts nothing under {name!r}")
    return name, frozenset(ids)


def in_split(question: Question, ids: frozenset[str]) -> bool:
    """Whether a question belongs to a split: its letter is in it, or (a question without a letter) its id is."""
    return (question.letter in ids) if question.letter else (question.id in ids)


def load_gold(paths: Iterable[str | Path], split: str | None = None) -> list[Question]:
    """Read gold JSONL files, one question a line, and check every field.

    Args:
        paths: gold files; their questions are concatenated in order.

        split: ``FILE:NAME`` keeps only the questions of that frozen split (see :func:`read_split`).

    Returns:
        The questions.

    Raises:
        GoldError: a file is missing, a line is not JSON, a field is missing or of the wrong type,
            an answerable question has no evidence (or an unanswerable one has some), or an id
            repeats. The message names the file and line.
    """
    questions: list[Question] = []
    seen: dict[str, Question] = {}
    for path in paths:
        path = Path(path)
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as exc:
            raise GoldError(f"cannot read gold file {path}: {exc}") from exc
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            question = _parse_line(line, str(path), number)
            if question.id in seen:
                raise GoldError(f"{question.where}: id {question.id!r} is already used at {seen[question.id].where}")
            seen[question.id] = question
            questions.append(question)
    if split is not None:
        name, ids = read_split(split)
        questions = [q for q in questions if in_split(q, ids)]
        if not questions:
            raise GoldError(f"no question of the gold files is in split {name!r} of {split}")
    elif not questions:
        raise GoldError(f"no questions in {', '.join(str(p) for p in paths) or 'the gold files (none given)'}")
    return questions


def _parse_line(line: str, source: str, number: int) -> Question:
    where = f"{source} line {number}"
    try:
        row = json.loads(line)
    except json.JSONDecodeError as exc:
        raise GoldError(f"{where}: not valid JSON ({exc.msg} at column {exc.colno})") from exc
    if not isinstance(row, dict):
        raise GoldError(f"{where}: expected a JSON object, got {type(row).__name__}")
    missing = [key for key in ("id", "question", "lang", "evidence", "answerable") if key not in row]
    if missing:
        raise GoldError(f"{where}: missing {', '.join(missing)}")
    qid = row["id"]
    if not isinstance(qid, str | int) or isinstance(qid, bool) or not str(qid).strip():
        raise GoldError(f"{where}: id must be a non-empty string, not {qid!r}")
    where = f"{where} (question {qid})"
    text, lang, evidence, answerable = row["question"], row["lang"], row["evidence"], row["answerable"]
    if not isinstance(text, str) or not text.strip():
        raise GoldError(f"{where}: question must be non-empty text")
    if lang not in LANGUAGES:
        raise GoldError(f"{where}: lang must be one of {', '.join(LANGUAGES)}, not {lang!r}")
    if not isinstance(evidence, list) or not all(isinstance(e, str) and normalize(e) for e in evidence):
        raise GoldError(f"{where}: evidence must be a list of non-empty strings")
    if not isinstance(answerable, bool):
        raise GoldError(f"{where}: answerable must be true or false, not {answerable!r}")
    if answerable and not evidence:
        raise GoldError(f"{where}: an answerable question needs at least one evidence string")
    if not answerable and evidence:
        raise GoldError(f"{where}: an unanswerable question must have an empty evidence list")
    letter = row.get("letter")
    return Question(str(qid), text, lang, tuple(evidence), answerable, source, number,
                    letter if isinstance(letter, str) else None)


def validate_evidence(questions: Sequence[Question], letter_texts: Iterable[str]) -> None:
    """Check that every evidence string occurs in at least one letter.

    Args:
        questions: the gold questions.
        letter_texts: the full text of every letter the index holds.

    Raises:
        GoldError: listing each evidence string found in no letter, with its file, line and question.
    """
    corpus = [normalize(text) for text in letter_texts]
    problems = [f"{q.where}: evidence {item!r} is in none of the {len(corpus)} letters"
                for q in questions for item in q.evidence
                if not any(normalize(item) in text for text in corpus)]
    if problems:
        raise GoldError("\n".join(problems))
