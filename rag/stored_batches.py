"""The fresh letters' embedded batches going into an update's new stores (and its checkpoint), with their ids."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from .build import Result, Work
from .checkpoint import Checkpoint
from .chunk import Chunk
from .parse import Letter
from .stores import add_vectors
from .stores.base import DenseStore, LexicalStore, as_ids


def first_ids(fresh: Sequence[Letter], made: Mapping[str, Sequence[Chunk]], next_id: int) -> dict[str, int]:
    """Each fresh letter's first chunk id: ids follow the plan's order from ``next_id``, however batches come back
    (a sharded build assigns them the same way on every machine)."""
    first: dict[str, int] = {}
    for letter in fresh:
        first[letter.letter_id] = next_id
        next_id += len(made[letter.letter_id])
    return first


class Added:
    """Batches of results going into the new stores (and the checkpoint) as they come."""

    def __init__(self, dense: DenseStore, lexical: LexicalStore, first_id: Mapping[str, int],
                 made: Mapping[str, Sequence[Chunk]], checkpoint: Checkpoint | None,
                 letters: Mapping[str, Letter]) -> None:
        self.dense, self.lexical, self.checkpoint = dense, lexical, checkpoint
        self.first_id, self.made, self.letters = first_id, made, letters
        self.chunks: dict[int, Chunk] = {}
        self.failed: dict[str, str] = {}
        self.chars = 0

    def add(self, works: Sequence[Work], results: Sequence[Result]) -> None:
        owners: list[int] = []
        vectors: list[np.ndarray] = []
        keys: list[int] = []
        tokens: list[Sequence[str]] = []
        for work, result in zip(works, results, strict=True):
            if result.error is not None:
                self.failed[work.letter_id] = result.error
                continue
            if self.checkpoint is not None and result.chars:
                self.checkpoint.save(work, result)
            first = self.first_id[work.letter_id]
            for n, units in enumerate(work.units):
                owners.extend([first + n] * len(units))
            vectors.append(result.vectors)
            keys.extend(range(first, first + len(work.texts)))
            tokens.extend(result.tokens)
            self.chunks.update(enumerate(self.made[work.letter_id], start=first))
            self.chars += result.chars
        if owners:  # with each row's facts where the store keeps them (Milvus: filters as scalar fields)
            batch = {key: self.chunks[key] for key in keys}
            add_vectors(self.dense, as_ids(owners), np.concatenate(vectors), batch, self.letters,
                        dict(zip(keys, tokens, strict=True)))
        if keys:
            self.lexical.add(as_ids(keys), tokens)


__all__ = ["Added", "first_ids"]
