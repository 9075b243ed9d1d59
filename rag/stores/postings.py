"""Immutable postings segments for the lexical store: term frequencies by token id, in numpy arrays on disk.

A segment holds some documents (ids, lengths) and, per token id they use, the rows holding it and how often
(a CSC matrix: ``terms`` sorted, ``starts`` offsets into ``rows``/``counts``). It is never changed once made:
a later save hard-links its files into the next generation folder instead of writing them again, and a
store's copies share it. Loaded segments are memory-mapped, so the arrays stay in the page cache.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from .base import Ids, as_ids
from .checked import inside, load_array
from .disk import settled
from .segments import link_file

ARRAYS = ("ids", "lengths", "terms", "starts", "rows", "counts")


class Vocabulary:
    """Token → integer id, append-only and shared by a store's copies (a token keeps its id for good), and each
    Chinese token's toneless pinyin (:func:`rag.analyze.spelling`), so that an English question's pinyin meets it."""

    def __init__(self, tokens: Sequence[str] = (), spellings: Sequence[str] = ()) -> None:
        self.tokens: list[str] = list(tokens)
        self.ids: dict[str, int] = {token: n for n, token in enumerate(self.tokens)}
        self._spellings: list[str] = list(spellings)[:len(self.tokens)]  # of the first tokens; the rest on demand
        self._by_spelling: dict[str, list[int]] = {}
        self._indexed = 0  # tokens in _by_spelling
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self.tokens)

    def intern(self, words: Iterable[str]) -> np.ndarray:
        """The ids of ``words`` (int32), new tokens appended."""
        ids, tokens, out = self.ids, self.tokens, []
        with self._lock:  # two copies of a store may add at once
            for word in words:
                found = ids.get(word)
                if found is None:
                    found = ids[word] = len(tokens)
                    tokens.append(word)
                out.append(found)
        return np.asarray(out, dtype=np.int32)  # 4 bytes a token while a batch is built, not a list of ints

    def spellings(self, first: int, end: int) -> list[str]:
        """The toneless pinyin of tokens ``first``–``end`` ("" for a token that is not Chinese)."""
        with self._lock:
            self._spell(end)
            return self._spellings[first:end]

    def spelled(self, key: str) -> list[str]:
        """The tokens whose toneless pinyin is ``key`` (lower case, syllables run together: 北仑 → ``beilun``)."""
        with self._lock:
            self._spell(len(self.tokens))
            for n in range(self._indexed, len(self._spellings)):
                if self._spellings[n]:
                    self._by_spelling.setdefault(self._spellings[n], []).append(n)
            self._indexed = len(self._spellings)
            return [self.tokens[n] for n in self._by_spelling.get(key, ())]

    def _spell(self, end: int) -> None:
        if len(self._spellings) < end:
            from ..analyze import spellings

            self._spellings.extend(spellings(self.tokens[len(self._spellings):end]))


class Segment:
    """Documents' term frequencies by token id (see the module doc); ``folder`` is where its files are."""

    def __init__(self, name: str, arrays: dict[str, np.ndarray], vocab: tuple[int, int],
                 folder: Path | None = None) -> None:
        self.name = name
        self.ids, self.lengths = arrays["ids"], arrays["lengths"]
        self.terms, self.starts = arrays["terms"], arrays["starts"]
        self.rows, self.counts = arrays["rows"], arrays["counts"]
        self.vocab = vocab  # the token ids this segment's vocabulary file names: [first, end)
        self.folder = folder

    def __len__(self) -> int:
        return len(self.ids)

    @classmethod
    def build(cls, ids: Ids, term_lists: Sequence[np.ndarray], vocab: tuple[int, int]) -> Segment:
        """A segment of one document per id, made of its token ids; an empty document counts one token, as in bm25s."""
        lengths = np.asarray([max(len(t), 1) for t in term_lists], dtype=np.int32)
        counted = [np.unique(t, return_counts=True) for t in term_lists]  # per document: no array per occurrence
        terms = np.concatenate([*(t for t, _ in counted), np.zeros(0, np.int32)]).astype(np.int32)
        counts = np.concatenate([*(c for _, c in counted), np.zeros(0, np.int64)])
        rows = np.repeat(np.arange(len(term_lists), dtype=np.int32), [len(t) for t, _ in counted])
        return cls(_name(), {"ids": as_ids(ids), "lengths": lengths, **_columns(terms, rows, counts)}, vocab)

    @classmethod
    def merge(cls, parts: Sequence[tuple[Segment, np.ndarray]], vocab: tuple[int, int]) -> Segment:
        """One segment of the rows of ``parts`` (segment, dead mask) not marked dead, in order."""
        ids, lengths, terms, rows, counts = [], [], [], [], []
        offset = 0
        for segment, dead in parts:
            alive = ~dead
            renumber = (np.cumsum(alive) - 1 + offset).astype(np.int32)
            keep = alive[segment.rows]
            terms.append(np.repeat(segment.terms, np.diff(segment.starts))[keep])
            rows.append(renumber[segment.rows[keep]])
            counts.append(segment.counts[keep].astype(np.uint32))
            ids.append(segment.ids[alive])
            lengths.append(segment.lengths[alive])
            offset += int(alive.sum())
        arrays = _columns(*(np.concatenate(x) for x in (terms, rows, counts)))
        return cls(_name(), {"ids": as_ids(np.concatenate(ids)), "lengths": np.concatenate(lengths).astype(np.int32),
                             **arrays}, vocab)

    def postings(self, term: int) -> tuple[np.ndarray, np.ndarray]:
        """The rows holding token id ``term`` and its counts there."""
        at = int(np.searchsorted(self.terms, term))
        if at >= len(self.terms) or int(self.terms[at]) != term:
            return _NO_ROWS, _NO_ROWS
        start, end = int(self.starts[at]), int(self.starts[at + 1])
        return self.rows[start:end], self.counts[start:end]

    def files(self) -> list[str]:
        return [f"{self.name}.{key}.npy" for key in ARRAYS] + [f"{self.name}.vocab.json", f"{self.name}.pinyin.json"]

    def save(self, folder: Path, vocabulary: Vocabulary) -> None:
        """Put the segment's files in ``folder``: hard links to its current files when it has them.

        Its vocabulary file holds the tokens of ids ``vocab``: the ones first interned when it was made; its pinyin
        file, their toneless pinyin.
        """
        home = settled(self.folder) if self.folder is not None else None
        if home is None or not all(link_file(home / file, folder / file) for file in self.files()):
            for file in self.files():
                (folder / file).unlink(missing_ok=True)
            for key, array in zip(ARRAYS, (self.ids, self.lengths, self.terms, self.starts, self.rows, self.counts),
                                  strict=True):
                np.save(folder / f"{self.name}.{key}.npy", array, allow_pickle=False)
            first, end = self.vocab
            (folder / f"{self.name}.vocab.json").write_text(
                json.dumps(vocabulary.tokens[first:end], ensure_ascii=False), encoding="utf-8")
            (folder / f"{self.name}.pinyin.json").write_text(json.dumps(vocabulary.spellings(first, end)),
                                                             encoding="utf-8")
        self.folder = folder

    @classmethod
    def load(cls, folder: Path, name: str, vocab: tuple[int, int]) -> Segment:
        """The segment ``name`` saved in ``folder``, memory-mapped, its shapes checked (ValueError otherwise)."""
        # plain views of the mapped files: np.memmap's own slicing costs more than the search it serves
        arrays = {key: np.asarray(load_array(inside(folder, f"{name}.{key}.npy"), mmap=True))
                  for key in ARRAYS}
        segment = cls(name, arrays, vocab, folder)
        documents, postings = len(segment.ids), len(segment.rows)
        if (len(segment.lengths) != documents or len(segment.starts) != len(segment.terms) + 1
                or len(segment.counts) != postings or any(a.ndim != 1 for a in arrays.values())
                or (len(segment.starts) and (int(segment.starts[0]) != 0 or int(segment.starts[-1]) != postings))
                or (len(segment.terms) and not 0 <= int(segment.terms[-1]) < vocab[1])):
            raise ValueError(f"lexical segment {name} in {folder} is inconsistent")
        return segment


_NO_ROWS = np.zeros(0, dtype=np.int32)


def _name() -> str:
    return f"seg-{uuid.uuid4().hex[:12]}"


def _columns(terms: np.ndarray, rows: np.ndarray, counts: np.ndarray) -> dict[str, np.ndarray]:
    """Postings by token: ``(term, row, count)`` triples, rows ascending, sorted by term (stably) and cut per term."""
    order = np.argsort(terms, kind="stable")
    terms, rows, counts = terms[order], rows[order], counts[order]
    cuts = np.flatnonzero(np.diff(terms)) + 1
    starts = np.concatenate([[0], cuts, [len(terms)]]) if len(terms) else np.zeros(1)
    count_type = np.uint16 if not len(counts) or int(counts.max()) <= np.iinfo(np.uint16).max else np.uint32
    return {"terms": terms[starts[:-1].astype(np.int64)].astype(np.int32), "starts": starts.astype(np.int64),
            "rows": rows.astype(np.int32), "counts": counts.astype(count_type)}
