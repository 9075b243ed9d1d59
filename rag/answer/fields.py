"""Questions about a letter's own particulars: its contact, document number, signer, date, addressee.

Their answers are lines of the letter's header or signature block ("联系人及电话：梁 沛 0311-87801895"), which
share few words with the question and little meaning, so sentence scoring alone ranks them low. The parser
already reads these fields (:class:`~rag.parse.Letter`); a sentence that states the field a question asks for,
of its own letter, is preferred.
"""

from __future__ import annotations

import re

from ..parse import Letter
from .terms import fold

# field → (what a Chinese question asks it with, what an English one does)
FIELD_QUESTIONS: dict[str, tuple[re.Pattern[str], re.Pattern[str]]] = {
    "contact": (re.compile(r"联系人|联系电话|联系方式|联系谁|找谁|电话|咨询"),
                re.compile(r"\bcontact|\bcall\b|\bphone|\btelephone|\bwho (?:should|can|do) (?:i|we) (?:ask|call)",
                           re.I)),
    "doc_number": (re.compile(r"文号|发文字号|函号"),
                   re.compile(r"\b(?:document|reference|file|letter) (?:number|no\b)", re.I)),
    "signer": (re.compile(r"签发|签批|谁签"), re.compile(r"\bsign(?:ed|s|er)?\b", re.I)),
    "addressee": (re.compile(r"哪位代表|哪位委员|哪个代表|哪个委员|代表是谁|委员是谁|谁提出|谁提的"),
                  re.compile(r"\bwhich (?:deputy|member|delegate)|\bwho (?:proposed|raised|submitted|asked)", re.I)),
}
_FIELDS_OF = {"contact": ("contact", "phone"), "doc_number": ("doc_number",), "signer": ("signer",),
              "addressee": ("addressee",)}


def asked_fields(question: str, language: str) -> tuple[str, ...]:
    """The letter fields ``question`` asks for (``language``: ``zh`` or ``en``)."""
    return tuple(name for name, (zh, en) in FIELD_QUESTIONS.items()
                 if (zh if language == "zh" else en).search(question))


def field_values(letter: Letter | None, fields: tuple[str, ...]) -> tuple[str, ...]:
    """The folded values ``letter`` states for ``fields`` (as :func:`~rag.answer.terms.fold` gives them)."""
    if letter is None:
        return ()
    values = (getattr(letter, attribute) for name in fields for attribute in _FIELDS_OF[name])
    return tuple(folded for value in values if value and len(folded := fold(value)) >= 2)


def states_field(folded_sentence: str, values: tuple[str, ...]) -> bool:
    """Whether a sentence (folded) states one of the values."""
    return any(value in folded_sentence for value in values)
