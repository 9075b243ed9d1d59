"""BM25 over token lists with ``bm25s`` (sparse score matrices; saved as .npy and JSON, never pickled)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .base import Ids, Stats, as_ids

TOKENS = "tokens.jsonl"
MODEL = "bm25"
IDS = "ids.npy"


class BM25Store:
    """The lexical store: token lists by id, a BM25 model built from them when first needed after a change.

    bm25s cannot add to a built model, so a change marks the model stale and the next search rebuilds it
    from the kept token lists.

    Example:
        >>> store = BM25Store()
        >>> store.add(as_ids([3, 4]), [["医疗器械", "补助"], ["养老"]])
        >>> store.search(["补助"], k=5)[0].tolist()
        [3]
    """

    backend = "bm25s"

    def __init__(self, tokens: dict[int, tuple[str, ...]] | None = None, model: Any = None,
                 ids: Ids | None = None) -> None:
        self._tokens: dict[int, tuple[str, ...]] = tokens if tokens is not None else {}
        self._model = model
        self._ids = ids  # model row → id, when the model is current

    def __len__(self) -> int:
        return len(self._tokens)

    @property
    def documents(self) -> int:
        return len(self._tokens)

    def add(self, ids: Ids, tokens: Sequence[Sequence[str]]) -> None:
        if len(ids) != len(tokens):
            raise ValueError(f"{len(ids)} ids for {len(tokens)} token lists")
        for key, words in zip(as_ids(ids).tolist(), tokens, strict=True):
            self._tokens[key] = tuple(words)
        self._stale()

    def remove(self, ids: Ids) -> None:
        for key in as_ids(ids).tolist():
            self._tokens.pop(key, None)
        self._stale()

    def search(self, tokens: Sequence[str], k: int, allowed: Ids | None = None,
               weights: Sequence[float] | None = None) -> tuple[Ids, np.ndarray]:
        model, rows = self._current()
        if model is None or rows is None:
            return as_ids([]), np.zeros(0, np.float32)
        vocab = model.vocab_dict
        given = [1.0] * len(tokens) if weights is None else list(weights)
        if len(given) != len(tokens):
            raise ValueError(f"{len(given)} weights for {len(tokens)} tokens")
        known = [(vocab[t], w) for t, w in zip(tokens, given, strict=True) if t and t in vocab and w > 0]
        if not known:
            return as_ids([]), np.zeros(0, np.float32)
        if all(w == 1.0 for _, w in known):
            scores = np.asarray(model.get_scores([t for t, _ in known]), dtype=np.float32)
        else:
            scores = self._weighted_scores(model, known)
        if allowed is not None:
            scores = np.where(np.isin(rows, as_ids(allowed)), scores, np.float32(0.0))
        positive = int((scores > 0).sum())
        depth = min(k, positive)
        if depth <= 0:
            return as_ids([]), np.zeros(0, np.float32)
        top = np.argpartition(-scores, depth - 1)[:depth]
        top = top[np.argsort(-scores[top], kind="stable")]
        return rows[top], scores[top]

    @staticmethod
    def _weighted_scores(model: Any, tokens: Sequence[tuple[int, float]]) -> np.ndarray:
        """BM25 with each token's term scaled by its weight, from bm25s's per-token score columns."""
        data, indices, indptr = model.scores["data"], model.scores["indices"], model.scores["indptr"]
        scores = np.zeros(int(model.scores["num_docs"]), dtype=np.float32)
        for token_id, weight in tokens:
            start, end = int(indptr[token_id]), int(indptr[token_id + 1])
            scores[indices[start:end]] += np.float32(weight) * data[start:end]  # a column's rows are distinct
        return scores

    def document_frequency(self, token: str) -> int:
        model, _ = self._current()
        if model is None:
            return 0
        token_id = model.vocab_dict.get(token)
        indptr = model.scores["indptr"]
        if token_id is None or token_id + 1 >= len(indptr):
            return 0
        return int(indptr[token_id + 1] - indptr[token_id])

    def ids(self) -> Ids:
        return np.sort(as_ids(list(self._tokens)))

    def copy(self) -> BM25Store:
        return BM25Store(dict(self._tokens), self._model, self._ids)

    def save(self, folder: Path) -> None:
        model, rows = self._current()
        with (folder / TOKENS).open("w", encoding="utf-8") as handle:
            for key, words in self._tokens.items():
                handle.write(json.dumps({"id": key, "tokens": list(words)}, ensure_ascii=False) + "\n")
        if model is not None and rows is not None:
            (folder / MODEL).mkdir()
            model.save(str(folder / MODEL), show_progress=False)
            np.save(folder / IDS, rows, allow_pickle=False)

    @classmethod
    def load(cls, folder: Path) -> BM25Store:
        tokens: dict[int, tuple[str, ...]] = {}
        with (folder / TOKENS).open(encoding="utf-8") as handle:
            for line in handle:
                if line.strip():
                    row = json.loads(line)
                    tokens[int(row["id"])] = tuple(row["tokens"])
        if not tokens:
            return cls()
        import bm25s

        model = bm25s.BM25.load(str(folder / MODEL), load_corpus=False)
        rows = np.load(folder / IDS, allow_pickle=False).astype(np.int64)
        if len(rows) != len(tokens) or int(model.scores["num_docs"]) != len(tokens):
            raise ValueError(f"{folder}: the BM25 model, its ids and the token lists disagree")
        return cls(tokens, model, rows)

    def stats(self) -> Stats:
        return {"backend": self.backend, "documents": len(self), "vocabulary": len(self._current()[0].vocab_dict)
                if self._tokens else 0}

    def _stale(self) -> None:
        self._model, self._ids = None, None

    def _current(self) -> tuple[Any, Ids | None]:
        """The BM25 model and its row ids, rebuilt first if the token lists changed since."""
        if self._model is None and self._tokens:
            import bm25s

            model = bm25s.BM25()
            # an empty document still needs one token for bm25s; "" is its reserved empty token
            model.index([list(t) or [""] for t in self._tokens.values()], show_progress=False)
            self._model, self._ids = model, as_ids(list(self._tokens))
        return self._model, self._ids
