"""Search filters: only some letters, an agency, a region, a date range."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from ..parse import Letter
from ..parse.region import region_names
from .query import BadQuery

_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


@dataclass(frozen=True)
class Filters:
    """Restrict a search. Empty fields do not filter.

    Attributes:
        letters: letter ids to search in.
        agency: substring of the agency name (e.g. ``卫生健康``).
        region: a division the letter's region is or lies in (``浙江`` holds ``宁波市`` and ``慈溪市``; a name
            with or without its suffix).
        date_from: ISO date, inclusive; letters without a date are excluded when a range is set.
        date_to: ISO date, inclusive.
    """

    letters: tuple[str, ...] = ()
    agency: str | None = None
    region: str | None = None
    date_from: str | None = None
    date_to: str | None = None

    def __post_init__(self) -> None:
        for name, value in (("from", self.date_from), ("to", self.date_to)):
            if value is not None and not _is_date(value):
                raise BadQuery(f"the {name} date {value!r} is not a date: expected YYYY-MM-DD, e.g. 2021-06-30")

    def __bool__(self) -> bool:
        return bool(self.letters or self.agency or self.region or self.date_from or self.date_to)

    def accepts(self, letter: Letter) -> bool:
        if self.letters and letter.letter_id not in self.letters:
            return False
        if self.agency and (not letter.agency or self.agency not in letter.agency):
            return False
        if self.region and not letter.region.within(self.region):
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


# ---- the same filters as a Milvus expression (rag.stores.dense_milvus keeps letter, agency, day on each row) ----

REGION_FIELDS = ("province", "city", "county")  # a row's region, level by level ("" where unknown)
MAX_FIELD_CHARS = 1_000  # a letter id or agency is stored (and compared) cut to this many characters
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def day_number(iso: str | None) -> int:
    """A letter's ISO date as the integer YYYYMMDD its Milvus rows carry (0: undated)."""
    return int(iso.replace("-", "")) if iso and _is_date(iso) else 0


def field_text(text: str) -> str:
    """A letter id or agency as a Milvus row stores it: cut to :data:`MAX_FIELD_CHARS`, control characters as spaces."""
    return _CONTROL.sub(" ", text[:MAX_FIELD_CHARS])


def milvus_string(text: str) -> str:
    """``text`` (as :func:`field_text` stores it) as a Milvus string literal: backslashes and quotes escaped, so it
    can neither end the literal early nor add anything to the expression."""
    return '"' + field_text(text).replace("\\", "\\\\").replace('"', '\\"') + '"'


def milvus_expression(filters: Filters, agencies: Iterable[str]) -> str:
    """``filters`` as a Milvus boolean expression over the rows' ``letter``, ``agency``, ``day`` and region fields.

    The agency filter is a substring test; Milvus's ``like`` has no escape for every character an agency may
    hold, so it becomes an exact ``in`` over the indexed ``agencies`` that contain the substring. The region
    filter is hierarchical (``浙江`` holds 宁波市's and 慈溪市's letters): a row is in the region when one of its
    ``province``, ``city``, ``county`` fields holds one of the names :meth:`Region.within` takes for it.
    """
    parts = []
    if filters.letters:
        parts.append(f"letter in [{', '.join(milvus_string(x) for x in sorted(set(filters.letters)))}]")
    if filters.region and filters.region.strip():
        names = ", ".join(milvus_string(name) for name in region_names(filters.region))
        parts.append(" or ".join(f"{level} in [{names}]" for level in REGION_FIELDS))
    if filters.agency:
        matching = sorted({a for a in agencies if a and filters.agency in a})
        parts.append(f"agency in [{', '.join(milvus_string(a) for a in matching)}]")
    if filters.date_from or filters.date_to:
        parts.append("day > 0")
        if filters.date_from:
            parts.append(f"day >= {day_number(filters.date_from)}")
        if filters.date_to:
            parts.append(f"day <= {day_number(filters.date_to)}")
    return " and ".join(f"({part})" for part in parts) or "true"
