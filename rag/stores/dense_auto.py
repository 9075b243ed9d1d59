"""The default dense store: exact (flat) while small, inverted-file (IVF) from ``DenseParams.auto_vectors`` on.

An index that grows past the threshold switches once, at the add that crosses it: the flat store's vectors
are trained into IVF cells, and the store stays IVF from then on, even if letters are removed later (a
shrunk IVF store is still correct, only no longer exact). Which store it is is written in the manifest
(``stores.dense.backend``; ``stores.dense.chosen_by`` is ``auto``) and read from the files on load.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from .base import DenseParams, Ids, Stats, as_ids
from .dense_flat import FILE as FLAT_FILE
from .dense_flat import FlatDenseStore
from .dense_ivf import MANIFEST as IVF_MANIFEST
from .dense_ivf import IVFDenseStore


class AutoDenseStore:
    """A flat store that becomes an IVF one when it reaches ``params.auto_vectors`` vectors.

    Example:
        >>> store = AutoDenseStore(4, DenseParams(auto_vectors=2))
        >>> store.add(as_ids([7, 8]), np.eye(4, dtype=np.float32)[:2])
        >>> store.stats()["backend"]
        'ivf'
    """

    backend = "auto"

    def __init__(self, dim: int, params: DenseParams | None = None, inner: Any = None) -> None:
        self.dim = dim
        self.params = params or DenseParams()
        self._inner: FlatDenseStore | IVFDenseStore = inner if inner is not None else FlatDenseStore(dim)
        self.maintenance = ""

    def configure(self, params: DenseParams) -> None:
        self.params = params
        if isinstance(self._inner, IVFDenseStore):
            self._inner.configure(params)

    def __len__(self) -> int:
        return len(self._inner)

    def add(self, ids: Ids, vectors: np.ndarray) -> None:
        flat = self._inner
        if not isinstance(flat, FlatDenseStore) or len(flat) + len(ids) < self.params.auto_vectors:
            self._inner.add(ids, vectors)
            self._note(getattr(self._inner, "maintenance", ""))
            return
        # the vectors go straight into the IVF store: a flat copy of them all first would double the peak memory
        held_ids, held = flat.contents()
        self._inner = IVFDenseStore(self.dim, self.params)
        self._inner.add(np.concatenate([held_ids, as_ids(ids)]),
                        np.concatenate([held, np.asarray(vectors, np.float32).reshape(-1, self.dim)]))
        self._note(f"switched the dense store from flat to ivf at {len(self._inner):,} vectors "
                   f"(Config.dense_auto_vectors = {self.params.auto_vectors:,}); "
                   f"{self._inner.stats()['nlist']} cells, {self._inner.stats()['codes']} codes")

    def _note(self, note: str) -> None:
        """Keep what maintenance an update did: a build adds in batches, and a later one must not hide it."""
        if note and note not in self.maintenance:
            self.maintenance = f"{self.maintenance}; {note}" if self.maintenance else note

    def remove(self, ids: Ids) -> None:
        self._inner.remove(ids)
        self._note(getattr(self._inner, "maintenance", ""))

    def search(self, query: np.ndarray, k: int, allowed: Ids | None = None) -> tuple[Ids, np.ndarray]:
        return self._inner.search(query, k, allowed)

    def ids(self) -> Ids:
        return self._inner.ids()

    def copy(self) -> AutoDenseStore:
        return AutoDenseStore(self.dim, self.params, self._inner.copy())

    def save(self, folder: Path) -> None:
        self._inner.save(folder)

    def saved_in(self, folder: Path) -> None:
        if isinstance(self._inner, IVFDenseStore):
            self._inner.saved_in(folder)

    @classmethod
    def load(cls, folder: Path, dim: int) -> AutoDenseStore:
        """The flat or IVF store saved in ``folder`` (an empty flat one if it holds neither)."""
        if (folder / IVF_MANIFEST).exists():
            return cls(dim, inner=IVFDenseStore.load(folder, dim))
        if (folder / FLAT_FILE).exists():
            return cls(dim, inner=FlatDenseStore.load(folder, dim))
        return cls(dim)

    def stats(self) -> Stats:
        stats: Stats = {**self._inner.stats(), "chosen_by": "auto", "auto_vectors": self.params.auto_vectors}
        if self.maintenance:
            stats["maintenance"] = self.maintenance
        return stats


__all__ = ["AutoDenseStore", "as_ids"]
