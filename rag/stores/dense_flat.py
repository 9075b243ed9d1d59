"""Exact dense search: FAISS ``IndexFlatIP`` behind an id map (``IndexIDMap2``); the default dense store."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from .base import Ids, Stats, as_ids, distinct_ids
from .checked import check_faiss_header

FILE = "dense.faiss"
_OVERSAMPLE = 6  # vectors fetched per wanted id at first: a chunk has about 5 (itself and its sentences)


class FlatDenseStore:
    """Every vector scanned for every query: exact, simple, and fast enough up to about 10^5 vectors.

    Example:
        >>> store = FlatDenseStore(dim=4)
        >>> store.add(as_ids([7, 7]), np.eye(4, dtype=np.float32)[:2])
        >>> store.search(np.eye(4, dtype=np.float32)[1], k=5)[0].tolist()
        [7]
    """

    backend = "flat"

    def __init__(self, dim: int, index: Any = None) -> None:
        import faiss

        self.dim = dim
        self._index = index if index is not None else faiss.IndexIDMap2(faiss.IndexFlatIP(dim))

    def __len__(self) -> int:
        return int(self._index.ntotal)

    def add(self, ids: Ids, vectors: np.ndarray) -> None:
        if len(ids):
            self._index.add_with_ids(np.ascontiguousarray(vectors, dtype=np.float32), as_ids(ids))

    def remove(self, ids: Ids) -> None:
        if len(ids) and len(self):
            import faiss

            self._index.remove_ids(faiss.IDSelectorBatch(as_ids(ids)))

    def search(self, query: np.ndarray, k: int, allowed: Ids | None = None) -> tuple[Ids, np.ndarray]:
        import faiss

        params = None
        available = len(self)
        if allowed is not None:
            params = faiss.SearchParameters()
            params.sel = faiss.IDSelectorBatch(as_ids(allowed))
        want = min(available, k * _OVERSAMPLE)
        vector = np.ascontiguousarray(query, dtype=np.float32).reshape(1, -1)
        while True:
            if want <= 0:
                return as_ids([]), np.zeros(0, np.float32)
            scores, ids = self._index.search(vector, want, params=params)
            found_ids, found_scores = best_per_id(ids[0], scores[0], k)
            # too few distinct ids while more vectors remain: several ids had many vectors; look deeper
            if len(found_ids) >= k or want >= available or (ids[0] < 0).any():
                return found_ids, found_scores
            want = min(available, want * 4)

    def ids(self) -> Ids:
        import faiss

        return distinct_ids(faiss.vector_to_array(self._index.id_map).astype(np.int64))

    def contents(self) -> tuple[Ids, np.ndarray]:
        """Every vector held and its id, in the order they were added."""
        import faiss

        ids = faiss.vector_to_array(self._index.id_map).astype(np.int64)
        return as_ids(ids), self._index.index.reconstruct_n(0, len(ids)) if len(ids) else np.zeros((0, self.dim),
                                                                                                  np.float32)

    def copy(self) -> FlatDenseStore:
        import faiss

        return FlatDenseStore(self.dim, faiss.clone_index(self._index))

    def save(self, folder: Path) -> None:
        import faiss

        faiss.write_index(self._index, str(folder / FILE))

    @classmethod
    def load(cls, folder: Path, dim: int) -> FlatDenseStore:
        import faiss

        check_faiss_header(folder / FILE, dim)
        index = faiss.read_index(str(folder / FILE))
        if index.d != dim:
            raise ValueError(f"{folder / FILE} holds {index.d}-d vectors, not {dim}-d")
        if not hasattr(index, "id_map"):
            raise ValueError(f"{folder / FILE} is not an id-mapped FAISS index")
        return cls(dim, index)

    def stats(self) -> Stats:
        return {"backend": self.backend, "vectors": len(self), "dim": self.dim, "bytes": len(self) * self.dim * 4}


def best_per_id(ids: np.ndarray, scores: np.ndarray, k: int) -> tuple[Ids, np.ndarray]:
    """The first (best) score of each id, in order, at most ``k`` ids; FAISS pads with id -1."""
    seen: dict[int, float] = {}
    for raw_id, score in zip(ids.tolist(), scores.tolist(), strict=True):
        if raw_id >= 0 and raw_id not in seen:
            seen[raw_id] = score
            if len(seen) >= k:
                break
    return as_ids(list(seen)), np.asarray(list(seen.values()), dtype=np.float32)


def single_threaded_search() -> None:
    """Run FAISS searches on one thread: a query scans too little to gain from OpenMP, and on a busy
    2-core machine its threads spin (measured: 4.5 ms with one thread, 32 ms with two). A process-wide
    setting, so it is called from the programs' ``main()`` (CLI, web app, benchmarks), never on import."""
    import faiss

    faiss.omp_set_num_threads(1)
