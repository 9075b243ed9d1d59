"""A hit: one retrieved passage with everything needed to cite it."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from ..chunk import Chunk
from ..parse import Letter, Region


@dataclass(frozen=True)
class Hit:
    """One retrieved passage with everything needed to cite it.

    ``text`` is exactly ``letter.text[start:end]``; ``citation`` reads like
    ``慈卫建〔2021〕15号 · 一（二）``. ``dense_score``/``lexical_score`` are ``None`` when the passage was
    not among that side's candidates. ``region`` is the letter's (:class:`~rag.parse.region.Region`).
    """

    text: str
    score: float
    letter_id: str
    doc_number: str | None
    title: str | None
    agency: str | None
    date: str | None
    section: str
    start: int
    end: int
    citation: str
    chunk_id: str
    rank: int
    dense_score: float | None
    lexical_score: float | None
    path: str
    region: Region = Region()

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def make_hit(chunk: Chunk, letter: Letter, rank: int, score: float,
             dense: float | None, lexical: float | None) -> Hit:
    return Hit(
        text=chunk.text, score=float(score), letter_id=letter.letter_id, doc_number=letter.doc_number,
        title=letter.title, agency=letter.agency, date=letter.date, section=chunk.section,
        start=chunk.start, end=chunk.end, citation=citation(letter, chunk.label), chunk_id=chunk.chunk_id,
        rank=rank, dense_score=None if dense is None else float(dense),
        lexical_score=None if lexical is None else float(lexical), path=letter.path, region=letter.region,
    )


def citation(letter: Letter, label: str) -> str:
    """``doc number · section label``, falling back to the agency and date, the title cut short or the file name
    (:attr:`~rag.parse.Letter.citation_name`)."""
    return f"{letter.citation_name} · {label}" if label else letter.citation_name
