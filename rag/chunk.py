"""Split a parsed letter into chunks along its own sections; split sentences for dense units."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from .config import Config
from .parse import Letter, Section

_SENTENCE_END = re.compile(r"[^。！？!?；;\n]*(?:[。！？!?；;]+[”’」』）)]*|\n|$)")

Splitter = Callable[[str], list[str]]
T = TypeVar("T")


@dataclass(frozen=True)
class Chunk:
    """A passage of one letter: ``letter.text[start:end] == text``."""

    chunk_id: str
    letter_id: str
    section: str
    label: str
    start: int
    end: int
    text: str

    def context_text(self, letter_title: str | None) -> str:
        """The text given to the encoder: title and section path as context, then the passage."""
        head = [h for h in (letter_title, self.section) if h]
        return "\n".join([*head, self.text])


def sentence_splitter(max_chars: int) -> Splitter:
    """Cut at sentence ends (。！？；, full- or half-width), then commas; langchain-text-splitters."""
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    splitter = RecursiveCharacterTextSplitter(
        separators=["\n", "。", "！", "？", "!", "?", "；", ";", "，", ",", ""],
        keep_separator="end",
        chunk_size=max_chars,
        chunk_overlap=0,
        strip_whitespace=False,
    )
    return splitter.split_text


def fixed_splitter(size: int, overlap: int) -> Splitter:
    """The tutorial pipeline's splitter: fixed windows of ``size`` characters with ``overlap``."""
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    return RecursiveCharacterTextSplitter(chunk_size=size, chunk_overlap=overlap, strip_whitespace=False).split_text


def chunk_letter(letter: Letter, config: Config, splitter: Splitter | None = None) -> list[Chunk]:
    """Chunk one letter.

    One chunk per lowest-level section; a section longer than ``config.max_chunk_chars`` is
    split at sentence ends; a fragment shorter than ``config.min_chunk_chars`` (a bare parent
    heading, a cut-off section) is merged into its neighbour so no heading is orphaned.

    Args:
        letter: the parsed letter.
        config: chunk sizes and mode (``sections`` or the ``fixed`` baseline).
        splitter: splits an over-long section's text into pieces (defaults by mode).

    Returns:
        Chunks in reading order, each with exact offsets into ``letter.text``.
    """
    if config.chunking == "fixed":
        split = splitter or fixed_splitter(config.fixed_chunk_chars, config.fixed_overlap)
        windows = _place(letter.text, 0, split(letter.text), overlapping=True)
        return [_make(letter, i, "", "", s, e) for i, (s, e) in enumerate(windows)]
    split = splitter or sentence_splitter(config.max_chunk_chars)
    sections = letter.sections or (Section(0, "", "", 0, len(letter.text), (), ()),)
    segments = _merge_short(
        [(s, *_trim(letter.text, s.start, s.end)) for s in sections if letter.text[s.start:s.end].strip()],
        config.min_chunk_chars,
    )
    chunks: list[Chunk] = []
    for section, start, end in segments:
        if end - start <= config.max_chunk_chars:
            spans = [(start, end)]
        else:
            pieces: list[tuple[None, int, int]] = [
                (None, s, e) for s, e in _place(letter.text, start, split(letter.text[start:end]))]
            spans = [(s, e) for _, s, e in _merge_short(pieces, config.min_chunk_chars)]
        for s, e in spans:
            chunks.append(_make(letter, len(chunks), section.path_text, section.label, s, e))
    return chunks


def _make(letter: Letter, n: int, section: str, label: str, start: int, end: int) -> Chunk:
    return Chunk(f"{letter.letter_id}#{n}", letter.letter_id, section, label, start, end, letter.text[start:end])


def _trim(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


def _merge_short(segments: list[tuple[T, int, int]], min_chars: int) -> list[tuple[T, int, int]]:
    """Merge pieces shorter than ``min_chars`` into the next one (a heading into its first child),
    the last one into the previous; the surviving piece keeps its own payload (its section)."""
    out: list[tuple[T, int, int]] = []
    carry: int | None = None
    for i, (payload, start, end) in enumerate(segments):
        if carry is not None:
            start, carry = carry, None
        if end - start < min_chars and i < len(segments) - 1:
            carry = start
            continue
        out.append((payload, start, end))
    if len(out) > 1 and out[-1][2] - out[-1][1] < min_chars:
        payload, start, _ = out[-2]
        out[-2:] = [(payload, start, out[-1][2])]
    return out


def _place(text: str, base: int, pieces: list[str], overlapping: bool = False) -> list[tuple[int, int]]:
    """Find each piece's offsets in ``text`` (from ``base``), trimmed of surrounding blanks."""
    spans: list[tuple[int, int]] = []
    cursor = base
    for piece in pieces:
        stripped = piece.strip()
        if not stripped:
            continue
        found = text.find(stripped, cursor)
        if found < 0:  # a splitter that rewrites text cannot be placed; fall back to a search from base
            found = text.find(stripped, base)
            if found < 0:
                continue
        spans.append((found, found + len(stripped)))
        cursor = found + (1 if overlapping else len(stripped))
    return spans


def split_sentences(text: str, start: int = 0) -> list[tuple[int, int]]:
    """Sentence spans (offsets relative to ``text`` plus ``start``), trimmed of blanks."""
    spans = []
    for match in _SENTENCE_END.finditer(text):
        s, e = _trim(text, match.start(), match.end())
        if e > s:
            spans.append((start + s, start + e))
    return spans
