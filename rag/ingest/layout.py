"""Positioned text lines (OCR boxes, OFD text objects) → letter text: page furniture dropped, paragraphs rejoined.

A scanned or fixed-layout page knows where each line sits but not where a paragraph ends. The
recovered text must parse like a typed letter, so: boxes on one row become one line; page numbers
(``— 1 —``, ``第 1 页 共 3 页``) and headers or footers repeated at the edge of several pages go;
lines of one paragraph are joined (without a space between Chinese characters: Chinese has none);
a line starts a new paragraph when it is indented or the line before it ends short of the margin.
"""

from __future__ import annotations

import math
import re
import statistics
from collections import Counter
from dataclasses import dataclass


@dataclass(frozen=True)
class TextLine:
    """A piece of text and its box on the page (pixels or millimetres; y grows downwards)."""

    text: str
    left: float
    top: float
    right: float
    bottom: float

    @property
    def height(self) -> float:
        return self.bottom - self.top

    @property
    def middle(self) -> float:
        return (self.top + self.bottom) / 2


_PAGE_NUMBER = re.compile(
    r"[-－—–─~～\s]*\d{1,4}[-－—–─~～\s]*"
    r"|第\s*\d{1,4}\s*页\s*(?:[,，/]?\s*共\s*\d{1,4}\s*页)?"
    r"|共\s*\d{1,4}\s*页\s*第\s*\d{1,4}\s*页"
    r"|[Pp]age\s*\d{1,4}(?:\s*(?:of|/)\s*\d{1,4})?"
    r"|\d{1,4}\s*/\s*\d{1,4}")
# A Chinese line never starts with these (line-start rule), and a lone dot beside punctuation is a speck.
_STRAY_START = re.compile(r"^[\s·.,，、:：;；]+(?=\S)")
_STRAY_DOT = re.compile(r"(?<=[，。、：；！？）」》])[·.]+|[·.]+(?=[，。、：；！？（「《“])|·+$")
_DOUBLED = re.compile(r"([，。、：；])\1+")  # never doubled in Chinese: a speck read twice
_NOISE = re.compile(r"[\W_]*", re.UNICODE)
_WIDE = re.compile(r"[\u2e80-\u9fff\uf900-\ufaff\u3000-\u303f\uff00-\uffef]")
_EDGE_ROWS = 2
_INDENT = "\u3000\u3000"
# the year of a document number: GB/T 9704 prints it in 〔〕, which OCR often reads as [ ] 【 】 ( ) or a mix
_DOC_YEAR = re.compile(r"(?<=[\u4e00-\u9fff])\s*[\[［【(（〔]\s*((?:19|20)\d{2})\s*[\]］】)）〕]"
                       r"(?=\s*第?\s*\d{1,6}\s*号)")


def is_page_number(text: str) -> bool:
    """Whether a line is only a page number such as ``— 1 —``, ``-2-`` or ``第 1 页 共 3 页``."""
    return bool(_PAGE_NUMBER.fullmatch(text.strip()))


def rows(boxes: list[TextLine]) -> list[TextLine]:
    """Boxes that share a row merged left to right into one line each, top to bottom."""
    merged: list[list[TextLine]] = []
    for box in sorted(boxes, key=lambda b: (b.middle, b.left)):
        row = merged[-1] if merged else None
        if row and abs(box.middle - statistics.fmean(b.middle for b in row)) < 0.5 * min(box.height, row[0].height):
            row.append(box)
        else:
            merged.append([box])
    return [_join_row(sorted(row, key=lambda b: b.left)) for row in merged]


def _join_row(row: list[TextLine]) -> TextLine:
    text = row[0].text
    for before, box in zip(row, row[1:], strict=False):
        gap = box.left - before.right
        text += "  " if gap > 1.5 * box.height else _glue(text, box.text)
        text += box.text
    return TextLine(text, row[0].left, min(b.top for b in row), row[-1].right, max(b.bottom for b in row))


def _glue(before: str, after: str) -> str:
    """What goes between two pieces of one line or paragraph: nothing beside Chinese, else a space."""
    if not before or not after or _WIDE.match(before[-1]) or _WIDE.match(after[0]):
        return ""
    if before[-1].isdigit() and after[0].isdigit():  # a number wrapped at the margin
        return ""
    return " "


def _key(text: str) -> str:
    return re.sub(r"\d+", "#", "".join(text.split()))


def drop_furniture(pages: list[list[TextLine]], *, specks: bool = False) -> list[list[TextLine]]:
    """Page numbers, noise rows and headers/footers repeated at the edge of several pages, removed.

    With ``specks`` (OCR), dots and punctuation a scanner's specks produce are removed too: a line
    starting with ``，``/``、``/``·``, a dot beside punctuation, doubled ``，，``.

    Every occurrence goes, page one's too: there a running header is the letter's banner, which repeats
    the agency the signature names and would otherwise end up inside the first chunk.
    """
    cleaned = [[TextLine(_clean_text(line.text) if specks else line.text.strip(), line.left, line.top, line.right,
                          line.bottom) for line in page] for page in pages]
    cleaned = [[line for line in page if _NOISE.sub("", line.text) and not is_page_number(line.text)]
               for page in cleaned]
    repeated = _repeated_edges(cleaned)
    kept: list[list[TextLine]] = []
    for page in cleaned:
        edge = set(range(min(_EDGE_ROWS, len(page)))) | set(range(max(0, len(page) - _EDGE_ROWS), len(page)))
        kept.append([line for i, line in enumerate(page) if i not in edge or _key(line.text) not in repeated])
    return kept


def _repeated_edges(pages: list[list[TextLine]]) -> set[str]:
    """Lines (digits aside) found in the top or bottom rows of several pages: running headers and footers.

    The top of page one and the foot of the last page do not count as evidence, since the letter's own
    banner and signature sit there (the agency's name at both ends of a letter is no running header);
    half of the other pages must carry the line.
    """
    everywhere: Counter[str] = Counter()
    counted: Counter[str] = Counter()
    for i, page in enumerate(pages):
        top = {_key(line.text) for line in page[:_EDGE_ROWS]}
        bottom = {_key(line.text) for line in page[-_EDGE_ROWS:]}
        everywhere.update(top | bottom)
        counted.update((top if i > 0 else set()) | (bottom if i < len(pages) - 1 else set()))
    needed = max(1, math.ceil((len(pages) - 1) / 2))
    return {key for key, count in everywhere.items() if count >= 2 and counted[key] >= needed}


def _clean_text(text: str) -> str:
    return _DOUBLED.sub(r"\1", _STRAY_DOT.sub("", _STRAY_START.sub("", text.strip()))).strip()


def paragraphs(pages: list[list[TextLine]]) -> str:
    """The pages' lines as text, one paragraph per line: wrapped lines joined, indented lines starting anew.

    An indented paragraph starts with two ideographic spaces; a vertical gap of whole empty lines after a
    line that ends short (between a letter's header blocks) is kept as empty lines.
    """
    out: list[str] = []
    previous_short = True
    for page in pages:
        if not page:
            continue
        em = statistics.median(line.height for line in page)
        lefts = sorted(line.left for line in page)
        rights = sorted(line.right for line in page)
        margin_left = lefts[len(lefts) // 10]
        margin_right = rights[len(rights) * 9 // 10]
        steps = [b.top - a.top for a, b in zip(page, page[1:], strict=False) if b.top - a.top > 0.5 * em]
        pitch = statistics.median(steps) if steps else em
        for i, line in enumerate(page):
            blanks = min(3, int((line.top - page[i - 1].top) / pitch + 0.5) - 1) if i else 0
            if blanks > 0 and previous_short:  # after a full line, a gap is a page break inside a paragraph
                out.extend([""] * blanks)
            indented = line.left > margin_left + 0.8 * em
            if out and not indented and not previous_short:
                out[-1] += _glue(out[-1], line.text) + line.text
            else:  # a Chinese paragraph's indent is two ideographic spaces, as in a typed letter
                out.append(_INDENT + line.text if indented else line.text)
            previous_short = line.right < margin_right - 3 * em
    return "\n".join(out)


def recover_text(pages: list[list[TextLine]], *, specks: bool = False) -> str:
    """Letter text from each page's positioned boxes: rows, furniture (and with ``specks``, OCR's specks) dropped,
    paragraphs joined."""
    return paragraphs(drop_furniture([rows(page) for page in pages], specks=specks))


def normalize_doc_numbers(text: str) -> str:
    """Document numbers' year brackets as GB/T 9704 prints them: ``弥民函【2017)14号`` → ``弥民函〔2017〕14号``."""
    return _DOC_YEAR.sub(r"〔\1〕", text)


# a line that ends a sentence or a label, or opens a new paragraph (indent, heading marker, list item)
_ENDS_SENTENCE = re.compile(r"[。！？!?；;：:…”」』）)]$")
_OPENS_PARAGRAPH = re.compile(r"[\s\u3000]|[一二三四五六七八九十]{1,3}[、.．]|[（(][一二三四五六七八九十\d]{1,3}[）)]"
                              r"|\d{1,2}[、．.](?!\d)|[•·\-—]")
_DATE_LINE = re.compile(r"\s*(?:19|20)\d{2}\s*[年.\-/]\s*\d{1,2}\s*[月.\-/]\s*\d{1,2}\s*日?\s*")


def _width(text: str) -> int:
    """Display width: a Chinese character or full-width sign takes two columns, so a line of digits and
    characters wraps at the same width as one of characters only."""
    return sum(2 if _WIDE.match(c) else 1 for c in text)


def join_wrapped_lines(text: str) -> str:
    """Lines that a scan or a copied page broke at a fixed width inside a sentence, joined into their paragraph.

    ``…今年共支持12家企`` / ``业开展技术改造…`` becomes one line, so that no chunk or sentence boundary falls inside
    the word. Only a text wrapped at a fixed width is touched: at least three lines (and a third of the long ones)
    share one width and hardly any is wider; a line of that width joins the next unless it ends a sentence or the
    next opens a paragraph (an indent, a heading marker, a date). Text whose paragraphs are lines of any length, as
    a web page's are, comes back unchanged.
    """
    lines = text.split("\n")
    widths = [_width(line.rstrip()) for line in lines]
    long = [w for w in widths if w >= 30]
    if len(long) < 3:
        return text
    counts = Counter(long)
    near = {w: sum(counts[v] for v in range(w - 2, w + 3)) for w in counts}  # lines within two columns of w
    wrap = max(near, key=lambda w: (near[w], w))
    at_wrap = near[wrap]
    wider = sum(v > wrap + 4 for v in long)  # a wrapped text has no line wider than its wrap: these are paragraphs
    if at_wrap < max(3, len(long) / 3) or wider > len(long) / 10 or wrap > 160:
        return text
    out: list[str] = []
    joining = False
    for i, line in enumerate(lines):
        if joining:
            out[-1] += line.strip()
        else:
            out.append(line)
        nxt = lines[i + 1] if i + 1 < len(lines) else ""
        joining = (widths[i] >= wrap - 4 and not _ENDS_SENTENCE.search(line.rstrip()) and bool(nxt.strip())
                   and not _OPENS_PARAGRAPH.match(nxt) and not _DATE_LINE.fullmatch(nxt))
    return "\n".join(out)
