"""Dates in a letter's text: a line that is only a date (Arabic or Chinese numerals), and a labelled date."""

from __future__ import annotations

import re

DATE_NUM = re.compile(r"((?:19|20)\d{2})\s*[年\-/.]\s*(\d{1,2})\s*[月\-/.]\s*(\d{1,2})\s*日?")
_ZEROS = str.maketrans({"○": "〇", "O": "〇", "o": "〇", "Ｏ": "〇", "零": "〇"})
_CN_DATE = re.compile(r"[〇一二三四五六七八九]{4}年[一二三四五六七八九十]{1,3}月[一二三四五六七八九十]{1,3}日")


def standalone_date(text: str) -> str | None:
    """A line that is only a date, as ISO ``YYYY-MM-DD``: 2023年7月17日, 2023.7.17, 2023-07-17, 二〇二三年七月十七日,
    or with its separators lost in copying (2023717, when only one month and day fit)."""
    compact = re.sub(r"\s+", "", text)
    if _CN_DATE.fullmatch(compact.translate(_ZEROS)):
        import cn2an  # Chinese numerals, 十 and 廿 forms included: cn2an keeps them

        compact = cn2an.transform(compact.translate(_ZEROS), "cn2an")
    match = DATE_NUM.fullmatch(compact)
    if match:
        return iso_date(*match.groups())
    digits = re.fullmatch(r"((?:19|20)\d{2})(\d{3,4})", compact)
    if digits:
        year, rest = digits.groups()
        fits = {date for cut in (1, 2) if (date := iso_date(year, rest[:cut], rest[cut:])) and len(rest) - cut <= 2}
        return fits.pop() if len(fits) == 1 else None
    return None


def iso_date(year: str, month: str, day: str) -> str | None:
    """``YYYY-MM-DD``, or ``None`` when the month or day is out of range."""
    y, m, d = int(year), int(month), int(day)
    if 1 <= m <= 12 and 1 <= d <= 31:
        return f"{y:04d}-{m:02d}-{d:02d}"
    return None


# labels of the letter's own date; a page's publication date (发布日期, 发布时间, 日期) is not the letter's
DATE_LABELS = ("成文日期", "生成日期", "公文生成日期", "制发日期", "答复日期", "答复时间", "发文日期")


def cell_date(head: str, labels: tuple[str, ...]) -> str | None:
    """A date right after one of ``labels`` with no colon between: a table cell or a space."""
    for label in labels:
        spaced = r"\s*".join(map(re.escape, label))
        match = re.search(spaced + r"[\s\]］】|:：]*" + DATE_NUM.pattern, head)
        if match:
            return iso_date(*match.groups()[-3:])
    return None


def labelled_date(labelled: dict[str, str], labels: tuple[str, ...]) -> str | None:
    """The date of the first of ``labels`` that :func:`rag.parse.header.labelled_fields` found holding one."""
    for label in labels:
        date = standalone_date(labelled.get(label) or "")
        match = DATE_NUM.search(labelled.get(label) or "")
        if date or match:
            return date or (iso_date(*match.groups()) if match else None)
    return None


__all__ = ["DATE_LABELS", "DATE_NUM", "cell_date", "iso_date", "labelled_date", "standalone_date"]
