"""Approximate dense search that grows in place: FAISS inverted lists over k-means cells, in immutable segments.

A query scans only the ``nprobe`` cells nearest to it, so search time grows with about N·nprobe/nlist
instead of N. The cells are trained once, on a sample of the first vectors added; later vectors go into
the trained cells. Vectors are kept as ``flat`` float32 codes (exact scores) or ``sq8`` (one byte per
dimension: a quarter of the memory, scores within about 1e-3).

On disk the store is a trained (empty) FAISS index, immutable segment files of vector codes and ids, a
tombstone file and ``segments.json``. Added vectors are encoded at once and held as pending codes; the first
search, removal or save after them seals them into one new segment (a build's million adds make one
segment, not a million); removing ids writes tombstones; the segments a save does not change are
hard-linked from the generation they were loaded from (see :func:`rag.stores.disk.write_generation`).
Codes live once in memory, in the FAISS lists: a new segment's file is written from its lists, cell by
cell. :meth:`IVFDenseStore.copy` shares the sealed lists and copies the tombstones only. A compaction (all
live rows into one segment, retrained when the store has grown 4× since training and the cells or codes
that size calls for differ) runs when tombstones or segments pile up.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from . import ivf_lists
from .base import DenseParams, Ids, Stats, as_ids, distinct_ids
from .dense_flat import best_per_id
from .segments import as_dead, link_or_write, release_freed_memory, save_array

MANIFEST = "segments.json"
MAX_PARTS = 4  # FAISS indexes searched per query; more are merged into one (small ones, so cheaply)
MAX_SEGMENTS = 64  # segment files before a compaction rewrites them as one
DEAD_SHARE = 0.2  # deleted rows (still in the lists) per live row before a compaction drops them
RETRAIN_GROWTH = 4  # live vectors per training vector before a compaction retrains the cells
Rows = tuple[np.ndarray, np.ndarray, "np.ndarray | None"]  # standalone codes, their ids, rows kept (None: all)


@dataclass(frozen=True)
class Segment:
    """One immutable file pair of vector codes and ids (on disk, or only in its part's lists until saved)."""

    name: str
    seq: int
    rows: int


@dataclass(frozen=True)
class Part:
    """A FAISS index holding the live rows (when it was made) of some segments; shared between copies."""

    index: Any
    segments: tuple[Segment, ...]
    ids: np.ndarray = field(repr=False)  # the id of each row it holds

    @property
    def seq(self) -> int:
        return max(s.seq for s in self.segments)

    def holds_all_of(self, segment: Segment) -> bool:
        """Whether this part's lists are exactly ``segment``'s rows (so its file can be written from them)."""
        return self.segments == (segment,) and len(self.ids) == segment.rows


class IVFDenseStore:
    """Inverted-file dense store: approximate candidates, ids as in :class:`~rag.stores.base.DenseStore`.

    Args:
        dim: vector size.
        params: cells (``nlist``, 0: about 4·√N), cells scanned per query (``nprobe``), codes.

    When the probed cells hold fewer than ``k`` distinct ids (a small filter, or ids with many vectors),
    the search widens ``nprobe`` until it finds ``k`` or has scanned every cell: results are never dropped
    for being outside the first cells looked at.

    Example:
        >>> store = IVFDenseStore(4)
        >>> store.add(as_ids([7, 7, 8]), np.eye(4, dtype=np.float32)[:3])
        >>> store.search(np.eye(4, dtype=np.float32)[1], k=5)[0].tolist()
        [7, 8]
    """

    backend = "ivf"

    def __init__(self, dim: int, params: DenseParams | None = None, *, nlist: int | None = None,
                 nprobe: int | None = None) -> None:
        params = params or DenseParams()
        self.dim = dim
        self.params = replace(params, nlist=params.nlist if nlist is None else nlist,
                              nprobe=params.nprobe if nprobe is None else nprobe)
        self.maintenance = ""  # what the last compaction did, for the build report
        self._template: Any = None  # the empty trained index every part is a copy of
        self._trained_name = ""
        self._trained_on = 0
        self._parts: list[Part] = []
        self._dead: dict[int, int] = {}  # tombstones: id → the first segment seq its vectors are kept in
        self._dead_rows = 0
        self._vectors = 0
        self._next_seq = 0
        self._origin: Path | None = None  # the folder holding the saved segments' files
        self._selectors: dict[tuple[str, int], Any] = {}  # per part: its tombstoned ids and their selector
        self._pending: list[tuple[np.ndarray, np.ndarray]] = []  # (codes, ids) added, not yet sealed into a part
        self._sealing = threading.Lock()  # a first search after adds seals them, once, whichever thread comes

    @property
    def nprobe(self) -> int:
        return self.params.nprobe

    def configure(self, params: DenseParams) -> None:
        """Take ``params`` (from the index's config); cells and codes already trained stay as they are."""
        self.params = params

    def __len__(self) -> int:
        return self._vectors

    def add(self, ids: Ids, vectors: np.ndarray) -> None:
        if not len(ids):
            return
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        if self._template is None:
            self._train(vectors, len(vectors))
        self._pending.append((ivf_lists.encode(self._template, vectors), as_ids(ids)))
        self._vectors += len(ids)
        self._maintain()

    def _seal(self) -> None:
        """The pending codes into one new segment and part (its lists sized once, the codes then dropped)."""
        with self._sealing:
            if self._pending:
                pending, self._pending = self._pending, []
                self._parts.append(self._part([(codes, ids, None) for codes, ids in pending]))
                self._selectors = {}
                del pending
                release_freed_memory()

    def _part(self, rows: list[Rows]) -> Part:
        """A part of one new segment (the next seq) holding ``rows``: (standalone codes, ids, rows kept or None)."""
        ids = np.concatenate([i if keep is None else i[keep] for _, i, keep in rows]) if rows else as_ids([])
        segment = Segment(f"seg-{uuid.uuid4().hex[:12]}", self._next_seq, len(ids))
        self._next_seq += 1
        return Part(ivf_lists.filled(self._template, rows), (segment,), ids)

    def remove(self, ids: Ids) -> None:
        wanted = np.unique(as_ids(ids))
        if not len(wanted) or not self._vectors:
            return
        self._seal()  # a tombstone applies to rows already in a segment
        for part in self._parts:
            alive = wanted[~np.isin(wanted, self._dead_for(part))]
            killed = int(np.isin(part.ids, alive).sum())
            self._vectors -= killed
            self._dead_rows += killed
        self._dead.update(dict.fromkeys(wanted.tolist(), self._next_seq))
        self._selectors = {}
        self._maintain()

    def search(self, query: np.ndarray, k: int, allowed: Ids | None = None) -> tuple[Ids, np.ndarray]:
        if not self._vectors or k <= 0:
            return as_ids([]), np.zeros(0, np.float32)
        self._seal()
        vector = np.ascontiguousarray(query, dtype=np.float32).reshape(1, -1)
        nlist = int(self._template.nlist)
        nprobe, want = min(self.nprobe, nlist), min(self._vectors, k * 6)
        keep = [self._selector(part, allowed) for part in self._parts]  # once per search, not per widening
        while True:
            scores, found, padded = self._probe(vector, want, nprobe, keep)
            ids, best = best_per_id(found, scores, k)
            if len(ids) >= k or (nprobe >= nlist and (padded or want >= self._vectors)):
                return ids, best
            if padded or want >= self._vectors:
                nprobe = min(nlist, nprobe * 4)
            else:
                want = min(self._vectors, want * 4)

    def _probe(self, vector: np.ndarray, want: int, nprobe: int,
               keep: list[Any]) -> tuple[np.ndarray, np.ndarray, bool]:
        """The ``want`` best rows of every part (merged, best first) and whether a part ran out of rows.

        ``keep`` holds each part's :meth:`_selector`.
        """
        import faiss

        scores, found, padded = [], [], False
        for part, sel in zip(self._parts, keep, strict=True):
            params = faiss.SearchParametersIVF()
            params.nprobe = nprobe
            if sel is not None:
                params.sel = sel
            got, rows = part.index.search(vector, min(want, max(1, len(part.ids))), params=params)
            padded = padded or bool((rows[0] < 0).any()) or len(part.ids) < want
            scores.append(got[0])
            found.append(rows[0])
        merged_scores, merged = np.concatenate(scores), np.concatenate(found)
        order = np.argsort(-merged_scores, kind="stable")
        return merged_scores[order], merged[order], padded

    def _selector(self, part: Part, allowed: Ids | None) -> Any:
        """Which ids a search of ``part`` may return: not its tombstoned ones, and only ``allowed`` ones."""
        import faiss

        dead = self._dead_for(part)
        if allowed is not None:
            return faiss.IDSelectorBatch(as_ids(np.setdiff1d(as_ids(allowed), dead)))
        if not len(dead):
            return None
        key = ("selector", id(part))
        if key not in self._selectors:  # kept: building it for every query would cost more than the search
            batch = faiss.IDSelectorBatch(dead)
            self._selectors[key] = (faiss.IDSelectorNot(batch), batch)
        return self._selectors[key][0]

    def _dead_for(self, part: Part) -> Ids:
        """The tombstoned ids whose vectors in ``part`` are deleted (kept per part until the tombstones change)."""
        key = ("dead", id(part))
        if key not in self._selectors:
            self._selectors[key] = as_dead(self._dead, part.seq)
        return self._selectors[key]  # type: ignore[no-any-return]

    def ids(self) -> Ids:
        self._seal()
        alive = [part.ids[~np.isin(part.ids, self._dead_for(part))] for part in self._parts]
        return distinct_ids(np.concatenate(alive)) if alive else as_ids([])

    def copy(self) -> IVFDenseStore:
        self._seal()  # what the copy shares is sealed; each store's later adds are its own
        twin = IVFDenseStore(self.dim, self.params)
        twin.__dict__.update({**self.__dict__, "_parts": list(self._parts), "_dead": dict(self._dead),
                              "_selectors": {}, "maintenance": "", "_pending": [],
                              "_sealing": threading.Lock()})
        return twin

    def stats(self) -> Stats:
        nlist = 0 if self._template is None else int(self._template.nlist)
        codes = "" if self._template is None else self._codes_name()
        row_bytes = self.dim * 4 if codes != "sq8" else self.dim
        stats: Stats = {"backend": self.backend, "vectors": self._vectors, "dim": self.dim, "nlist": nlist,
                        "nprobe": self.nprobe, "quantizer": "flat", "codes": codes, "trained_on": self._trained_on,
                        "segments": sum(len(p.segments) for p in self._parts) + bool(self._pending),
                        "deleted_rows": self._dead_rows,
                        "bytes": (self._vectors + self._dead_rows) * (row_bytes + 8)}
        if self.maintenance:
            stats["maintenance"] = self.maintenance
        return stats

    # ---- training, parts and compaction ------------------------------------------------------------

    def _codes_name(self) -> str:
        return "sq8" if "ScalarQuantizer" in type(self._template).__name__ else "flat"

    def _train(self, vectors: np.ndarray, total: int) -> None:
        """New cells trained on ``vectors`` (a sample), with the cells and codes a store of ``total`` vectors wants."""
        cells = ivf_lists.cells_for(total, self.params.nlist)
        codes = ivf_lists.codes_for(total, self.params.codes)
        self._template = ivf_lists.trained(vectors, self.dim, cells, codes)
        self._trained_name = f"ivf-{uuid.uuid4().hex[:12]}.faiss"
        self._trained_on = total

    def _dead_ids(self, seq: int) -> Ids:
        return as_dead(self._dead, seq)

    def _maintain(self) -> None:
        """Compact when tombstones, segments or growth call for it; merge small parts otherwise."""
        segments = sum(len(p.segments) for p in self._parts)
        if self._retrain_due():
            self._compact(retrain=True)
        elif self._dead_rows > max(1000, DEAD_SHARE * self._vectors) or segments > MAX_SEGMENTS:
            self._compact(retrain=False)
        elif len(self._parts) > MAX_PARTS:
            self._compact(retrain=False, keep_largest=True)

    def _retrain_due(self) -> bool:
        """Grown 4× since training, and that size calls for more cells or other codes than the store has."""
        if self._vectors < RETRAIN_GROWTH * max(self._trained_on, 1):
            return False
        cells = ivf_lists.cells_for(self._vectors, self.params.nlist)
        codes = ivf_lists.codes_for(self._vectors, self.params.codes)
        return cells != int(self._template.nlist) or codes != self._codes_name()

    def _compact(self, *, retrain: bool, keep_largest: bool = False) -> None:
        """The live rows of every part (all but the largest with ``keep_largest``: a merge of the smaller ones)
        and the pending ones into one new segment, re-encoded under new cells with ``retrain``; the deleted rows
        they held are dropped. Each old part's lists are let go once read, before the new ones are made."""
        kept = [max(self._parts, key=lambda p: len(p.ids))] if keep_largest and self._parts else []
        parts = [p for p in self._parts if all(p is not k for k in kept)]
        if not parts and not self._pending:
            return
        merged = sum(len(p.segments) for p in parts) + bool(self._pending)
        rows: list[Rows] = [(codes, ids, None) for codes, ids in self._pending]  # pending rows have no tombstones
        self._pending, self._parts = [], kept
        dropped = 0
        while parts:
            part = parts.pop(0)
            codes, owners = ivf_lists.contents(part.index)
            keep = ~np.isin(owners, self._dead_for(part))
            dropped += len(keep) - int(keep.sum())
            rows.append((codes, owners, None) if keep.all() else (codes[keep], owners[keep], None))
            del part, codes, owners, keep
        note = f"compacted {merged} segments into one, dropping {dropped:,} deleted vectors"
        if retrain:
            grown = self._vectors / max(self._trained_on, 1)
            self._retrain(rows)
            note += (f"; retrained {int(self._template.nlist)} cells ({self._codes_name()} codes) on "
                     f"{min(self._vectors, int(self._template.nlist) * ivf_lists.TRAINING_PER_CELL):,} vectors, "
                     f"the store having grown {grown:.1f}× since its last training")
        self._parts, self._dead_rows, self._selectors = [*self._parts, self._part(rows)], self._dead_rows - dropped, {}
        if not keep_largest:  # every tombstone has done its work
            self._dead = {}
            self.maintenance = note
        release_freed_memory()

    def _retrain(self, rows: list[Rows]) -> None:
        """New cells trained on a sample of ``rows`` (decoded), and every row re-encoded under them, in place (each
        group's old codes let go as its new ones are made)."""
        old = self._template
        sizes = np.asarray([len(ids) for _, ids, _ in rows], np.int64)
        total = int(sizes.sum())
        cells = ivf_lists.cells_for(total, self.params.nlist)
        picked = np.arange(total)
        if total > cells * ivf_lists.TRAINING_PER_CELL:
            picked = np.sort(np.random.default_rng(0).choice(total, cells * ivf_lists.TRAINING_PER_CELL, replace=False))
        starts = np.concatenate([[0], np.cumsum(sizes)])
        group = np.searchsorted(starts, picked, side="right") - 1
        sample = [rows[n][0][picked[group == n] - starts[n]] for n in range(len(rows))]
        self._train(old.sa_decode(np.ascontiguousarray(np.concatenate(sample))) if total else
                    np.zeros((0, self.dim), np.float32), total)
        del sample
        step = 1 << 16
        for n, (codes, ids, _) in enumerate(rows):
            fresh = [ivf_lists.encode(self._template, old.sa_decode(np.ascontiguousarray(codes[s:s + step])))
                     for s in range(0, len(codes), step)]
            rows[n] = (np.concatenate(fresh) if fresh else np.zeros((0, int(self._template.sa_code_size())), np.uint8),
                       ids, None)
            del codes, fresh

    # ---- files -------------------------------------------------------------------------------------

    def save(self, folder: Path) -> None:
        if self._template is None:
            return
        import faiss

        link_or_write(self._origin, folder, self._trained_name,
                      lambda path: faiss.write_index(self._template, str(path)))
        self._seal()
        listed = []
        for part in self._parts:
            for segment in part.segments:
                held = part.holds_all_of(segment)  # a new segment: its file is written from the part's lists
                for kind in ("codes", "ids"):
                    write = _writer(part.index, kind) if held else None
                    link_or_write(self._origin, folder, f"{segment.name}.{kind}.npy", write)
                listed.append({"name": segment.name, "seq": segment.seq, "rows": segment.rows})
        if self._dead:
            save_array(folder / "tombstones.npy", np.asarray(list(self._dead.items()), np.int64).reshape(-1, 2))
        body = {"trained": self._trained_name, "trained_on": self._trained_on, "next_seq": self._next_seq,
                "vectors": self._vectors, "deleted_rows": self._dead_rows, "segments": listed,
                "params": {"nlist": self.params.nlist, "nprobe": self.nprobe, "codes": self.params.codes}}
        (folder / MANIFEST).write_text(json.dumps(body, indent=1), encoding="utf-8")
        self._origin = folder

    def saved_in(self, folder: Path) -> None:
        """The folder the last :meth:`save` wrote to now lives at ``folder`` (a generation was renamed)."""
        self._origin = folder

    @classmethod
    def load(cls, folder: Path, dim: int) -> IVFDenseStore:
        from .segments import load_segments

        if not (folder / MANIFEST).exists():
            return cls(dim)
        body = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
        store = cls(dim, DenseParams(**{**DenseParams().__dict__, **body["params"]}))
        template, parts, dead = load_segments(folder, body, dim)
        store._template, store._trained_name, store._trained_on = template, body["trained"], body["trained_on"]
        store._dead, store._next_seq, store._origin = dead, int(body["next_seq"]), folder
        store._vectors, store._dead_rows = int(body["vectors"]), int(body["deleted_rows"])
        segments = tuple(Segment(s["name"], int(s["seq"]), int(s["rows"])) for s in body["segments"])
        if segments:
            store._parts = [Part(ivf_lists.filled(template, parts), segments,
                                 np.concatenate([ids[keep] for _, ids, keep in parts]))]
        return store


def _writer(index: Any, kind: str) -> Callable[[Path], None]:
    """What writes the ``codes`` or ``ids`` of every row of an IVF index's lists as ``.npy``, cell by cell."""
    return lambda path: ivf_lists.write_contents(index, path, kind)
