"""A chunk's dense units beside the dense index: immutable float16 segments, memory-mapped, read by chunk id.

Used by :class:`~rag.stores.dense_rescore.RescoredDenseStore` (``Config.sentence_rescore``): the ANN index holds
one vector per chunk, and only the candidate chunks' units (the chunk's vector and its sentences') are read,
to re-score them. Each segment
is three ``.npy`` files (the rows as float16, the chunk id of each run of rows, the runs' first rows), written
once and hard-linked by later saves like the IVF store's segments; ``sentences.json`` names them, and
``sentences.tombstones.npy`` holds removed ids (an id's runs in segments numbered below its tombstone are gone).
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from .base import Ids, as_ids
from .checked import inside, load_array
from .segments import as_dead, link_or_write, release_freed_memory, save_array

MANIFEST = "sentences.json"
TOMBSTONES = "sentences.tombstones.npy"
KINDS = ("vectors", "chunks", "starts")
MAX_SEGMENTS = 32  # segments before a compaction rewrites the live runs as one
DEAD_SHARE = 0.2  # removed rows (still in the files) per live row before a compaction drops them


@dataclass(frozen=True)
class SentenceSegment:
    """Rows ``starts[n]:starts[n + 1]`` of ``vectors`` are the sentences of chunk ``chunks[n]``."""

    name: str
    seq: int
    chunks: np.ndarray = field(repr=False)
    starts: np.ndarray = field(repr=False)
    vectors: np.ndarray = field(repr=False)  # float16; memory-mapped once saved

    @property
    def rows(self) -> int:
        return int(self.vectors.shape[0])


def make_segment(seq: int, ids: Ids, vectors: np.ndarray) -> SentenceSegment:
    """A new segment of ``vectors`` under ``ids`` (each chunk's rows together, as a build adds them)."""
    ids = as_ids(ids)
    boundary = np.flatnonzero(ids[1:] != ids[:-1]) + 1 if len(ids) else np.zeros(0, np.int64)
    starts = np.concatenate([[0], boundary, [len(ids)]]).astype(np.int64) if len(ids) else np.zeros(1, np.int64)
    return SentenceSegment(f"sentences-{uuid.uuid4().hex[:12]}", seq, ids[starts[:-1]], starts,
                           np.ascontiguousarray(vectors, dtype=np.float16))


class SentenceVectors:
    """Sentence vectors by chunk id: added in runs, removed by id, scored against a query for given chunks.

    Example:
        >>> store = SentenceVectors(4)
        >>> store.add(as_ids([7, 7]), np.eye(4, dtype=np.float32)[:2])
        >>> store.best(np.eye(4, dtype=np.float32)[1], as_ids([7, 8])).tolist()
        [1.0, -inf]
    """

    def __init__(self, dim: int) -> None:
        self.dim = dim
        self.maintenance = ""
        self._segments: list[SentenceSegment] = []
        self._live: list[np.ndarray] = []  # per segment, per run: not removed
        self._dead: dict[int, int] = {}  # tombstones: id → the first segment seq its runs are kept in
        self._next_seq = 0
        self._pending: list[tuple[np.ndarray, np.ndarray]] = []
        self._origin: Path | None = None
        self._lookup: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None = None
        self._lock = threading.Lock()

    @property
    def rows(self) -> int:
        """Live sentence vectors held."""
        self._seal()
        return sum(int(np.diff(s.starts)[live].sum()) for s, live in zip(self._segments, self._live, strict=True))

    def add(self, ids: Ids, vectors: np.ndarray) -> None:
        if len(ids):
            self._pending.append((as_ids(ids), np.asarray(vectors, np.float16).reshape(-1, self.dim)))
            self._lookup = None

    def remove(self, ids: Ids) -> None:
        self._seal()
        gone = as_ids(ids)
        held = False
        for n, segment in enumerate(self._segments):
            hit = np.isin(segment.chunks, gone) & self._live[n]
            if hit.any():
                held = True
                self._live[n] = self._live[n] & ~hit
                self._dead.update(dict.fromkeys(segment.chunks[hit].tolist(), self._next_seq))
        if held:
            self._next_seq += 1  # runs added from now on are not covered by these tombstones
            self._lookup = None
            self._maintain()

    def best(self, query: np.ndarray, ids: Ids) -> np.ndarray:
        """For each of ``ids``, its best sentence score against ``query`` (``-inf`` for a chunk without any)."""
        keys, where, first, last = self._index()
        best = np.full(len(ids), -np.inf, np.float32)
        lo, hi = np.searchsorted(keys, ids, "left"), np.searchsorted(keys, ids, "right")
        counts = hi - lo
        if not counts.sum():
            return best
        owner = np.repeat(np.arange(len(ids)), counts)
        entry, _ = _ranges(lo, hi)
        vector = np.asarray(query, np.float32).reshape(-1)
        for n in np.unique(where[entry]).tolist():
            mine = where[entry] == n
            rows, offsets = _ranges(first[entry[mine]], last[entry[mine]])
            scores = np.asarray(self._segments[n].vectors[rows], np.float32) @ vector
            np.maximum.at(best, owner[mine], np.maximum.reduceat(scores, offsets))
        return best

    def _index(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Every live run, sorted by chunk id: (ids, segment number, first row, row after the last)."""
        self._seal()
        lookup = self._lookup
        if lookup is None:
            parts = [(s.chunks[live], np.full(int(live.sum()), n, np.int32), s.starts[:-1][live], s.starts[1:][live])
                     for n, (s, live) in enumerate(zip(self._segments, self._live, strict=True))]
            keys, where, first, last = (np.concatenate([p[i] for p in parts]) if parts else np.zeros(0, np.int64)
                                        for i in range(4))
            order = np.argsort(keys, kind="stable")
            lookup = (keys[order], where[order], first[order], last[order])
            self._lookup = lookup
        return lookup

    def _seal(self) -> None:
        """Pending adds become one segment (the first search, removal or save after them does it, once)."""
        if not self._pending:
            return
        with self._lock:
            if self._pending:
                ids = np.concatenate([p[0] for p in self._pending])
                vectors = np.concatenate([p[1] for p in self._pending])
                segment = make_segment(self._next_seq, ids, vectors)
                self._segments = [*self._segments, segment]
                self._live = [*self._live, np.ones(len(segment.chunks), bool)]
                self._next_seq += 1
                self._lookup = None
                self._pending = []

    def _maintain(self) -> None:
        """Removed rows past :data:`DEAD_SHARE`: every live run into one segment; more than :data:`MAX_SEGMENTS`
        segments (an add makes one): all but the largest into one, so adding a letter never rewrites them all."""
        total = sum(s.rows for s in self._segments)
        live = self.rows
        if total - live > DEAD_SHARE * max(live, 1):
            self._compact(keep=None)
            self.maintenance = f"compacted the sentence vectors into one segment of {live:,} rows"
        elif len(self._segments) > MAX_SEGMENTS:
            largest = max(range(len(self._segments)), key=lambda n: self._segments[n].rows)
            merged = len(self._segments) - 1
            self._compact(keep=largest)
            self.maintenance = f"merged {merged} small sentence segments into one"

    def _compact(self, keep: int | None) -> None:
        """The live runs of every segment but ``keep`` into one new segment (read from the memory-mapped files:
        this holds them in memory)."""
        merged = [n for n in range(len(self._segments)) if n != keep]
        runs = [(self._segments[n], self._live[n]) for n in merged]
        ids = np.concatenate([np.repeat(s.chunks[live], np.diff(s.starts)[live]) for s, live in runs])
        vectors = np.concatenate([np.asarray(s.vectors[_rows(s.starts, live)]) for s, live in runs])
        segment = make_segment(self._next_seq, ids, vectors)
        kept = [(self._segments[keep], self._live[keep])] if keep is not None else []
        self._segments = [*(s for s, _ in kept), segment]
        self._live = [*(live for _, live in kept), np.ones(len(segment.chunks), bool)]
        if keep is None:
            self._dead = {}
        self._next_seq, self._lookup = self._next_seq + 1, None
        release_freed_memory()

    def copy(self) -> SentenceVectors:
        """An independent copy sharing the (immutable) segments."""
        self._seal()
        other = SentenceVectors(self.dim)
        other._segments, other._live = list(self._segments), [live.copy() for live in self._live]
        other._dead, other._next_seq, other._origin = dict(self._dead), self._next_seq, self._origin
        other._maintain()  # on the copy an update works on: searches of this store never see a compaction
        return other

    def save(self, folder: Path) -> None:
        self._seal()
        for segment in self._segments:
            for kind in KINDS:
                link_or_write(self._origin, folder, f"{segment.name}.{kind}.npy", _writer(getattr(segment, kind)))
        save_array(folder / TOMBSTONES, np.asarray(sorted(self._dead.items()), np.int64).reshape(-1, 2))
        body = {"dim": self.dim, "dtype": "float16", "next_seq": self._next_seq,
                "segments": [{"name": s.name, "seq": s.seq, "rows": s.rows, "runs": len(s.chunks)}
                             for s in self._segments]}
        (folder / MANIFEST).write_text(json.dumps(body, indent=1), encoding="utf-8")

    def saved_in(self, folder: Path) -> None:
        """Read the saved segments from their files from now on (memory-mapped), and link them at the next save."""
        self._origin = folder
        self._segments = [replace(s, vectors=_mapped(folder, s.name, (s.rows, self.dim))) for s in self._segments]
        release_freed_memory()

    @classmethod
    def load(cls, folder: Path, dim: int) -> SentenceVectors:
        """The sentence vectors saved in ``folder``.

        Raises:
            ValueError: no sentence vectors there, or files that do not fit each other.
        """
        if not (folder / MANIFEST).exists():
            raise ValueError(f"{folder} holds no sentence vectors ({MANIFEST}): the index was built with them "
                             "in the dense index (sentence_rescore off)")
        body = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
        if body.get("dim") != dim or body.get("dtype") != "float16":
            raise ValueError(f"{folder / MANIFEST} holds {body.get('dim')}-d {body.get('dtype')} vectors, "
                             f"not {dim}-d float16")
        store = cls(dim)
        pairs = load_array(folder / TOMBSTONES).reshape(-1, 2)
        store._dead = {int(i): int(seq) for i, seq in pairs.tolist()}
        for item in body["segments"]:
            chunks = load_array(inside(folder, f"{item['name']}.chunks.npy")).astype(np.int64)
            starts = load_array(inside(folder, f"{item['name']}.starts.npy")).astype(np.int64)
            if chunks.shape != (item["runs"],) or starts.shape != (item["runs"] + 1,) or starts[-1] != item["rows"]:
                raise ValueError(f"sentence segment {item['name']} does not hold {item['runs']} runs of "
                                 f"{item['rows']} rows")
            segment = SentenceSegment(item["name"], int(item["seq"]), chunks, starts,
                                      _mapped(folder, item["name"], (item["rows"], dim)))
            store._segments.append(segment)
            store._live.append(~np.isin(chunks, as_dead(store._dead, segment.seq)))
        store._next_seq, store._origin = int(body["next_seq"]), folder
        return store

    def stats(self) -> dict[str, int]:
        return {"sentence_vectors": self.rows, "sentence_segments": len(self._segments),
                "sentence_bytes": sum(s.rows for s in self._segments) * self.dim * 2}


def _rows(starts: np.ndarray, live: np.ndarray) -> np.ndarray:
    """The row numbers of the live runs, in order."""
    return _ranges(starts[:-1][live], starts[1:][live])[0]


def _ranges(begin: np.ndarray, end: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The numbers ``begin[n]:end[n]`` for every n, concatenated, and where each range starts among them."""
    sizes = end - begin
    offsets = np.cumsum(sizes) - sizes
    return np.repeat(begin - offsets, sizes) + np.arange(int(sizes.sum())), offsets


def _writer(array: np.ndarray) -> Callable[[Path], None]:
    return lambda path: save_array(path, array)


def _mapped(folder: Path, name: str, shape: tuple[int, int]) -> np.ndarray:
    vectors: np.ndarray = load_array(inside(folder, f"{name}.vectors.npy"), mmap=True)
    if vectors.shape != shape or vectors.dtype != np.float16:
        raise ValueError(f"{folder / name}.vectors.npy holds {vectors.shape} {vectors.dtype}, not {shape} float16")
    return vectors
