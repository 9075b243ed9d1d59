"""Questions as they arrive: normalised, control characters dropped, truncated, or refused with a reason."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from functools import cache

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u200b-\u200f\u2028-\u202e\ufeff]")
_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")


class BadQuery(ValueError):
    """The question or search options cannot be searched; the message says why."""


def clean_question(question: str, max_chars: int) -> tuple[str, bool]:
    """Normalise a question for search: drop control characters, collapse blanks, truncate, and write traditional
    characters as the simplified ones the letters use (OpenCC), so 醫療器械註冊補助 is asked as 医疗器械注册补助.

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
    return simplified(text[:max_chars]), truncated


def check_k(k: object) -> int:
    """``k`` as a whole number ≥ 1, or :class:`BadQuery`."""
    if not isinstance(k, int) or isinstance(k, bool) or k < 1:
        raise BadQuery(f"k must be a whole number ≥ 1, not {k!r}")
    return k


@cache
def _traditional_to_simplified() -> Callable[[str], str]:
    """OpenCC's traditional → simplified conversion (characters and phrases: 註冊 → 注册; 乾隆 stays), loaded once."""
    try:
        import opencc
    except ImportError as exc:  # pragma: no cover - a declared dependency
        raise ImportError("reading traditional characters needs OpenCC: pip install opencc") from exc
    convert: Callable[[str], str] = opencc.OpenCC("t2s").convert
    return convert


def simplified(text: str) -> str:
    """``text`` in simplified characters, as the letters are written (醫療器械註冊補助 → 医疗器械注册补助); simplified
    text and English come back unchanged."""
    return _traditional_to_simplified()(text) if _CJK.search(text) else text
