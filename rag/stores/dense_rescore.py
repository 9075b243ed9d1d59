"""Chunk vectors in the dense index, sentence vectors beside it re-scoring the candidates (``Config.sentence_rescore``).

Today's mode puts every dense unit of a chunk (the chunk with its context header, then each of its sentences;
:func:`rag.embed.dense_units`) into the dense index, and a chunk scores its best unit. This store keeps the
same score for the chunks it looks at, with one vector per chunk in the (flat or IVF) index: the first unit of
each chunk goes there, and every unit (that one too) into :class:`~rag.stores.sentences.SentenceVectors`
(float16, memory-mapped). A search asks the index for the ``k`` best chunks by their chunk vector, then
re-scores exactly those: a chunk's score is the best of its units' scores. :meth:`RescoredDenseStore.score`
scores any other chunks the same way (the hybrid search gives the lexical side's candidates their dense score
so). A chunk whose chunk vector is not among the ``k`` is not found by one of its sentences, which today's
mode would find: the price of the smaller index (README "Dense stores").
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from .base import Configurable, DenseParams, DenseStore, Ids, Relocatable, Stats, as_ids
from .sentences import SentenceVectors


class RescoredDenseStore:
    """A dense store of one vector per chunk, its candidates re-scored by their sentence vectors.

    Args:
        inner: the dense store holding the chunk vectors (any local backend: flat, IVF, auto).
        sentences: the sentence vectors (default: none yet).

    ``add`` takes a chunk's units as :class:`~rag.stores.base.DenseStore` does (all of them in one call, the
    chunk's own vector first): the first row of each run of one id goes to ``inner``, every row to ``sentences``.

    Example:
        >>> from rag.stores.dense_flat import FlatDenseStore
        >>> store = RescoredDenseStore(FlatDenseStore(4))
        >>> store.add(as_ids([7, 7, 8]), np.eye(4, dtype=np.float32)[:3])
        >>> ids, scores = store.search(np.eye(4, dtype=np.float32)[1], k=2)
        >>> ids.tolist(), scores.tolist()
        ([7, 8], [1.0, 0.0])
    """

    def __init__(self, inner: DenseStore, sentences: SentenceVectors | None = None) -> None:
        self.dim = inner.dim
        self.inner = inner
        self.sentences = sentences if sentences is not None else SentenceVectors(inner.dim)

    @property
    def maintenance(self) -> str:
        notes = [getattr(self.inner, "maintenance", ""), self.sentences.maintenance]
        return "; ".join(note for note in notes if note)

    def configure(self, params: DenseParams) -> None:
        if isinstance(self.inner, Configurable):
            self.inner.configure(params)

    def __len__(self) -> int:
        """Units held (as many as a store of every unit holds); the dense index holds one per chunk of them."""
        return self.sentences.rows

    def add(self, ids: Ids, vectors: np.ndarray) -> None:
        ids = as_ids(ids)
        if not len(ids):
            return
        vectors = np.asarray(vectors, np.float32).reshape(len(ids), self.dim)
        first = np.ones(len(ids), bool)
        first[1:] = ids[1:] != ids[:-1]
        self.inner.add(ids[first], vectors[first])
        self.sentences.add(ids, vectors)

    def remove(self, ids: Ids) -> None:
        self.inner.remove(ids)
        self.sentences.remove(ids)

    def search(self, query: np.ndarray, k: int, allowed: Ids | None = None) -> tuple[Ids, np.ndarray]:
        ids, scores = self.inner.search(query, k, allowed)
        if not len(ids):
            return ids, scores
        rescored = np.maximum(np.asarray(scores, np.float32), self.sentences.best(query, ids))
        order = np.argsort(-rescored, kind="stable")
        return as_ids(ids[order]), rescored[order]

    def score(self, query: np.ndarray, ids: Ids) -> np.ndarray:
        """The score of each of ``ids``, as a search would give it (``-inf`` for an id not held)."""
        return self.sentences.best(query, as_ids(ids))

    def ids(self) -> Ids:
        return self.inner.ids()

    def copy(self) -> RescoredDenseStore:
        return RescoredDenseStore(self.inner.copy(), self.sentences.copy())

    def save(self, folder: Path) -> None:
        self.inner.save(folder)
        self.sentences.save(folder)

    def saved_in(self, folder: Path) -> None:
        if isinstance(self.inner, Relocatable):
            self.inner.saved_in(folder)
        self.sentences.saved_in(folder)

    @classmethod
    def load(cls, folder: Path, inner: DenseStore) -> RescoredDenseStore:
        """The store saved in ``folder``, around ``inner`` (its chunk vectors, loaded from the same folder)."""
        return cls(inner, SentenceVectors.load(folder, inner.dim))

    def stats(self) -> Stats:
        stats: dict[str, Any] = {**self.inner.stats(), **self.sentences.stats(), "sentences": "rescore",
                                 "chunk_vectors": len(self.inner), "vectors": len(self),
                                 "index_vectors": self.inner.stats().get("vectors", len(self.inner))}
        if self.maintenance:
            stats["maintenance"] = self.maintenance
        return stats
