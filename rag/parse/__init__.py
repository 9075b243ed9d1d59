"""Parse a reply letter's text into header metadata (:mod:`.header`) and a numbered section tree (:mod:`.sections`).

A letter in a header layout not seen before is taught here: a new label, title pattern or signature
form goes in :mod:`.header` (a date form in :mod:`.dates`, a signer or contact form in :mod:`.signature`);
a new heading style in :mod:`.sections`.
"""

from __future__ import annotations

import re

from .header import (
    addressee,
    addressee_index,
    agency,
    doc_number,
    labelled_fields,
    letter_date,
    opening_index,
    split_lines,
    title_fields,
)
from .letter import CLOSING, PREAMBLE, Letter, Section
from .region import Region, letter_region
from .sections import find_headings, section_tree
from .signature import contact, signer

_CHINESE = re.compile(r"[\u3400-\u9fff]")
_LATIN = re.compile(r"[A-Za-z]")


def not_a_letter(text: str) -> str | None:
    """Why a text read from a file is no reply letter, or ``None`` when it may be one.

    Reply letters are written in Chinese: a text with fewer Chinese characters than a quarter of its Latin
    letters (a README, a log, a page in another language) is none. Real letters, page chrome and all, are
    over 90% Chinese by this count; a hostile letter full of markup still passes.
    """
    chinese, latin = len(_CHINESE.findall(text)), len(_LATIN.findall(text))
    if chinese * 4 >= latin:
        return None
    return f"not a reply letter: mostly not Chinese (of its letters, {chinese / (chinese + latin):.0%} are Chinese)"


def reply_start(text: str) -> int:
    """The offset where the reply's own words begin: past the letter's header (its title, 文号, agency) and a
    greeting alone on its line ("尊敬的王伟代表：您好！"); 0 when the letter has no greeting or opening sentence.

    What comes before is letter furniture: it names the letter, never answers a question about it.
    """
    lines = split_lines(text)
    headings = find_headings(lines)
    first_heading = headings[0][0] if headings else None
    greeting = addressee_index(lines, first_heading)
    if greeting is None:
        opening = opening_index(lines, first_heading)
        return lines[opening].start if opening is not None else 0
    line = lines[greeting]
    rest = re.split(r"[:：]", line.text, maxsplit=1)[1] if re.search(r"[:：]", line.text) else ""
    return line.end if not re.sub(r"您好|你好|[\s！!，,。]", "", rest) else line.start


def parse_letter(text: str, *, letter_id: str, path: str = "", sha256: str = "") -> Letter:
    """Parse a letter's text. Never raises on odd input: unknown fields stay ``None``.

    Args:
        text: the letter text (line ends already normalised).
        letter_id: stable id for the letter.
        path: the file it came from.
        sha256: the text's content hash.

    Returns:
        The :class:`Letter`, whose sections cover the whole text in order.
    """
    lines = split_lines(text)
    headings = find_headings(lines)
    first_heading = headings[0][0] if headings else None
    greeting = addressee_index(lines, first_heading)
    body_start = greeting if greeting is not None else opening_index(lines, first_heading)
    header_end = body_start if body_start is not None else (
        first_heading if first_heading is not None else min(len(lines), 12))
    header = lines[:header_end + 1] if body_start is not None else lines[:header_end]
    labelled = labelled_fields(lines[: max(header_end, 1) + 8])

    title, kind, session, number = title_fields(header, labelled)
    contact_name, phone = contact(text)
    number_read = doc_number(header, labelled)
    agency_read = agency(lines, header, labelled, title, body_start)
    greeted = addressee(lines[greeting].text) if greeting is not None else None
    return Letter(
        letter_id=letter_id,
        path=path,
        text=text,
        sha256=sha256,
        title=title,
        doc_number=number_read,
        agency=agency_read,
        date=letter_date(lines, labelled, body_start),
        addressee=greeted,
        session=session,
        proposal_number=number,
        kind=kind,
        signer=signer(text),
        contact=contact_name,
        phone=phone,
        sections=section_tree(text, lines, headings),
        paths=(path,) if path else (),
        region=letter_region(agency=agency_read, title=title, doc_number=number_read, addressee=greeted, text=text),
    )


__all__ = ["CLOSING", "PREAMBLE", "Letter", "Region", "Section", "letter_region", "not_a_letter", "parse_letter",
           "reply_start"]
