"""The letter store: letters and their chunks, each chunk under the integer id the other stores use, served from disk.

Letters (text, sections) and chunk records live in immutable SQLite segments (:mod:`.letter_segments`); in
memory are only per-chunk numpy arrays (id, owner letter, segment) and each letter's metadata without its
text, for filters and update plans. A save hard-links the segments already written and adds one for the
letters new since; ``letters.json`` and ``chunks.npy`` (small, rewritten each save) say which rows are live.
"""

from __future__ import annotations

import gc
import json
import threading
from collections import OrderedDict
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, replace
from itertools import repeat
from pathlib import Path

import numpy as np

from ..chunk import Chunk
from ..near_duplicates import PERMUTATIONS
from ..parse import Letter
from ..retrieve.filters import Filters
from .base import Ids, Stats, as_ids
from .checked import inside, load_array
from .letter_segments import LetterSegment, stripped

INDEX = "letters.json"
CHUNKS = "chunks.npy"  # one row per chunk, in order: id, owner letter's position, segment
FORMAT = 1
CACHE = 256  # letters kept whole in memory after a read (a search's hits come from few letters)


@dataclass(frozen=True)
class _Layout:
    """Where every letter and chunk is: replaced whole, never changed, so readers see one consistent state."""

    segments: tuple[LetterSegment, ...]
    letters: tuple[str, ...]  # letter ids, in order
    place: dict[str, tuple[int, int]]  # letter id → (segment, row)
    facts: dict[str, Letter]  # letter id → the letter without text and sections
    chunks: np.ndarray  # (n, 3) int64: id, letter position, segment
    floor: int = 0  # no new chunk takes an id below: ids of removed chunks are never given again

    @classmethod
    def empty(cls) -> _Layout:
        return cls((), (), {}, {}, np.zeros((0, 3), dtype=np.int64))


class LetterStore:
    """Letters by id and chunks by integer id, immutable: :meth:`changed` returns a new store.

    Example:
        >>> store = LetterStore().changed(retire=(), letters={letter.letter_id: letter}, chunks=chunks)
        >>> store.chunk(0).letter_id == letter.letter_id
        True
    """

    def __init__(self, layout: _Layout | None = None) -> None:
        self._layout = layout or _Layout.empty()
        keys = self._layout.chunks[:, 0]
        self._order = np.argsort(keys, kind="stable")
        self._sorted = keys[self._order]
        self.next_id = max(self._layout.floor, int(keys.max()) + 1 if len(keys) else 0)
        self._cache: OrderedDict[str, Letter] = OrderedDict()
        self._cache_lock = threading.Lock()

    @property
    def letters(self) -> Mapping[str, Letter]:
        """Letters by id, in the order they were added (read from disk when asked for)."""
        return _Letters(self)

    @property
    def metadata(self) -> Mapping[str, Letter]:
        """Letters by id without their text and sections, from memory: what update plans need.

        A letter given back to :meth:`changed` like this (empty text, same ``sha256``) keeps its stored text.
        """
        return self._layout.facts

    @property
    def chunks(self) -> Mapping[int, Chunk]:
        """Chunks by integer id, in reading order within each letter (read from disk when asked for)."""
        return _Chunks(self)

    def __len__(self) -> int:
        return len(self._layout.chunks)

    def letter(self, letter_id: str) -> Letter:
        """The whole letter (KeyError if it is not in the store)."""
        with self._cache_lock:
            cached = self._cache.get(letter_id)
            if cached is not None:
                self._cache.move_to_end(letter_id)
                return cached
        segment, row = self._layout.place[letter_id]
        letter = self._layout.segments[segment].letter(row)
        with self._cache_lock:
            self._cache[letter_id] = letter
            if len(self._cache) > CACHE:
                self._cache.popitem(last=False)
        return letter

    def chunk(self, key: int) -> Chunk:
        position = self._position(key)
        segment = int(self._layout.chunks[position, 2])
        chunk_id, letter_id, section, label, start, end = self._layout.segments[segment].chunk_record(key)
        return Chunk(chunk_id, letter_id, section, label, start, end, self.letter(letter_id).text[start:end])

    def sketches(self) -> tuple[tuple[str, ...], np.ndarray]:
        """The letters' ids and their MinHash signatures (:mod:`rag.near_duplicates`), one row each, from the
        segments' signature files (a segment saved without one computes them from its texts, once)."""
        layout = self._layout
        ids = tuple(layout.place)
        places = np.asarray([layout.place[lid] for lid in ids], dtype=np.int64).reshape(-1, 2)
        found = np.zeros((len(ids), PERMUTATIONS), dtype=np.uint32)
        for n in np.unique(places[:, 0]).tolist():
            mine = np.flatnonzero(places[:, 0] == n)
            found[mine] = layout.segments[n].sketches()[places[mine, 1]]
        return ids, found

    def chunk_ids(self, letter_ids: Iterable[str]) -> Ids:
        """The ids of these letters' chunks."""
        wanted = set(letter_ids)
        positions = [n for n, lid in enumerate(self._layout.letters) if lid in wanted]
        table = self._layout.chunks
        return as_ids(table[np.isin(table[:, 1], positions), 0])

    def ids(self) -> Ids:
        """The chunk ids, sorted."""
        return as_ids(self._sorted)

    def chunk_counts(self) -> dict[str, int]:
        """How many chunks each letter has."""
        counts = np.bincount(self._layout.chunks[:, 1], minlength=len(self._layout.letters))
        return {lid: int(n) for lid, n in zip(self._layout.letters, counts.tolist(), strict=True)}

    def allowed(self, filters: Filters) -> Ids:
        """The ids of the chunks whose letters pass ``filters``."""
        accepted = np.asarray([filters.accepts(self._layout.facts[lid]) for lid in self._layout.letters], dtype=bool)
        table = self._layout.chunks
        if not len(table):
            return as_ids([])
        return as_ids(table[accepted[table[:, 1]], 0])

    def changed(self, *, retire: Iterable[str], letters: Mapping[str, Letter], chunks: Mapping[int, Chunk],
                sketches: Mapping[str, np.ndarray] | None = None) -> LetterStore:
        """A new store: the chunks of ``retire`` dropped, ``chunks`` added, letter records set to ``letters``.

        Args:
            retire: letter ids whose chunks go (removed letters, and changed ones about to be re-chunked).
            letters: every letter of the new store, in order (records of unchanged letters may change,
                e.g. a new path).
            chunks: the new chunks by id.
            sketches: MinHash signatures of new letters already computed (the others' are computed here).
        """
        old = self._layout
        for segment in old.segments:
            segment.settle()
        gone = set(retire)
        order = tuple(letters)
        known = old.facts
        new_letters = [self._whole(letter) for lid, letter in letters.items() if lid in gone or (
            letter is not known.get(lid) and (lid not in known or stripped(letter) != known[lid]))]  # `is`: metadata
        fresh = LetterSegment.fresh(new_letters, dict(chunks), sketches) if new_letters or chunks else None
        segments = (*old.segments, fresh) if fresh is not None else old.segments
        rows = {letter.letter_id: (len(old.segments), row) for row, letter in enumerate(new_letters)}
        place, facts = dict(old.place), dict(old.facts)  # copied and edited: no Python step per kept letter
        for lid in old.place.keys() - letters.keys():
            del place[lid], facts[lid]
        place.update(rows)
        facts.update((lid, stripped(letters[lid])) for lid in rows)
        if tuple(facts) != order:  # the letters were given in another order: the facts follow it
            facts = {lid: facts[lid] for lid in order}
        position = dict(zip(order, range(len(order)), strict=True))
        if order[:len(old.letters)] == old.letters:  # the old letters first, as they were: positions kept
            remap = np.arange(len(old.letters), dtype=np.int64)
        else:
            remap = np.fromiter(map(position.get, old.letters, repeat(-1)), dtype=np.int64, count=len(old.letters))
        if gone:
            remap[[n for n, lid in enumerate(old.letters) if lid in gone]] = -1
        kept = old.chunks[remap[old.chunks[:, 1]] >= 0] if len(old.chunks) else old.chunks
        kept = np.column_stack([kept[:, 0], remap[kept[:, 1]], kept[:, 2]]) if len(kept) else kept
        added = np.asarray([[key, position[c.letter_id], len(old.segments)] for key, c in chunks.items()],
                           dtype=np.int64).reshape(-1, 3)
        return LetterStore(_Layout(segments, order, place, facts, np.concatenate([kept, added]), self.next_id))

    def _whole(self, letter: Letter) -> Letter:
        """``letter``, its text and sections read from the store when it came from :attr:`metadata`."""
        known = self._layout.facts.get(letter.letter_id)
        if letter.text or letter.sections or known is None or known.sha256 != letter.sha256:
            return letter
        stored = self.letter(letter.letter_id)
        return replace(letter, text=stored.text, sections=stored.sections)

    def save(self, folder: Path) -> None:
        layout = self._layout
        places = np.asarray([layout.place[lid] for lid in layout.letters], dtype=np.int64).reshape(-1, 2)
        used = np.union1d(places[:, 0], layout.chunks[:, 2]).tolist()
        for n in used:
            layout.segments[n].save(folder, lambda n=n: ((row, layout.facts[lid]) for lid, (segment, row)
                                                         in layout.place.items() if segment == n))
        renumber = np.full(len(layout.segments), -1, dtype=np.int64)  # segment → its place among the used
        renumber[used] = np.arange(len(used))
        rows = zip(layout.letters, renumber[places[:, 0]].tolist(), places[:, 1].tolist(), strict=True)
        head = json.dumps({"format": FORMAT, "next_id": self.next_id,
                           "segments": [layout.segments[n].name for n in used]}, ensure_ascii=False)
        quote = json.encoder.encode_basestring
        letters = ",".join([f"[{quote(lid)},{segment},{row}]" for lid, segment, row in rows])  # text, no list each
        (folder / INDEX).write_text(f'{head[:-1]}, "letters": [{letters}]}}', encoding="utf-8")
        table = layout.chunks.copy()
        table[:, 2] = renumber[table[:, 2]] if len(table) else table[:, 2]
        np.save(folder / CHUNKS, table, allow_pickle=False)

    @classmethod
    def load(cls, folder: Path) -> LetterStore:
        """The store saved in ``folder`` (ValueError when its files disagree or are of another format)."""
        if not (folder / INDEX).is_file():
            raise ValueError(f"{folder} holds no {INDEX}: a letter store of an older format")
        with _collector_paused():
            index = json.loads((folder / INDEX).read_text(encoding="utf-8"))
            if index.get("format") != FORMAT:
                raise ValueError(f"{folder / INDEX} has format {index.get('format')!r}, not {FORMAT}")
            segments = tuple(LetterSegment(inside(folder, name).name, folder) for name in index["segments"])
            place = {str(lid): (int(segment), int(row)) for lid, segment, row in index["letters"]}
            wanted = {key: lid for lid, key in place.items()}
            facts: dict[str, Letter] = {}
            for n, segment in enumerate(segments):
                if not (folder / segment.file).is_file():
                    raise ValueError(f"{folder / segment.file} is missing")
                for row, letter in segment.metadata():
                    if wanted.get((n, row)) == letter.letter_id:
                        facts[letter.letter_id] = letter
        chunks = load_array(folder / CHUNKS)
        order = tuple(str(row[0]) for row in index["letters"])
        if len(facts) != len(place) or chunks.ndim != 2 or chunks.shape[1] != 3 or (len(chunks) and (
                int(chunks[:, 1].max()) >= len(order) or int(chunks[:, 2].max()) >= len(segments))):
            raise ValueError(f"{folder}: {INDEX}, {CHUNKS} and the letter segments disagree")
        return cls(_Layout(segments, order, place, facts, chunks.astype(np.int64), int(index.get("next_id", 0))))

    def stats(self) -> Stats:
        return {"letters": len(self._layout.letters), "chunks": len(self._layout.chunks),
                "segments": len(self._layout.segments)}

    def _position(self, key: int) -> int:
        at = int(np.searchsorted(self._sorted, key))
        if at >= len(self._sorted) or int(self._sorted[at]) != key:
            raise KeyError(key)
        return int(self._order[at])


@contextmanager
def _collector_paused() -> Iterator[None]:
    """No cyclic garbage collection meanwhile. Building 10^5 letters' objects (which form no cycles) would set off
    full collections over every object in the process, the more of them the longer (a model's, say): at 10^6
    chunks a quarter or more of the letter store's load."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


class _Letters(Mapping[str, Letter]):
    """A store's letters by id, read from disk when asked for."""

    def __init__(self, store: LetterStore) -> None:
        self._store = store

    def __getitem__(self, letter_id: str) -> Letter:
        return self._store.letter(letter_id)

    def __contains__(self, letter_id: object) -> bool:
        return letter_id in self._store._layout.place

    def __iter__(self) -> Iterator[str]:
        return iter(self._store._layout.letters)

    def __len__(self) -> int:
        return len(self._store._layout.letters)


class _Chunks(Mapping[int, Chunk]):
    """A store's chunks by id, in order, read from disk when asked for."""

    def __init__(self, store: LetterStore) -> None:
        self._store = store

    def __getitem__(self, key: int) -> Chunk:
        return self._store.chunk(key)

    def __contains__(self, key: object) -> bool:
        try:
            self._store._position(int(key))  # type: ignore[call-overload]
        except (KeyError, TypeError, ValueError):
            return False
        return True

    def __iter__(self) -> Iterator[int]:
        return iter(self._store._layout.chunks[:, 0].tolist())

    def __len__(self) -> int:
        return len(self._store._layout.chunks)
