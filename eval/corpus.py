"""Grow a corpus synthetically: real letters' sections and sentences recombined under new document numbers.

A synthetic letter takes the header, section numbering and closing of a real letter (its template),
fills each numbered section with a real section of the same level from any letter, and swaps a share
of that section's sentences for sentences drawn from all letters. Lengths, vocabulary and structure
therefore stay those of real reply letters, while every letter's text (and document number) is new.
"""

from __future__ import annotations

import random
import re
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from rag import CLOSING, PREAMBLE, Letter, parse_letter, read_documents, split_sentences

_DOC_NUMBER = re.compile(r"([〔\[［【(（]\s*)((?:19|20)\d{2})(\s*[〕\]］】)）]\s*第?\s*)(\d{1,6})(\s*号)")
_PROPOSAL = re.compile(r"第(\s*)\d+(\s*)号(建议|提案|议案)")


@dataclass(frozen=True)
class _Part:
    """A numbered section of a real letter, split into its heading and body sentences."""

    level: int
    marker: str
    heading: str  # without the marker
    sentences: tuple[str, ...]


def _parts(letter: Letter) -> list[_Part]:
    parts = []
    for section in letter.sections:
        if section.level < 1:
            continue
        text = letter.text[section.start:section.end].strip()
        body = text[len(section.title):] if text.startswith(section.title) else text
        body = body.lstrip("。.．:：;； \t\n\u3000")
        sentences = tuple(body[s:e] for s, e in split_sentences(body))
        parts.append(_Part(section.level, section.marker, section.title[len(section.marker):].strip(), sentences))
    return parts


def _edge(letter: Letter, name: str) -> str:
    return "".join(letter.text[s.start:s.end] for s in letter.sections if s.level == 0 and s.title == name).strip()


def _renumber(header: str, letter: Letter, serial: int, rng: random.Random) -> str:
    year = 2015 + serial % 10
    if letter.doc_number and _DOC_NUMBER.search(letter.doc_number):
        new_number = _DOC_NUMBER.sub(lambda m: f"{m[1]}{year}{m[3]}{serial}{m[5]}", letter.doc_number, count=1)
        header = header.replace(letter.doc_number, new_number)
    else:
        header = f"{letter.agency or '某某局'}发〔{year}〕{serial}号\n{header}"
    return _PROPOSAL.sub(lambda m: f"第{m[1]}{rng.randint(1, 999)}{m[2]}号{m[3]}", header)


def synthesize(letters: Sequence[Letter], count: int, *, seed: int = 0, mix: float = 0.3,
               first_serial: int = 1000) -> list[str]:
    """Texts of ``count`` synthetic letters recombined from ``letters``.

    Args:
        letters: parsed real letters (with numbered sections).
        count: how many letters to make.
        seed: the same seed gives the same texts.
        mix: share of each section's sentences replaced by sentences from any letter.
        first_serial: document numbers count up from here, so each letter's number is new.

    Returns:
        The letter texts, each with a distinct document number.

    Raises:
        ValueError: no letter has numbered sections to recombine.
    """
    rng = random.Random(seed)
    parts = [part for letter in letters for part in _parts(letter)]
    pool = [sentence for part in parts for sentence in part.sentences]
    templates = [letter for letter in letters if _parts(letter)]
    if not templates or not pool:
        raise ValueError("no letter has numbered sections to recombine")
    by_level: dict[int, list[_Part]] = {}
    for part in parts:
        by_level.setdefault(part.level, []).append(part)
    texts = []
    for n in range(count):
        template = templates[n % len(templates)]
        lines = [_renumber(_edge(template, PREAMBLE), template, first_serial + n, rng)]
        for slot in _parts(template):
            source = rng.choice(by_level.get(slot.level) or parts)
            sentences = [rng.choice(pool) if rng.random() < mix else s for s in source.sentences]
            lines.append(f"\u3000\u3000{slot.marker}{source.heading}。{''.join(sentences)}")
        lines.append(_edge(template, CLOSING))
        texts.append("\n".join(lines) + "\n")
    return texts


def grow_corpus(sources: Sequence[str | Path], factor: int, folder: str | Path, *, seed: int = 0) -> list[Path]:
    """Write a corpus ``factor`` times the size of ``sources`` into ``folder`` (emptied first).

    The real letters are copied as they are; the rest are synthetic (``syn-00001.txt`` ...).

    Args:
        sources: files or folders of real letters.
        factor: 1 copies the real letters; ``f`` writes ``f × len(real letters)`` letters in all.
        folder: where to write them.
        seed: the same seed gives the same corpus.

    Returns:
        The files written.
    """
    if factor < 1:
        raise ValueError(f"the growth factor must be at least 1, not {factor}")
    documents, _ = read_documents(sources)
    if not documents:
        raise ValueError(f"no letters in {', '.join(str(s) for s in sources)}")
    folder = Path(folder)
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    files = []
    for document in documents:
        target = folder / Path(document.path).name
        target.write_text(document.text, encoding="utf-8")
        files.append(target)
    letters = [parse_letter(d.text, letter_id=Path(d.path).stem, path=d.path, sha256=d.sha256) for d in documents]
    for n, text in enumerate(synthesize(letters, (factor - 1) * len(documents), seed=seed), start=1):
        target = folder / f"syn-{n:05d}.txt"
        target.write_text(text, encoding="utf-8")
        files.append(target)
    return files
