"""Search filters: only some letters, an agency, a date range."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from ..parse import Letter
from .query import BadQuery

_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


@dataclass(frozen=True)
class Filters:
    """Restrict a search. Empty fields do not filter.

    Attributes:
        letters: letter ids to search in.
        agency: substring of the agency name (e.g. ``卫生健康``).
        date_from: ISO date, inclusive; letters without a date are excluded when a range is set.
        date_to: ISO date, inclusive.
    """

    letters: tuple[str, ...] = ()
    agency: str | None = None
    date_from: str | None = None
    date_to: str | None = None

    def __post_init__(self) -> None:
        for name, value in (("from", self.date_from), ("to", self.date_to)):
            if value is not None and not _is_date(value):
                raise BadQuery(f"the {name} date {value!r} is not a date: expected YYYY-MM-DD, e.g. 2021-06-30")

    def __bool__(self) -> bool:
        return bool(self.letters or self.agency or self.date_from or self.date_to)

    def accepts(self, letter: Letter) -> bool:
        if self.letters and letter.letter_id not in self.letters:
            return False
        if self.agency and (not letter.agency or self.agency not in letter.agency):
            return False
        if self.date_from or self.date_to:
            if not letter.date:
                return False
            if self.date_from and letter.date < self.date_from:
                return False
            if self.date_to and letter.date > self.date_to:
                return False
        return True


def _is_date(value: object) -> bool:
    """``value`` is a real calendar date written YYYY-MM-DD (so letters' ISO dates compare correctly)."""
    if not isinstance(value, str) or not _ISO_DATE.fullmatch(value):
        return False
    try:
        date.fromisoformat(value)
    except ValueError:
        return False
    return True
