"""The letter store: parsed letters and their chunks, each chunk under the integer id the other stores use."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from ..chunk import Chunk
from ..parse import Letter, Section
from ..retrieve.filters import Filters
from .base import Ids, Stats, as_ids
from .disk import read_jsonl, write_jsonl

LETTERS = "letters.jsonl"
CHUNKS = "chunks.jsonl"


class LetterStore:
    """Letters by id and chunks by integer id, immutable: :meth:`changed` returns a new store.

    Example:
        >>> store = LetterStore().changed(retire=(), letters={letter.letter_id: letter}, chunks=chunks)
        >>> store.chunk(0).letter_id == letter.letter_id
        True
    """

    def __init__(self, letters: Mapping[str, Letter] | None = None, chunks: Mapping[int, Chunk] | None = None) -> None:
        self._letters: dict[str, Letter] = dict(letters or {})
        self._chunks: dict[int, Chunk] = dict(chunks or {})
        self._by_letter: dict[str, list[int]] = {}
        for key, chunk in self._chunks.items():
            self._by_letter.setdefault(chunk.letter_id, []).append(key)
        self._keys = as_ids(list(self._chunks))
        order = {letter_id: n for n, letter_id in enumerate(self._letters)}
        self._owner = np.asarray([order[c.letter_id] for c in self._chunks.values()], dtype=np.int64)
        self.next_id = int(self._keys.max()) + 1 if len(self._keys) else 0

    @property
    def letters(self) -> Mapping[str, Letter]:
        """Letters by id, in the order they were added."""
        return self._letters

    @property
    def chunks(self) -> Mapping[int, Chunk]:
        """Chunks by integer id, in reading order within each letter."""
        return self._chunks

    def __len__(self) -> int:
        return len(self._chunks)

    def chunk(self, key: int) -> Chunk:
        return self._chunks[key]

    def chunk_ids(self, letter_ids: Iterable[str]) -> Ids:
        """The ids of these letters' chunks."""
        return as_ids([key for lid in letter_ids for key in self._by_letter.get(lid, ())])

    def allowed(self, filters: Filters) -> Ids:
        """The ids of the chunks whose letters pass ``filters``."""
        accepted = np.asarray([filters.accepts(letter) for letter in self._letters.values()], dtype=bool)
        if not len(self._keys):
            return as_ids([])
        return as_ids(self._keys[accepted[self._owner]])

    def changed(self, *, retire: Iterable[str], letters: Mapping[str, Letter],
                chunks: Mapping[int, Chunk]) -> LetterStore:
        """A new store: the chunks of ``retire`` dropped, ``chunks`` added, letter records set to ``letters``.

        Args:
            retire: letter ids whose chunks go (removed letters, and changed ones about to be re-chunked).
            letters: every letter of the new store, in order (records of unchanged letters may change,
                e.g. a new path).
            chunks: the new chunks by id.
        """
        gone = set(self.chunk_ids(retire).tolist())
        kept = {key: chunk for key, chunk in self._chunks.items() if key not in gone and chunk.letter_id in letters}
        kept.update(chunks)
        return LetterStore(letters, kept)

    def save(self, folder: Path) -> None:
        write_jsonl(folder / LETTERS, (_letter_row(letter) for letter in self._letters.values()))
        write_jsonl(folder / CHUNKS, (
            {"id": key, "chunk_id": c.chunk_id, "letter_id": c.letter_id, "section": c.section, "label": c.label,
             "start": c.start, "end": c.end}
            for key, c in self._chunks.items()))

    @classmethod
    def load(cls, folder: Path) -> LetterStore:
        letters = {row["letter_id"]: _letter_from_row(row) for row in read_jsonl(folder / LETTERS)}
        chunks: dict[int, Chunk] = {}
        for row in read_jsonl(folder / CHUNKS):
            text = letters[row["letter_id"]].text
            chunks[int(row["id"])] = Chunk(row["chunk_id"], row["letter_id"], row["section"], row["label"],
                                           row["start"], row["end"], text[row["start"]:row["end"]])
        return cls(letters, chunks)

    def stats(self) -> Stats:
        return {"letters": len(self._letters), "chunks": len(self._chunks)}


def _letter_row(letter: Letter) -> dict[str, Any]:
    row = asdict(letter)
    row["sections"] = [asdict(s) for s in letter.sections]
    return row


def _letter_from_row(row: dict[str, Any]) -> Letter:
    sections = tuple(Section(s["level"], s["marker"], s["title"], s["start"], s["end"], tuple(s["path"]),
                             tuple(s["labels"])) for s in row.pop("sections"))
    row["paths"] = tuple(row.get("paths", ()))
    return Letter(**row, sections=sections)
