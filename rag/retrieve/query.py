"""Questions as they arrive: normalised, control characters dropped, truncated, or refused with a reason."""

from __future__ import annotations

import re
import unicodedata

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u200b-\u200f\u2028-\u202e\ufeff]")


class BadQuery(ValueError):
    """The question or search options cannot be searched; the message says why."""


def clean_question(question: str, max_chars: int) -> tuple[str, bool]:
    """Normalise a question for search: drop control characters, collapse blanks, truncate.

    Returns:
        The cleaned question and whether it was truncated.

    Raises:
        BadQuery: nothing searchable is left.
    """
    if not isinstance(question, str):
        raise BadQuery("the question must be text")
    text = _CONTROL.sub(" ", unicodedata.normalize("NFC", question))
    text = re.sub(r"\s+", " ", text).strip()
    if not text:
        raise BadQuery("the question is empty: type a question about the letters")
    truncated = len(text) > max_chars
    return text[:max_chars], truncated


def check_k(k: object) -> int:
    """``k`` as a whole number ≥ 1, or :class:`BadQuery`."""
    if not isinstance(k, int) or isinstance(k, bool) or k < 1:
        raise BadQuery(f"k must be a whole number ≥ 1, not {k!r}")
    return k
