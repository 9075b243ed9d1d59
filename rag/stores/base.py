"""What the index needs from a store: a dense (vector) store and a lexical (token) store, as small protocols.

Both keep rows under integer ids chosen by the caller (the index uses one id per chunk). A dense store may
hold several vectors under one id (a chunk and each of its sentences); a search returns each id once, with
its best score. A new backend is one module implementing a protocol, plus one line in
:data:`rag.stores.DENSE_BACKENDS` or :data:`rag.stores.LEXICAL_BACKENDS`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np

from .disk import IndexFolderError

Ids = np.ndarray  # int64 ids, one dimension
Stats = dict[str, int | float | str]


@runtime_checkable
class DenseStore(Protocol):
    """Unit vectors under integer ids, searched by inner product.

    Every method that changes the store changes only this object: :meth:`copy` gives an independent one,
    so an index can update a copy while searches keep reading the original.
    """

    dim: int

    def __len__(self) -> int:
        """Number of vectors held (several may share an id)."""
        ...

    def add(self, ids: Ids, vectors: np.ndarray) -> None:
        """Add ``vectors`` (``(len(ids), dim)`` float32, unit rows) under ``ids`` (repeats allowed)."""
        ...

    def remove(self, ids: Ids) -> None:
        """Remove every vector held under any of ``ids`` (unknown ids are ignored)."""
        ...

    def search(self, query: np.ndarray, k: int, allowed: Ids | None = None) -> tuple[Ids, np.ndarray]:
        """The ``k`` best distinct ids for one query vector, best first, with their best scores.

        Args:
            query: ``(dim,)`` float32, unit length.
            k: how many distinct ids to return at most.
            allowed: search only these ids (``None``: all).
        """
        ...

    def ids(self) -> Ids:
        """The distinct ids held, sorted."""
        ...

    def copy(self) -> DenseStore:
        """An independent copy."""
        ...

    def save(self, folder: Path) -> None:
        """Write the store's files into ``folder`` (which exists and is empty)."""
        ...

    def stats(self) -> Stats:
        """Counts and parameters for the manifest and benchmarks (``vectors`` at least)."""
        ...


@dataclass(frozen=True)
class DenseParams:
    """How a dense store that has choices makes them (from :class:`~rag.config.Config`'s ``ivf_*`` fields).

    Attributes:
        nlist: IVF cells (0: about 4·√N of the vectors it is trained on, at most 2,048).
        nprobe: IVF cells scanned per query.
        codes: how IVF keeps vectors: ``flat`` (float32, exact scores), ``sq8`` (a byte per dimension) or
            ``auto`` (sq8 from 262,144 vectors at training on).
        auto_vectors: with the ``auto`` backend, the vector count from which an exact store becomes an IVF one.
        rescore: the store holds one vector per chunk, and a chunk's other units (its sentences) re-score the
            candidates from beside it (:class:`~rag.stores.dense_rescore.RescoredDenseStore`).
    """

    nlist: int = 0
    nprobe: int = 32
    codes: str = "auto"
    auto_vectors: int = 50_000
    rescore: bool = False


@runtime_checkable
class Configurable(Protocol):
    """A dense store that takes :class:`DenseParams` once made or loaded."""

    def configure(self, params: DenseParams) -> None: ...


@runtime_checkable
class Relocatable(Protocol):
    """A store that remembers the folder it saved to (to hard-link its unchanged files at the next save)."""

    def saved_in(self, folder: Path) -> None:
        """The folder the last ``save`` wrote to was renamed to ``folder``."""
        ...


@runtime_checkable
class LexicalStore(Protocol):
    """Token lists under integer ids, ranked by a lexical score (BM25); also the corpus's term statistics."""

    def __len__(self) -> int:
        """Number of documents (ids) held."""
        ...

    @property
    def documents(self) -> int:
        """Number of documents held (what term statistics are counted over)."""
        ...

    def add(self, ids: Ids, tokens: Sequence[Sequence[str]]) -> None:
        """Add one token list per id (ids not yet held)."""
        ...

    def remove(self, ids: Ids) -> None:
        """Remove these ids (unknown ids are ignored)."""
        ...

    def search(self, tokens: Sequence[str], k: int, allowed: Ids | None = None,
               weights: Sequence[float] | None = None) -> tuple[Ids, np.ndarray]:
        """The ``k`` best ids with a positive score for these query tokens, best first, with their scores.

        ``weights`` (one per token, default all 1) scale each token's contribution to the score.
        """
        ...

    def document_frequency(self, token: str) -> int:
        """How many documents contain ``token``."""
        ...

    def ids(self) -> Ids:
        """The ids held, sorted."""
        ...

    def copy(self) -> LexicalStore:
        """An independent copy."""
        ...

    def save(self, folder: Path) -> None:
        """Write the store's files into ``folder`` (which exists and is empty)."""
        ...

    def stats(self) -> Stats:
        """Counts for the manifest (``documents`` at least)."""
        ...


@dataclass(frozen=True)
class Place:
    """Where a store that keeps its data outside the generation folder (a database) finds it.

    Attributes:
        directory: the index folder (``None``: an index in memory).
        uri: a server (``http://host:19530``); ``None``: an embedded file in the index folder.
        collection: the collection (table) name; one per index.
        token: the server's credentials; never written anywhere (not part of ``repr`` either).
        lexical: a new collection also keeps each chunk's text and lexical terms (``Config.milvus_lexical``).
        index: a new collection's vector index (``Config.milvus_index``).
        search_width: the index's search breadth (``Config.milvus_search_width``; 0: the index's default).
        timeout: seconds any one call to the server may take (``Config.milvus_timeout``).
        token_name: where the user keeps ``token`` (an environment variable), named in authentication errors.
    """

    directory: Path | None = None
    uri: str | None = None
    collection: str = "policy_rag"
    token: str | None = field(default=None, repr=False)
    lexical: bool = False
    index: str = "auto"
    search_width: int = 0
    timeout: float = 30.0
    token_name: str = ""


class StoreUnavailable(IndexFolderError):
    """A store's database cannot be used: its client package is missing, or it cannot be reached."""


class OutdatedStore(Exception):
    """A store an earlier policy-rag wrote lacks what this one needs (the index is refused with its rebuild
    command)."""


def as_ids(ids: Sequence[int] | np.ndarray) -> Ids:
    """Ids as a contiguous int64 array."""
    return np.ascontiguousarray(np.asarray(ids, dtype=np.int64).reshape(-1))


def distinct_ids(ids: np.ndarray) -> Ids:
    """The distinct ``ids``, sorted: ``np.unique``, by marking a table when the ids are dense non-negative
    integers (chunk ids are; a chunk's sentence vectors repeat its id), which at 5.6 M vector ids of 10^6 chunks
    takes a few milliseconds rather than about a second and a half."""
    ids = as_ids(ids)
    if not len(ids):
        return ids
    low, high = int(ids.min()), int(ids.max())
    if low < 0 or high > 4 * len(ids) + 1024:
        return np.unique(ids)
    seen = np.zeros(high + 1, dtype=bool)
    seen[ids] = True
    return as_ids(np.flatnonzero(seen))
