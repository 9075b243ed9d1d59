"""Immutable SQLite files of letters and chunk records, read by id; a later save hard-links them.

Each save that brings new letters writes one segment: its letters (metadata, text, sections) by row and its
chunks' records (letter, section, label, offsets) by integer id. A chunk's text is not stored: it is a slice
of its letter's text. A segment is never changed once written; the database is opened read-only and
``immutable`` so SQLite writes no journal next to it (the generation folder's checksums stay true).

Beside it, ``<name>.facts.sqlite`` holds its letters' metadata alone, a column per field (what a load keeps in
memory): reading it from the segment would walk every page of the letters' text (1.1 GB at 10^6 chunks) and
parse a JSON object per letter (measured at 10^6 chunks on a busy box: about 1.8 s for this file, 3–4 s for the
same metadata as JSON). A segment written
before these files existed gets one at the next save, from the metadata in memory (its live rows: a row no
longer live never becomes live again); until then its metadata is read from the database.

``<name>.sketch.npy`` holds its letters' MinHash signatures by row (:mod:`rag.near_duplicates`, uint32): an
update finds a letter republished elsewhere among the letters indexed before without reading their texts
(computing them again from the texts takes about 1 ms a letter: minutes at 10^5 letters). A segment written
before these files existed gets one from its texts at the first update that needs it, kept from the next save on.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, fields, replace
from pathlib import Path
from typing import Any

import numpy as np

from ..chunk import Chunk
from ..near_duplicates import PERMUTATIONS, signature, signatures
from ..parse import Letter, Region, Section
from .checked import load_array
from .disk import settled
from .segments import link_file

SCHEMA = """
CREATE TABLE letters (row INTEGER PRIMARY KEY, letter_id TEXT NOT NULL, meta TEXT NOT NULL, body TEXT NOT NULL);
CREATE TABLE chunks (key INTEGER PRIMARY KEY, chunk_id TEXT NOT NULL, letter_id TEXT NOT NULL, section TEXT NOT NULL,
                     label TEXT NOT NULL, start INTEGER NOT NULL, end INTEGER NOT NULL);
"""
ChunkRecord = tuple[str, str, str, str, int, int]  # chunk_id, letter_id, section, label, start, end


def stripped(letter: Letter) -> Letter:
    """The letter without its text and sections: what filters and update plans read, kept in memory."""
    return replace(letter, text="", sections=())


class LetterSegment:
    """Letters by row and chunk records by id: in memory until saved, then in ``<name>.sqlite`` in ``folder``."""

    def __init__(self, name: str, folder: Path | None = None, letters: Sequence[Letter] = (),
                 chunks: dict[int, Chunk] | None = None) -> None:
        self.name = name
        self.homes: list[Path] = [folder] if folder is not None else []  # where its file was put, newest first
        self._letters: list[Letter] | None = list(letters) if folder is None else None
        self._chunks: dict[int, Chunk] | None = dict(chunks or {}) if folder is None else None
        self._connection: sqlite3.Connection | None = None
        self._lock = threading.Lock()
        self._sketches: np.ndarray | None = None  # computed here (not yet in a file)

    @classmethod
    def fresh(cls, letters: Sequence[Letter], chunks: dict[int, Chunk],
              sketches: Mapping[str, np.ndarray] | None = None) -> LetterSegment:
        """A segment in memory; ``sketches``: the letters' signatures already computed, by id."""
        segment = cls(f"letters-{uuid.uuid4().hex[:12]}", None, letters, chunks)
        if sketches:
            rows = [sketches.get(letter.letter_id) for letter in letters]
            segment._sketches = np.stack([row if row is not None else signature(letter.text)
                                          for row, letter in zip(rows, letters, strict=True)]) \
                if letters else signatures(())
        return segment

    @property
    def file(self) -> str:
        return f"{self.name}.sqlite"

    @property
    def facts_file(self) -> str:
        return f"{self.name}.facts.sqlite"

    @property
    def sketch_file(self) -> str:
        return f"{self.name}.sketch.npy"

    def sketches(self) -> np.ndarray:
        """Its letters' MinHash signatures by row, ``(rows, PERMUTATIONS)`` uint32 (read from its file, or computed
        from the texts for a segment not saved with one).

        Raises:
            ValueError: a file that does not hold one signature per letter row.
        """
        if self._sketches is not None:
            return self._sketches
        if self._letters is not None:
            self._sketches = signatures(letter.text for letter in self._letters)
            return self._sketches
        rows = int(self._query("SELECT COUNT(*) FROM letters", ())[0][0])
        path = self._home(self.sketch_file)
        if path is None:
            bodies = self._query("SELECT row, body FROM letters ORDER BY row", ())
            if [int(row) for row, _ in bodies] != list(range(rows)):
                raise ValueError(f"{self.file}: its letter rows are not numbered 0 … {rows - 1}")
            self._sketches = signatures(json.loads(body)["text"] for _, body in bodies)
            return self._sketches
        found = load_array(path)
        if found.dtype != np.uint32 or found.shape != (rows, PERMUTATIONS):
            raise ValueError(f"{path} holds {found.shape} {found.dtype}, not one uint32 signature of "
                             f"{PERMUTATIONS} values for each of {rows} letters")
        return found

    def letter(self, row: int) -> Letter:
        if self._letters is not None:
            return self._letters[row]
        found = self._query("SELECT meta, body FROM letters WHERE row = ?", (row,))
        if not found:
            raise KeyError(f"letter row {row} is not in {self.file}")
        return _letter_from(json.loads(found[0][0]), json.loads(found[0][1]))

    def metadata(self) -> Iterator[tuple[int, Letter]]:
        """Every letter row with its letter stripped of text and sections."""
        if self._letters is not None:
            yield from ((row, stripped(letter)) for row, letter in enumerate(self._letters))
            return
        facts = self._home(self.facts_file)
        if facts is not None:
            yield from _read_facts(facts)
            return
        found = self._query("SELECT row, meta FROM letters ORDER BY row", ())
        metas = json.loads("[" + ",".join(meta for _, meta in found) + "]")  # one parse: 196k letters in ~1 s
        for (row, _), meta in zip(found, metas, strict=True):
            yield int(row), _stripped_from(meta)

    def chunk_record(self, key: int) -> ChunkRecord:
        if self._chunks is not None:
            c = self._chunks[key]
            return c.chunk_id, c.letter_id, c.section, c.label, c.start, c.end
        found = self._query("SELECT chunk_id, letter_id, section, label, start, end FROM chunks WHERE key = ?",
                            (key,))
        if not found:
            raise KeyError(f"chunk {key} is not in {self.file}")
        chunk_id, letter_id, section, label, start, end = found[0]
        return str(chunk_id), str(letter_id), str(section), str(label), int(start), int(end)

    def save(self, folder: Path, live: Callable[[], Iterable[tuple[int, Letter]]] | None = None) -> None:
        """Put the segment in ``folder``: hard links to its files when it has them, else written from memory.

        Args:
            live: the live rows with their letters' metadata, for a segment saved before it had a facts file.
        """
        home = self._home()
        if home is None or not link_file(home, folder / self.file):
            if self._letters is None or self._chunks is None:
                raise FileNotFoundError(f"{self.file} is neither in {self.homes} nor in memory")
            _write(folder / self.file, self._letters, self._chunks)
        sketch = self._home(self.sketch_file)
        if sketch is None or not link_file(sketch, folder / self.sketch_file):
            if self._letters is not None or self._sketches is not None:  # else made by the update needing it
                _write_array(folder / self.sketch_file, self.sketches())
        facts = self._home(self.facts_file)
        if facts is None or not link_file(facts, folder / self.facts_file):
            rows = enumerate(self._letters) if self._letters is not None else live() if live is not None else None
            if rows is not None:
                _write_facts(folder / self.facts_file, rows)
        self.homes = [folder, *self.homes[:2]]

    def settle(self) -> None:
        """Drop the in-memory rows once the file they were written to is in a generation folder."""
        if self._letters is not None and self._home() is not None:
            self._letters, self._chunks = None, None
        if self._sketches is not None and self._home(self.sketch_file) is not None:
            self._sketches = None

    def _home(self, name: str | None = None) -> Path | None:
        """The segment's file (or its file ``name``), in the newest of its folders that still has it (a renamed
        staging folder too)."""
        name = name or self.file
        return next((settled(f) / name for f in self.homes if (settled(f) / name).is_file()), None)

    def _query(self, sql: str, args: tuple[Any, ...]) -> list[tuple[Any, ...]]:
        with self._lock:
            if self._connection is None:
                path = self._home()
                if path is None:
                    raise FileNotFoundError(f"{self.file} is in none of {self.homes}")
                self._connection = open_read_only(path, {"letters", "chunks"})
            return self._connection.execute(sql, args).fetchall()


def open_read_only(path: Path, tables: set[str]) -> sqlite3.Connection:
    """A read-only connection to an index's SQLite file, refused unless it holds exactly ``tables``, as tables.

    The file comes from the index folder, someone else's: a view or a trigger in the place of a table could
    run any query (a recursive one that never ends) when the table is read, so none is accepted, and SQLite
    is told not to trust the schema (its "defense against the dark arts").

    Raises:
        ValueError: other tables, or a view, trigger or index among them.
    """
    connection = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro&immutable=1", uri=True, check_same_thread=False)
    try:
        connection.execute("PRAGMA trusted_schema = OFF")
        connection.execute("PRAGMA cell_size_check = ON")
        found = connection.execute("SELECT type, name FROM sqlite_master").fetchall()
    except sqlite3.DatabaseError as exc:
        connection.close()
        raise ValueError(f"{path} is not a readable SQLite file ({exc})") from exc
    if sorted(found) != sorted(("table", name) for name in tables):
        connection.close()
        shown = ", ".join(f"{kind} {name}" for kind, name in found) or "nothing"
        raise ValueError(f"{path} holds {shown}; a letter store's file holds the tables {', '.join(sorted(tables))}")
    return connection


def _write(path: Path, letters: Sequence[Letter], chunks: dict[int, Chunk]) -> None:
    connection = sqlite3.connect(path)
    try:
        connection.executescript(SCHEMA)
        connection.executemany("INSERT INTO letters VALUES (?, ?, ?, ?)", (
            (row, letter.letter_id, json.dumps(_meta(letter), ensure_ascii=False),
             json.dumps({"text": letter.text, "sections": [asdict(s) for s in letter.sections]}, ensure_ascii=False))
            for row, letter in enumerate(letters)))
        connection.executemany("INSERT INTO chunks VALUES (?, ?, ?, ?, ?, ?, ?)", (
            (key, c.chunk_id, c.letter_id, c.section, c.label, c.start, c.end) for key, c in chunks.items()))
        connection.commit()
    finally:
        connection.close()


def _write_array(path: Path, array: np.ndarray) -> None:
    with open(path, "wb") as handle:
        np.save(handle, np.ascontiguousarray(array), allow_pickle=False)


def _write_facts(path: Path, rows: Iterable[tuple[int, Letter]]) -> None:
    """Letters' metadata by row, a column per field; ``paths`` joined by NUL (no file path holds one)."""
    names = ", ".join(f'"{name}"' for name in _META_FIELDS)
    connection = sqlite3.connect(path)
    try:
        connection.execute(f"CREATE TABLE facts (row INTEGER PRIMARY KEY, {names})")
        connection.executemany(f"INSERT INTO facts VALUES (?{', ?' * len(_META_FIELDS)})", (
            (row, *(_PATHS_SEPARATOR.join(letter.paths) if name == "paths" else _region_text(letter.region)
                    if name == "region" else getattr(letter, name) for name in _META_FIELDS)) for row, letter in rows))
        connection.commit()
    finally:
        connection.close()


def _read_facts(path: Path) -> list[tuple[int, Letter]]:
    """Each row of a facts file with its letter without text and sections (as :func:`_stripped_from` makes them,
    with the per-row steps of a file whose columns are the fields of :class:`Letter`: one dict per letter)."""
    connection = open_read_only(path, {"facts"})
    try:
        cursor = connection.execute("SELECT * FROM facts ORDER BY row")
        names = [column[0] for column in cursor.description]
        found = cursor.fetchall()
    finally:
        connection.close()
    if {*names[1:], "text", "sections"} != _LETTER_FIELDS:  # written with other fields: the checked way
        return [(int(row), _stripped_from(_split_paths(dict(zip(names[1:], values, strict=True)))))
                for row, *values in found]
    paths, region = names.index("paths"), names.index("region")
    new, own = object.__new__, object.__setattr__
    letters = []
    for values in found:
        meta = dict(zip(names, values, strict=True), text="", sections=())
        row = meta.pop("row")
        meta["paths"] = tuple(values[paths].split(_PATHS_SEPARATOR)) if values[paths] else ()
        meta["region"] = _region_from(values[region])
        letter = new(Letter)
        own(letter, "__dict__", meta)
        letters.append((row, letter))
    return letters


def _split_paths(meta: dict[str, Any]) -> dict[str, Any]:
    joined = meta.get("paths")
    meta["paths"] = joined.split(_PATHS_SEPARATOR) if joined else ()
    meta["region"] = _region_from(meta.get("region"))
    return meta


def _region_text(region: Region) -> str:
    """A region as one column: its three levels joined by NUL, an unknown level empty."""
    return _PATHS_SEPARATOR.join(name or "" for name in (region.province, region.city, region.county))


def _region_from(stored: object) -> Region:
    """The region :func:`_region_text` (or, in a segment's JSON, a list of three levels) stored."""
    if isinstance(stored, Region):
        return stored
    levels = stored.split(_PATHS_SEPARATOR) if isinstance(stored, str) else stored
    if not isinstance(levels, list | tuple) or len(levels) != 3:
        return Region()
    province, city, county = (str(name) if name else None for name in levels)
    return Region(province, city, county)


_PATHS_SEPARATOR = "\0"


_META_FIELDS = tuple(f.name for f in fields(Letter) if f.name not in ("text", "sections"))


def _meta(letter: Letter) -> dict[str, Any]:
    """The letter's metadata as stored (``asdict`` would copy its text and sections first)."""
    return {name: [letter.region.province, letter.region.city, letter.region.county] if name == "region"
            else getattr(letter, name) for name in _META_FIELDS}


_LETTER_FIELDS = frozenset(f.name for f in fields(Letter))


def _stripped_from(meta: dict[str, Any]) -> Letter:
    """A letter without text and sections from its stored metadata (a dict of its own, taken over as the letter's
    attributes), built without the dataclass's ``__init__``: a load makes one per letter, and at 10^5 letters
    the checks of ``__init__`` (or a copy of each dict) cost seconds."""
    meta.update(text="", sections=(), paths=tuple(meta.get("paths", ())), region=_region_from(meta.get("region")))
    if meta.keys() != _LETTER_FIELDS or not isinstance(meta["letter_id"], str):  # another shape: the checked way
        return _letter_from({k: v for k, v in meta.items() if k not in ("text", "sections")},
                            {"text": "", "sections": []})
    letter = object.__new__(Letter)
    object.__setattr__(letter, "__dict__", meta)
    return letter


def _letter_from(meta: dict[str, Any], body: dict[str, Any]) -> Letter:
    sections = tuple(Section(s["level"], s["marker"], s["title"], s["start"], s["end"], tuple(s["path"]),
                             tuple(s["labels"])) for s in body["sections"])
    return Letter(**{**meta, "paths": tuple(meta.get("paths", ())), "region": _region_from(meta.get("region"))},
                  text=body["text"], sections=sections)
