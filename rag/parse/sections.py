"""A letter's section tree: numbered headings 一、 › （一） › 1. › （1）, with a preamble and a closing section."""

from __future__ import annotations

import re

from .dates import standalone_date
from .header import Line, is_org
from .letter import CLOSING, PREAMBLE, Section

_SPACE = " \t\u3000\u00a0\u2002\u2003"
_CN_DIGITS = "一二三四五六七八九十百"

# Heading markers, from the outermost level inwards: 一、 › （一） › 1. › （1）
_HEADINGS = (
    (1, re.compile(rf"[{_CN_DIGITS}]{{1,3}}[、.．]")),
    (2, re.compile(rf"[（(][{_CN_DIGITS}]{{1,3}}[）)]")),
    (3, re.compile(r"\d{1,2}(?:[、．]|\.(?!\d))")),
    (4, re.compile(r"[（(]\d{1,2}[）)]")),
)
_CLOSING_START = re.compile(r"(?:感谢|特此|此复|以上意见|以上答复|再次感谢|衷心感谢|专此|最后，?感谢|欢迎您|恳请)")

Heading = tuple[int, int, re.Match[str]]  # (line number, level, the marker's match)


def find_headings(lines: list[Line]) -> list[tuple[int, int, re.Match[str]]]:
    found = []
    for i, line in enumerate(lines):
        for level, pattern in _HEADINGS:
            match = pattern.match(line.text)
            if match and len(line.text) > match.end():
                found.append((i, level, match))
                break
    return found



def _heading_title(line: str, marker_end: int) -> str:
    rest = line[marker_end:]
    cut = re.search(r"[。；;！？!?]", rest)
    head = (line[:marker_end] + (rest[: cut.start()] if cut else rest)).strip(_SPACE)
    if len(head) > 40:
        head = head[:39] + "…"
    return head


def _label(marker: str, level: int) -> str:
    core = marker.strip("、.．（）() ")
    if level in (2, 4):
        return f"（{core}）"
    if level == 3:
        return f"{core}."
    return core


def section_tree(text: str, lines: list[Line], headings: list[tuple[int, int, re.Match[str]]]) -> tuple[Section, ...]:
    """Sections in reading order, each spanning from its heading to the next heading.

    Text before the first heading is the preamble section; closing words and the signature
    after the last section form the closing section. Together they cover the whole text.
    """
    if not lines:
        return ()
    starts: list[tuple[int, int, str, str, str]] = []  # (offset, level, marker, title, label)
    for index, level, match in headings:
        line = lines[index]
        marker = match.group(0)
        starts.append((line.start, level, marker, _heading_title(line.text, match.end()), _label(marker, level)))
    closing = _closing_offset(lines, headings)
    out: list[Section] = []
    first = starts[0][0] if starts else (closing if closing is not None else len(text))
    if first > 0 and text[:first].strip():
        out.append(Section(0, "", PREAMBLE, 0, first, (PREAMBLE,), (PREAMBLE,)))
    stack: list[tuple[int, str, str]] = []  # (level, title, label)
    for i, (start, level, marker, title, label) in enumerate(starts):
        end = starts[i + 1][0] if i + 1 < len(starts) else (closing if closing is not None else len(text))
        while stack and stack[-1][0] >= level:
            stack.pop()
        stack.append((level, title, label))
        out.append(Section(level, marker, title, start, end,
                           tuple(t for _, t, _ in stack), tuple(lab for _, _, lab in stack)))
    if closing is not None and text[closing:].strip():
        out.append(Section(0, "", CLOSING, closing, len(text), (CLOSING,), (CLOSING,)))
    if out:  # stretch the first and last sections to the text's ends so nothing is uncovered
        out[0] = _with_span(out[0], 0, out[0].end)
        out[-1] = _with_span(out[-1], out[-1].start, len(text))
    return tuple(out)


def _with_span(section: Section, start: int, end: int) -> Section:
    return Section(section.level, section.marker, section.title, start, end, section.path, section.labels)


def _closing_offset(lines: list[Line], headings: list[tuple[int, int, re.Match[str]]]) -> int | None:
    """Offset where the closing words / signature begin, after the last heading's first line."""
    if not headings:
        return None
    after = headings[-1][0] + 1
    for i in range(after, len(lines)):
        text = lines[i].text
        if _CLOSING_START.match(text) and len(text) <= 120:
            return lines[i].start
        if standalone_date(text):
            j = i - 1 if i - 1 >= after and is_org(re.sub(r"\s+", "", lines[i - 1].text)) else i
            return lines[j].start
    return None
