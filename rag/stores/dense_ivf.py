"""Approximate dense search: FAISS ``IndexIVFFlat`` (inverted lists over k-means cells, full vectors kept).

A query scans only the ``nprobe`` cells nearest to it, so search time grows with about N·nprobe/nlist
instead of N. The vectors themselves are stored unquantised, so every score it returns is exact; only
which vectors are looked at is approximate. The cells are trained once, on the first vectors added (up to
``MAX_TRAINING`` of them); later adds go into the trained cells without retraining.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from .base import Ids, Stats, as_ids
from .dense_flat import best_per_id

FILE = "dense.faiss"
MIN_POINTS_PER_CELL = 39  # FAISS's k-means wants at least this many training points per cell
MAX_TRAINING = 256 * 4096
DEFAULT_NPROBE = 16


class IVFDenseStore:
    """Inverted-file dense store: approximate candidates, exact scores, ids as in :class:`DenseStore`.

    Args:
        dim: vector size.
        nlist: number of cells; by default about 4·√N for the N vectors it is trained on.
        nprobe: cells scanned per query; more is slower and closer to exact.

    When the probed cells hold fewer than ``k`` distinct ids (a small filter, or ids with many vectors),
    the search widens ``nprobe`` until it finds ``k`` or has scanned every cell: results are never dropped
    for being outside the first cells looked at.
    """

    backend = "ivf"

    def __init__(self, dim: int, index: Any = None, *, nlist: int | None = None, nprobe: int = DEFAULT_NPROBE) -> None:
        self.dim = dim
        self.nprobe = nprobe
        self._nlist = nlist
        self._index = index  # None until the first vectors arrive and train the cells

    def __len__(self) -> int:
        return 0 if self._index is None else int(self._index.ntotal)

    def add(self, ids: Ids, vectors: np.ndarray) -> None:
        if not len(ids):
            return
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        if self._index is None:
            self._index = _trained(vectors, self.dim, self._nlist)
        self._index.add_with_ids(vectors, as_ids(ids))

    def remove(self, ids: Ids) -> None:
        if len(ids) and len(self):
            import faiss

            self._index.remove_ids(faiss.IDSelectorBatch(as_ids(ids)))

    def search(self, query: np.ndarray, k: int, allowed: Ids | None = None) -> tuple[Ids, np.ndarray]:
        import faiss

        if not len(self) or k <= 0:
            return as_ids([]), np.zeros(0, np.float32)
        params = faiss.SearchParametersIVF()
        if allowed is not None:
            params.sel = faiss.IDSelectorBatch(as_ids(allowed))
        vector = np.ascontiguousarray(query, dtype=np.float32).reshape(1, -1)
        nlist = int(self._index.nlist)
        nprobe, want = min(self.nprobe, nlist), min(len(self), k * 6)
        while True:
            params.nprobe = nprobe
            scores, found = self._index.search(vector, want, params=params)
            ids, best = best_per_id(found[0], scores[0], k)
            padded = bool((found[0] < 0).any())  # the probed cells ran out of (allowed) vectors
            if len(ids) >= k or (nprobe >= nlist and (padded or want >= len(self))):
                return ids, best
            if padded or want >= len(self):
                nprobe = min(nlist, nprobe * 4)
            else:
                want = min(len(self), want * 4)

    def ids(self) -> Ids:
        if self._index is None:
            return as_ids([])
        import faiss

        lists = self._index.invlists
        parts = [faiss.rev_swig_ptr(lists.get_ids(n), lists.list_size(n)).copy()
                 for n in range(self._index.nlist) if lists.list_size(n)]
        return np.unique(np.concatenate(parts).astype(np.int64)) if parts else as_ids([])

    def copy(self) -> IVFDenseStore:
        import faiss

        index = faiss.clone_index(self._index) if self._index is not None else None
        return IVFDenseStore(self.dim, index, nlist=self._nlist, nprobe=self.nprobe)

    def save(self, folder: Path) -> None:
        if self._index is not None:
            import faiss

            faiss.write_index(self._index, str(folder / FILE))

    @classmethod
    def load(cls, folder: Path, dim: int) -> IVFDenseStore:
        if not (folder / FILE).exists():
            return cls(dim)
        import faiss

        index = faiss.read_index(str(folder / FILE))
        if index.d != dim or not hasattr(index, "nlist"):
            raise ValueError(f"{folder / FILE} is not an IVF index of {dim}-d vectors")
        return cls(dim, index, nlist=int(index.nlist))

    def stats(self) -> Stats:
        nlist = 0 if self._index is None else int(self._index.nlist)
        return {"backend": self.backend, "vectors": len(self), "dim": self.dim, "nlist": nlist,
                "nprobe": self.nprobe, "bytes": len(self) * (self.dim * 4 + 8)}


def _trained(vectors: np.ndarray, dim: int, nlist: int | None) -> Any:
    """An empty IVF index whose cells are trained on (a sample of) ``vectors``."""
    import faiss

    cells = nlist or max(1, min(int(4 * math.sqrt(len(vectors))), len(vectors) // MIN_POINTS_PER_CELL))
    sample = vectors
    if len(vectors) > MAX_TRAINING:
        rows = np.random.default_rng(0).choice(len(vectors), MAX_TRAINING, replace=False)
        sample = vectors[np.sort(rows)]
    index = faiss.IndexIVFFlat(faiss.IndexFlatIP(dim), dim, cells, faiss.METRIC_INNER_PRODUCT)
    index.cp.min_points_per_centroid = 1  # a small corpus trains few cells without FAISS's warnings
    index.train(sample)
    return index
