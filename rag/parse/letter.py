"""What a parsed letter is: its text, header metadata and numbered sections, with offsets into the text."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from .region import Region

PREAMBLE = "开头"
CLOSING = "结尾"
CITED_TITLE_CHARS = 20  # a letter without a 文号 or an agency and a date is cited by its title cut to this


@dataclass(frozen=True)
class Section:
    """One numbered section; ``start``/``end`` are character offsets into the letter's text."""

    level: int
    marker: str
    title: str
    start: int
    end: int
    path: tuple[str, ...]
    labels: tuple[str, ...]

    @property
    def path_text(self) -> str:
        return " › ".join(self.path)

    @property
    def label(self) -> str:
        """Short numbering such as ``一（二）1``, used in citations."""
        return "".join(self.labels)


@dataclass(frozen=True)
class Letter:
    """A parsed reply letter: its full text, header metadata and section tree.

    Any field the letter does not state is ``None``. ``contact`` is the contact person's name and ``phone``
    their number, as the signature block gives them. ``region`` is where the letter comes from
    (:func:`~rag.parse.region.letter_region`).
    """

    letter_id: str
    path: str
    text: str
    sha256: str
    title: str | None = None
    doc_number: str | None = None
    agency: str | None = None
    date: str | None = None
    addressee: str | None = None
    session: str | None = None
    proposal_number: str | None = None
    kind: str | None = None
    signer: str | None = None
    contact: str | None = None
    phone: str | None = None
    sections: tuple[Section, ...] = ()
    paths: tuple[str, ...] = field(default=())
    region: Region = field(default=Region())

    @property
    def display_name(self) -> str:
        return self.doc_number or self.title or Path(self.path).stem

    @property
    def citation_name(self) -> str:
        """The letter's name in a citation: its 文号, else its agency and date, else its title cut to
        ``CITED_TITLE_CHARS`` characters with "…" (a title runs to 60 characters and more), else its file's name."""
        if self.doc_number:
            return self.doc_number
        if self.agency and self.date:
            return f"{self.agency} · {self.date}"
        if self.title:
            return self.title if len(self.title) <= CITED_TITLE_CHARS else self.title[:CITED_TITLE_CHARS - 1] + "…"
        return Path(self.path).stem

    def metadata(self) -> dict[str, str | None]:
        return {name: getattr(self, name) for name in (
            "letter_id", "path", "title", "doc_number", "agency", "date", "addressee", "session",
            "proposal_number", "kind", "signer", "contact", "phone")}

