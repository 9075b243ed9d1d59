"""FAISS inverted-file plumbing for :mod:`rag.stores.dense_ivf`: train cells, fill lists from codes, read them back.

Vectors are kept on disk as FAISS "standalone" codes (``index.sa_encode``): each row is the number of the
vector's cell (little-endian, ``coarse_code_size`` bytes) followed by the vector's code (float32, or one
byte per dimension with ``sq8``). Loading puts each row straight into its cell's list: no vector is
assigned to a cell again, and each list is sized once (FAISS's own ``add`` grows lists by doubling, which
at 10^6 chunks would cost gigabytes).
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

MIN_POINTS_PER_CELL = 39  # FAISS's k-means wants at least this many training points per cell
MAX_CELLS = 2048  # more cells train slower (k-means: measured 168 s for 1,788 cells on this busy 2-core box)
TRAINING_PER_CELL = 40  # sample rows per cell for k-means (FAISS warns below 39)
KMEANS_ITERATIONS = 10
SQ8_FROM = 262_144  # vectors at training from which the ``auto`` codes are sq8 (float32 would pass 512 MiB)
_FILL_ROWS = 1 << 18  # rows copied into the lists at a time


def cells_for(vectors: int, nlist: int = 0) -> int:
    """The number of cells for ``vectors`` vectors: ``nlist`` if given, else about 4·√N, at most MAX_CELLS."""
    if nlist > 0:
        return min(nlist, max(1, vectors))
    return max(1, min(int(4 * math.sqrt(vectors)), vectors // MIN_POINTS_PER_CELL, MAX_CELLS))


def codes_for(vectors: int, codes: str) -> str:
    """The vector codes for ``vectors`` vectors: ``codes`` unless it is ``auto``."""
    if codes == "auto":
        return "sq8" if vectors >= SQ8_FROM else "flat"
    if codes not in ("flat", "sq8"):
        raise ValueError(f"unknown IVF codes {codes!r}; known: auto, flat, sq8")
    return codes


def trained(vectors: np.ndarray, dim: int, cells: int, codes: str) -> Any:
    """An empty IVF index (``codes``: ``flat`` or ``sq8``) whose cells are trained on a sample of ``vectors``."""
    import faiss

    sample = vectors
    if len(vectors) > cells * TRAINING_PER_CELL:
        rows = np.random.default_rng(0).choice(len(vectors), cells * TRAINING_PER_CELL, replace=False)
        sample = vectors[np.sort(rows)]
    sample = np.ascontiguousarray(sample, dtype=np.float32)
    quantizer: Any = faiss.IndexFlatIP(dim)
    index: Any
    if codes == "sq8":
        index = faiss.IndexIVFScalarQuantizer(quantizer, dim, cells, faiss.ScalarQuantizer.QT_8bit,
                                              faiss.METRIC_INNER_PRODUCT)
    else:
        index = faiss.IndexIVFFlat(quantizer, dim, cells, faiss.METRIC_INNER_PRODUCT)
    index.cp.min_points_per_centroid = 1  # a small corpus trains few cells without FAISS's warnings
    index.cp.niter = KMEANS_ITERATIONS
    index.train(sample)
    index.own_fields = True
    quantizer.this.disown()
    return index


def encode(template: Any, vectors: np.ndarray) -> np.ndarray:
    """Standalone codes (cell number + vector code) of ``vectors`` under a trained index."""
    return np.asarray(template.sa_encode(np.ascontiguousarray(vectors, dtype=np.float32)), dtype=np.uint8)


def cells_of(template: Any, codes: np.ndarray) -> np.ndarray:
    """The cell number each row of standalone ``codes`` is in."""
    width = int(template.coarse_code_size())
    prefix = np.zeros((len(codes), 8), np.uint8)
    prefix[:, :width] = codes[:, :width]
    return prefix.view("<i8").reshape(-1)


def filled(template: Any, parts: Sequence[tuple[np.ndarray, np.ndarray, np.ndarray | None]]) -> Any:
    """A copy of the empty trained ``template`` holding ``parts``: (standalone codes, ids, rows kept or None).

    Codes may be memory-mapped: they are read once, a slice at a time, into lists sized exactly.
    """
    import faiss

    index: Any = faiss.clone_index(template)
    width = int(template.coarse_code_size())
    lists = index.invlists
    kept = [np.arange(len(ids)) if keep is None else np.flatnonzero(keep) for _, ids, keep in parts]
    cells = [cells_of(template, codes)[rows] for (codes, _, _), rows in zip(parts, kept, strict=True)]
    counts = np.bincount(np.concatenate(cells), minlength=index.nlist) if cells else np.zeros(index.nlist, np.int64)
    for cell in np.flatnonzero(counts):
        lists.resize(int(cell), int(counts[cell]))
    offsets = np.zeros(index.nlist, np.int64)
    direct = isinstance(faiss.downcast_InvertedLists(lists), faiss.ArrayInvertedLists)
    for (codes, ids, _), rows, where in zip(parts, kept, cells, strict=True):
        if len(rows) == len(ids) and bool(np.all(where[1:] >= where[:-1])):  # whole and sorted by cell: no gather
            for start in range(0, len(rows), _FILL_ROWS):
                end = start + _FILL_ROWS
                if direct:
                    _copy_into(lists, where[start:end], codes[start:end], ids[start:end], width, offsets)
                else:
                    _put(lists, where[start:end], np.ascontiguousarray(codes[start:end, width:]),
                         np.ascontiguousarray(ids[start:end]), offsets)
            continue
        order = np.argsort(where, kind="stable")
        for start in range(0, len(order), _FILL_ROWS):
            chosen = np.sort(order[start:start + _FILL_ROWS])
            picked = rows[chosen]
            _put(lists, where[chosen], np.ascontiguousarray(codes[picked, width:]),
                 np.ascontiguousarray(ids[picked]), offsets)
    index.ntotal = int(counts.sum())
    return index


def _copy_into(lists: Any, where: np.ndarray, codes: np.ndarray, ids: np.ndarray, width: int,
               offsets: np.ndarray) -> None:
    """Rows sorted by cell copied from their (memory-mapped) standalone codes straight into the lists' memory, sized
    beforehand: one copy of the codes, where :func:`_put` makes a contiguous one first (2.5 GB more at 10^6 chunks).

    Only for ``ArrayInvertedLists``, whose ``get_codes``/``get_ids`` are the lists' own arrays.
    """
    import faiss

    size = codes.shape[1] - width
    cells, starts, counts = np.unique(where, return_index=True, return_counts=True)
    for cell, start, count in zip(cells.tolist(), starts.tolist(), counts.tolist(), strict=True):
        at, total = int(offsets[cell]), int(lists.list_size(cell))
        if at + count > total:
            raise ValueError(f"cell {cell} holds {total} rows, not {at + count}")
        faiss.rev_swig_ptr(lists.get_codes(cell), total * size).reshape(total, size)[at:at + count] = \
            codes[start:start + count, width:]
        faiss.rev_swig_ptr(lists.get_ids(cell), total)[at:at + count] = ids[start:start + count]
        offsets[cell] += count


def _put(lists: Any, where: np.ndarray, codes: np.ndarray, ids: np.ndarray, offsets: np.ndarray) -> None:
    import faiss

    if not bool(np.all(where[1:] >= where[:-1])):
        order = np.argsort(where, kind="stable")
        where, codes, ids = where[order], np.ascontiguousarray(codes[order]), np.ascontiguousarray(ids[order])
    cells, starts, counts = np.unique(where, return_index=True, return_counts=True)
    for cell, start, count in zip(cells.tolist(), starts.tolist(), counts.tolist(), strict=True):
        lists.update_entries(cell, int(offsets[cell]), count, faiss.swig_ptr(ids[start:start + count]),
                             faiss.swig_ptr(codes[start:start + count]))
        offsets[cell] += count


def contents(index: Any) -> tuple[np.ndarray, np.ndarray]:
    """Every row of a filled IVF index as (standalone codes, ids), cell by cell (so ordered by cell)."""
    codes = np.empty((int(index.ntotal), int(index.sa_code_size())), np.uint8)
    ids = np.empty(int(index.ntotal), np.int64)
    for kind, out in (("codes", codes), ("ids", ids)):
        start = 0
        for block in _blocks(index, kind):
            out[start:start + len(block)] = block
            start += len(block)
    return codes, ids


def write_contents(index: Any, path: Path, kind: str) -> None:
    """The ``codes`` (standalone, by cell) or the ``ids`` of every row of a filled IVF index, as ``.npy`` at ``path``,
    written cell by cell (no second copy of the codes in memory, nor in the process's mapped pages)."""
    rows = int(index.ntotal)
    shape, dtype = ((rows,), np.dtype(np.int64)) if kind == "ids" else ((rows, int(index.sa_code_size())),
                                                                        np.dtype(np.uint8))
    with path.open("wb") as handle:
        np.lib.format.write_array_header_1_0(handle, {"descr": np.lib.format.dtype_to_descr(dtype),
                                                      "fortran_order": False, "shape": shape})
        for block in _blocks(index, kind):
            block.tofile(handle)


def _blocks(index: Any, kind: str) -> Iterator[np.ndarray]:
    """Each non-empty cell's rows, in cell order: their standalone ``codes`` (cell number, then the vector's code)
    or their ``ids``."""
    import faiss

    width, size = int(index.coarse_code_size()), int(index.code_size)
    lists = index.invlists
    for cell in range(index.nlist):
        count = lists.list_size(cell)
        if not count:
            continue
        if kind == "ids":
            yield faiss.rev_swig_ptr(lists.get_ids(cell), count).astype(np.int64)
            continue
        block = np.empty((count, width + size), np.uint8)
        block[:, :width] = np.asarray([cell], "<i8").view(np.uint8)[:width]
        block[:, width:] = faiss.rev_swig_ptr(lists.get_codes(cell), count * size).reshape(count, size)
        yield block
