"""Compare: one question across every letter that answers it, a row per support measure, each quoted and cited.

The rows come from the answer's own support extraction (:func:`~.support.support_rows` over the scored sentences
of every retrieved letter, not only the few an answer quotes), each with the sentence it was read from, checked
against its letter's text. Letters whose passages hold the question's main terms but state no measure are counted.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..analyze import Analyzer, TermStatistics
from ..config import Config
from ..embed import Encoder
from ..parse import Letter, Region
from ..parse.region import division_code
from ..retrieve.hits import Hit
from .figures import SUPPORT_WORD
from .scoring import score_sentences
from .support import support_rows
from .terms import fold
from .types import Citation

_RATE = re.compile(r"[%％]|折")


@dataclass(frozen=True)
class ComparisonRow:
    """One support measure of one letter: where, who, when, what, how much, on what terms, and the sentence saying
    so (``citation.quote == letter.text[citation.start:citation.end]``)."""

    letter_id: str
    region: Region
    agency: str | None
    date: str | None
    doc_number: str | None
    what: str | None
    amount: str | None
    rate: str | None
    cap: str | None
    condition: str | None
    citation: Citation

    @property
    def quote(self) -> str:
        return self.citation.quote

    def to_dict(self) -> dict[str, Any]:
        """The row as ``rag compare --json`` prints it."""
        c = self.citation
        return {"letter_id": self.letter_id, "region": self.region.as_json(), "agency": self.agency,
                "date": self.date, "doc_number": self.doc_number, "what": self.what, "amount": self.amount,
                "rate": self.rate, "cap": self.cap, "condition": self.condition, "quote": self.quote,
                "citation": {"n": c.n, "letter_id": c.letter_id, "start": c.start, "end": c.end,
                             "section": c.hit.section, "text": c.citation}}


@dataclass(frozen=True)
class Comparison:
    """The letters answering a question, one row per distinct measure, in region (division code) then date order.

    ``mentioned_only`` counts the retrieved letters whose passages hold at least half the question's term weight but
    state no measure.
    """

    question: str
    rows: tuple[ComparisonRow, ...]
    mentioned_only: int

    def to_dict(self) -> dict[str, Any]:
        return {"question": self.question, "rows": [row.to_dict() for row in self.rows],
                "mentioned_only": self.mentioned_only}


def compare(question: str, hits: Sequence[Hit], *, encoder: Encoder, analyzer: Analyzer,
            statistics: TermStatistics, letters: Mapping[str, Letter], config: Config) -> Comparison:
    """Compare what the letters of ``hits`` offer for ``question``.

    Args:
        question: the question as searched.
        hits: the retrieved passages of the letters to compare.
        encoder, analyzer, statistics, config: as for :func:`rag.answer.answer` (the sentences are scored alike).
        letters: letters by id, to check every quote against its letter's text.

    Returns:
        The :class:`Comparison`; a letter stating the same measure twice gives one row.
    """
    # only passages naming a support measure can give a row: the others are not scored sentence by sentence (the
    # sentences' encoding is most of a comparison's time), only checked for the question's terms
    measured = [hit for hit in hits if SUPPORT_WORD.search(hit.text)]
    evidence = score_sentences(question, measured, encoder=encoder, analyzer=analyzer, statistics=statistics,
                               letters=letters, config=config)
    sentences = list(evidence.sentences)
    found: dict[tuple[str, ...], tuple[Any, Any]] = {}
    for sentence, item in support_rows(sentences, sentences, limit=len(sentences)):
        letter = letters.get(sentence.hit.letter_id)
        if letter is None or letter.text[sentence.start:sentence.end] != sentence.text:
            continue  # a quote that is not its letter's text is never shown
        key = (letter.letter_id, item.what or "", item.amount or "", item.cap or "", item.condition or "")
        found.setdefault(key, (sentence, item))
    ordered = sorted(found.values(), key=lambda pair: _order(letters[pair[0].hit.letter_id], pair[0].start))
    rows = []
    for n, (sentence, item) in enumerate(ordered, start=1):
        letter = letters[sentence.hit.letter_id]
        rate = item.amount if item.amount and _RATE.search(item.amount) else None
        rows.append(ComparisonRow(
            letter_id=letter.letter_id, region=letter.region, agency=letter.agency, date=letter.date,
            doc_number=letter.doc_number, what=item.what, amount=None if rate else item.amount, rate=rate,
            cap=item.cap, condition=item.condition,
            citation=Citation(n, sentence.hit, sentence.text, sentence.start, sentence.end)))
    answering = {row.letter_id for row in rows}
    total = sum(term.weight for term in evidence.terms) or 1.0
    folded = {hit.chunk_id: fold(hit.text) for hit in hits if hit.letter_id not in answering}
    mentioning = {hit.letter_id for hit in hits if hit.chunk_id in folded and sum(
        term.weight for term in evidence.terms if any(form in folded[hit.chunk_id] for form in term.forms))
        / total >= 0.5}
    return Comparison(question, tuple(rows), len(mentioning))


def _order(letter: Letter, start: int) -> tuple[str, str, str, int]:
    """Rows by region in the order of the division codes (全国 first, unknown last), then by date."""
    return division_code(letter.region), letter.date or "", letter.letter_id, start


def format_comparison(comparison: Comparison) -> str:
    """A comparison as terminal text: one block per row (place, agency, date, 文号; the measure; the quote)."""
    lines = []
    for row in comparison.rows:
        head = "  ".join(x for x in (row.region.text(), row.agency, row.date, row.doc_number) if x)
        facts = "  ".join(f"{name}: {value}" for name, value in (
            ("what", row.what), ("amount", row.amount), ("rate", row.rate), ("cap", row.cap),
            ("condition", row.condition)) if value)
        lines += [f"[{row.citation.n}] {head}", f"    {facts}", f"    “{row.quote}” ({row.citation.citation})"]
    lines.append(f"{len({row.letter_id for row in comparison.rows})} letters answer; "
                 f"{comparison.mentioned_only} only mention the topic")
    return "\n".join(lines)
