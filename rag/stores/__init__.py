"""Where an index keeps its data: the letter store, a dense store and a lexical store, chosen by name here.

To add a dense backend (an IVF index, a vector database), write a module with a class that implements
:class:`~rag.stores.base.DenseStore`, with ``__init__(dim)`` and a classmethod ``load(folder, dim)``, and add
one line to :data:`DENSE_BACKENDS`; ``Config(dense="name")`` (``rag build --dense name``) then selects it.
A backend whose data lives outside the generation folder (a database: Milvus) also needs to know where: it
implements :class:`PlacedDenseBackend` instead and goes in :data:`PLACED_DENSE_BACKENDS`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import numpy as np

from .base import Configurable, DenseParams, DenseStore, Ids, LexicalStore, Place, Relocatable, Stats, as_ids
from .dense_auto import AutoDenseStore
from .dense_flat import FlatDenseStore
from .dense_ivf import IVFDenseStore
from .dense_milvus import MilvusDenseStore
from .dense_rescore import RescoredDenseStore
from .letters import LetterStore
from .lexical_bm25 import BM25Store
from .sentences import MANIFEST as SENTENCES_MANIFEST

if TYPE_CHECKING:
    import numpy as np

    from ..chunk import Chunk
    from ..parse import Letter


class DenseBackend(Protocol):
    """A dense store class: made empty for a dimension, or loaded from a folder."""

    def __call__(self, dim: int) -> DenseStore: ...

    def load(self, folder: Path, dim: int) -> DenseStore: ...


class PlacedDenseBackend(Protocol):
    """A dense store class keeping its rows in a database: made for a :class:`Place`, or loaded with one.

    The generation folder then holds only what names the rows (``load`` reads it); the place adds what is
    never written there: the index folder an embedded database lives in, and credentials.
    """

    def create(self, dim: int, place: Place) -> DenseStore: ...

    def load(self, folder: Path, dim: int, place: Place | None = None) -> DenseStore: ...


class LexicalBackend(Protocol):
    """A lexical store class: made empty, or loaded from a folder."""

    def __call__(self) -> LexicalStore: ...

    def load(self, folder: Path) -> LexicalStore: ...


DENSE_BACKENDS: dict[str, DenseBackend] = {
    "auto": AutoDenseStore,  # flat below DenseParams.auto_vectors vectors, ivf from there on
    "flat": FlatDenseStore,
    "ivf": IVFDenseStore,
}
PLACED_DENSE_BACKENDS: dict[str, PlacedDenseBackend] = {
    "milvus": MilvusDenseStore,  # pymilvus is imported only when one is made or loaded
}
LEXICAL_BACKENDS: dict[str, LexicalBackend] = {
    "bm25s": BM25Store,
}
DENSE_FOLDER = "dense"
LEXICAL_FOLDER = "lexical"


def dense_backend(name: str) -> DenseBackend:
    """The dense store class registered as ``name``.

    Raises:
        ValueError: no such backend (the message lists the known ones).
    """
    try:
        return DENSE_BACKENDS[name]
    except KeyError:
        known = ", ".join(sorted([*DENSE_BACKENDS, *PLACED_DENSE_BACKENDS]))
        raise ValueError(f"unknown dense store {name!r}; known: {known}") from None


def new_dense(name: str, dim: int, place: Place | None = None, params: DenseParams | None = None) -> DenseStore:
    """An empty dense store of backend ``name`` (a placed one at ``place``), given ``params`` if it takes them."""
    if name in PLACED_DENSE_BACKENDS:
        _check_rescore(name, params)
        return PLACED_DENSE_BACKENDS[name].create(dim, place or Place())
    store = _configured(dense_backend(name)(dim), params)
    return RescoredDenseStore(store) if params is not None and params.rescore else store


def load_dense(name: str, folder: Path, dim: int, place: Place | None = None,
               params: DenseParams | None = None) -> DenseStore:
    """The dense store of backend ``name`` saved in ``folder``.

    Raises:
        ValueError: the folder's sentence vectors are (or are not) kept apart, unlike ``params.rescore``.
    """
    if name in PLACED_DENSE_BACKENDS:
        _check_rescore(name, params)
        return PLACED_DENSE_BACKENDS[name].load(folder, dim, place)
    store = _configured(dense_backend(name).load(folder, dim), params)
    if params is not None and params.rescore:
        return RescoredDenseStore.load(folder, store)
    if (folder / SENTENCES_MANIFEST).exists():
        raise ValueError(f"{folder} keeps its sentence vectors apart for re-scoring (sentence_rescore on), "
                         "but the index's settings say they are in the dense index")
    return store


def _check_rescore(name: str, params: DenseParams | None) -> None:
    if params is not None and params.rescore:
        raise ValueError(f"the {name} dense store keeps sentence vectors in its collection: "
                         "sentence_rescore works with the local stores (auto, flat, ivf)")


def _configured(store: DenseStore, params: DenseParams | None) -> DenseStore:
    if params is not None and isinstance(store, Configurable):
        store.configure(params)
    return store


def add_vectors(store: DenseStore, ids: Ids, vectors: np.ndarray, chunks: Mapping[int, Chunk],
                letters: Mapping[str, Letter], tokens: Mapping[int, Sequence[str]]) -> None:
    """``store.add(ids, vectors)``; a Milvus store also gets each row's facts (letter, agency, date; its text and
    terms when it keeps them), so that filters become scalar expressions there."""
    if isinstance(store, MilvusDenseStore):
        from .milvus_rows import chunk_facts

        store.add(ids, vectors, chunk_facts(ids.tolist(), chunks, letters, tokens if store.lexical else None))
    else:
        store.add(ids, vectors)


def lexical_backend(name: str) -> LexicalBackend:
    """The lexical store class registered as ``name`` (ValueError naming the known ones otherwise)."""
    try:
        return LEXICAL_BACKENDS[name]
    except KeyError:
        raise ValueError(f"unknown lexical store {name!r}; known: {', '.join(sorted(LEXICAL_BACKENDS))}") from None


@dataclass(frozen=True)
class Stores:
    """One consistent snapshot of an index's data: searches read one, updates build the next.

    Attributes:
        letters: letters and chunks by id.
        dense: chunk vectors (and sentence vectors) under the chunks' ids.
        lexical: chunk tokens under the chunks' ids.
        dense_backend: the name the dense store is registered under.
        lexical_backend: the name the lexical store is registered under.
    """

    letters: LetterStore
    dense: DenseStore
    lexical: LexicalStore
    dense_backend: str = "flat"
    lexical_backend: str = "bm25s"

    @classmethod
    def empty(cls, dim: int, dense: str = "flat", lexical: str = "bm25s", place: Place | None = None,
              params: DenseParams | None = None) -> Stores:
        return cls(LetterStore(), new_dense(dense, dim, place, params), lexical_backend(lexical)(), dense, lexical)

    def save(self, folder: Path) -> None:
        """Write every store into ``folder`` (a fresh generation folder)."""
        self.letters.save(folder)
        for name, store in ((DENSE_FOLDER, self.dense), (LEXICAL_FOLDER, self.lexical)):
            (folder / name).mkdir()
            store.save(folder / name)

    def saved_in(self, folder: Path) -> None:
        """The generation folder :meth:`save` wrote to now lives at ``folder``: stores that link files follow it."""
        for name, store in ((DENSE_FOLDER, self.dense), (LEXICAL_FOLDER, self.lexical), ("", self.letters)):
            if isinstance(store, Relocatable):
                store.saved_in(folder / name if name else folder)

    def with_dense_params(self, params: DenseParams) -> Stores:
        """The same snapshot searched with other dense parameters (IVF cells probed): an IVF store is copied
        (cheaply: its lists are shared) and configured, this one is left as it is; other stores have nothing to
        change (a flat store's copy would copy its vectors)."""
        if not isinstance(self.dense, Configurable) or self.dense.stats().get("backend") != "ivf":
            return self
        return replace(self, dense=_configured(self.dense.copy(), params))

    @classmethod
    def load(cls, folder: Path, dim: int, dense: str, lexical: str, place: Place | None = None,
             params: DenseParams | None = None) -> Stores:
        """The stores saved in ``folder``; a local dense store is read in a second thread meanwhile (filling
        FAISS lists and copying vectors leave the interpreter free for the letters' records and BM25)."""
        if dense in PLACED_DENSE_BACKENDS:  # a database client stays on the calling thread
            vectors = load_dense(dense, folder / DENSE_FOLDER, dim, place, params)
            return cls(LetterStore.load(folder), vectors, lexical_backend(lexical).load(folder / LEXICAL_FOLDER),
                       dense, lexical)
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="dense-load") as pool:
            pending = pool.submit(load_dense, dense, folder / DENSE_FOLDER, dim, place, params)
            try:
                letters = LetterStore.load(folder)
                words = lexical_backend(lexical).load(folder / LEXICAL_FOLDER)
            except BaseException:
                pending.cancel()
                raise
            return cls(letters, pending.result(), words, dense, lexical)

    def stats(self) -> dict[str, Stats]:
        dense = self.dense.stats()  # the auto backend names the store it chose
        backend = dense.get("backend", self.dense_backend) if self.dense_backend == "auto" else self.dense_backend
        return {"letters": self.letters.stats(), "dense": {**dense, "backend": backend},
                "lexical": {**self.lexical.stats(), "backend": self.lexical_backend}}

    def problems(self) -> list[str]:
        """Why the stores disagree with each other (empty when every chunk id is in all three)."""
        keys = self.letters.ids()
        problems = []
        holds = getattr(self.dense, "holds", None)  # a database store checks without reading every row
        if not (holds(as_ids(keys)) if holds is not None else np.array_equal(self.dense.ids(), keys)):
            problems.append("the dense store's ids differ from the chunks'")
        if not np.array_equal(self.lexical.ids(), keys):
            problems.append("the lexical store's ids differ from the chunks'")
        return problems


__all__ = ["DENSE_BACKENDS", "LEXICAL_BACKENDS", "PLACED_DENSE_BACKENDS", "AutoDenseStore", "BM25Store",
           "DenseParams", "DenseStore", "FlatDenseStore", "IVFDenseStore", "LetterStore", "LexicalStore",
           "MilvusDenseStore", "Place", "RescoredDenseStore", "Stores", "add_vectors", "dense_backend",
           "lexical_backend", "load_dense", "new_dense"]
