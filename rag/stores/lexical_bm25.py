"""BM25 over interned tokens: immutable postings segments, tombstones, scores computed at query time.

Scores are bm25s's defaults exactly (method "lucene", k1 1.5, b 0.75, idf ln(1 + (N − df + 0.5)/(df + 0.5)),
float32 as bm25s stores them), so retrieval ranks as it did when this store wrapped bm25s. An addition is one
new segment; a removal marks rows dead; idf and the average length are taken from the live rows at query
time. Saving hard-links the segments already on disk and writes only new ones plus a small list.
"""

from __future__ import annotations

import json
import math
import threading
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from .base import Ids, Stats, as_ids
from .checked import inside, load_array
from .postings import Segment, Vocabulary

SEGMENTS = "segments.json"
DELETED = "deleted.npy"
FORMAT = 2  # 2: each segment's vocabulary with its pinyin
K1, B = 1.5, 0.75
TAIL_MERGE = 2  # merge the last two segments while the last holds at least 1/TAIL_MERGE of the one before
DEAD_SHARE = 0.25  # rewrite every segment once this share of rows is dead
DENSE_SHARE = 0.2  # a term on more of the rows keeps its scores over all rows: an in-order add beats scattering
TERM_CACHE_BYTES = 256 << 20  # per store: the BM25 scores of recently asked terms (common terms recur across questions)


class BM25Store:
    """The lexical store: documents' token counts in segments, BM25-ranked (bm25s's scores, no bm25s needed).

    Example:
        >>> store = BM25Store()
        >>> store.add(as_ids([3, 4]), [["医疗器械", "补助"], ["养老"]])
        >>> store.search(["补助"], k=5)[0].tolist()
        [3]
    """

    backend = "bm25s"

    def __init__(self, vocabulary: Vocabulary | None = None,
                 segments: Sequence[tuple[Segment, np.ndarray]] = (), merges: int = 0) -> None:
        self._vocabulary = vocabulary if vocabulary is not None else Vocabulary()
        self._segments = list(segments)  # (segment, dead rows mask); masks are replaced, never changed in place
        self._alive = sum(int((~dead).sum()) for _, dead in self._segments)
        self._length = sum(int(segment.lengths[~dead].sum()) for segment, dead in self._segments)
        self.merges = merges  # segment merges since the store was first built: reported in stats()
        self._ids_by_row: Ids | None = None
        self._norms: tuple[tuple[int, int, int], np.ndarray] | None = None  # per row, for the current average length
        self._scores: OrderedDict[int, tuple[np.ndarray | None, np.ndarray]] = OrderedDict()  # term → scores (LRU)
        self._scores_bytes = 0
        self._scores_lock = threading.Lock()

    def __len__(self) -> int:
        return self._alive

    @property
    def documents(self) -> int:
        return self._alive

    def add(self, ids: Ids, tokens: Sequence[Sequence[str]]) -> None:
        if len(ids) != len(tokens):
            raise ValueError(f"{len(ids)} ids for {len(tokens)} token lists")
        if not len(ids):
            return
        first = self._vocabulary_end()
        terms = [self._vocabulary.intern(words) for words in tokens]
        segment = Segment.build(as_ids(ids), terms, (first, len(self._vocabulary)))
        self._segments.append((segment, np.zeros(len(segment), dtype=bool)))
        self._ids_by_row = None
        self._forget_scores()
        self._alive += len(segment)
        self._length += int(segment.lengths.sum())
        self._compact()

    def remove(self, ids: Ids) -> None:
        gone = as_ids(ids)
        if not len(gone):
            return
        self._forget_scores()
        for n, (segment, dead) in enumerate(self._segments):
            hit = np.isin(segment.ids, gone) & ~dead
            if hit.any():
                self._segments[n] = (segment, dead | hit)
                self._alive -= int(hit.sum())
                self._length -= int(segment.lengths[hit].sum())
        self._compact()

    def search(self, tokens: Sequence[str], k: int, allowed: Ids | None = None,
               weights: Sequence[float] | None = None) -> tuple[Ids, np.ndarray]:
        given = [1.0] * len(tokens) if weights is None else list(weights)
        if len(given) != len(tokens):
            raise ValueError(f"{len(given)} weights for {len(tokens)} tokens")
        vocab = self._vocabulary.ids
        known = [(vocab[t], w) for t, w in zip(tokens, given, strict=True) if t and t in vocab and w > 0]
        scores = np.zeros(self._rows(), dtype=np.float32)
        dead = self._dead_masks()
        sparse = []
        for term, weight in known:  # summed token by token in float32, as bm25s does
            rows, term_scores = self._cached_term_scores(term, dead)
            scaled = term_scores if weight == 1.0 else np.float32(weight) * term_scores
            if rows is None:  # a common term: its scores over every row, added in memory order
                scores += scaled
            else:
                scores[rows] += scaled
                sparse.append(rows)
        floor = _kth_score(scores, sparse, k) if allowed is None else 0.0
        found = np.flatnonzero(scores >= floor) if floor > 0 else np.flatnonzero(scores > 0)
        if allowed is not None and len(found):
            found = found[np.isin(self._row_ids()[found], as_ids(allowed))]
        top = _best(found, scores, k)
        return self._row_ids()[top], scores[top]

    def document_frequency(self, token: str) -> int:
        term = self._vocabulary.ids.get(token)
        return 0 if term is None else sum(len(rows) for rows, _ in self._postings(term, self._dead_masks()))

    def spelled(self, key: str) -> list[str]:
        """The indexed Chinese words whose toneless pinyin is ``key`` (``beilun`` → 北仑), those of removed letters
        included (their document frequency is 0)."""
        return self._vocabulary.spelled(key)

    def ids(self) -> Ids:
        return np.sort(self._row_ids()[~self._dead()])

    def copy(self) -> BM25Store:
        return BM25Store(self._vocabulary, self._segments, self.merges)

    def save(self, folder: Path) -> None:
        for segment, _ in self._segments:
            segment.save(folder, self._vocabulary)
        deleted = [segment.ids[dead] for segment, dead in self._segments]
        np.save(folder / DELETED, as_ids(np.concatenate(deleted)) if deleted else as_ids([]), allow_pickle=False)
        meta = {"format": FORMAT, "k1": K1, "b": B, "method": "lucene", "merges": self.merges,
                "segments": [{"name": s.name, "documents": len(s), "vocabulary": list(s.vocab)}
                             for s, _ in self._segments]}
        (folder / SEGMENTS).write_text(json.dumps(meta, indent=1), encoding="utf-8")

    @classmethod
    def load(cls, folder: Path) -> BM25Store:
        """The store saved in ``folder`` (ValueError when its files disagree or are of another format)."""
        if not (folder / SEGMENTS).is_file():
            raise ValueError(f"{folder} holds no {SEGMENTS}: a lexical store of an older format")
        meta = json.loads((folder / SEGMENTS).read_text(encoding="utf-8"))
        if meta.get("format") != FORMAT:
            raise ValueError(f"{folder / SEGMENTS} has format {meta.get('format')!r}, not {FORMAT}")
        tokens: list[str] = []
        spellings: list[str] = []
        segments = []
        for entry in meta["segments"]:
            first, end = (int(x) for x in entry["vocabulary"])
            segment = Segment.load(folder, str(entry["name"]), (first, end))
            tokens.extend(_read_vocabulary(inside(folder, f"{segment.name}.vocab.json"), len(tokens), first, end))
            spellings.extend(_read_vocabulary(inside(folder, f"{segment.name}.pinyin.json"), len(spellings), first,
                                              end))
            if len(segment) != int(entry["documents"]):
                raise ValueError(f"lexical segment {segment.name} holds {len(segment)} documents, not "
                                 f"{entry['documents']}")
            segments.append(segment)
        deleted = load_array(folder / DELETED)
        masks = [np.isin(s.ids, deleted) for s in segments]
        if sum(int(m.sum()) for m in masks) != len(deleted):
            raise ValueError(f"{folder / DELETED} names ids its segments do not hold")
        return cls(Vocabulary(tokens, spellings), list(zip(segments, masks, strict=True)), int(meta.get("merges", 0)))

    def stats(self) -> Stats:
        return {"backend": self.backend, "documents": self._alive, "vocabulary": self._vocabulary_end(),
                "segments": len(self._segments), "tombstones": int(self._dead().sum()), "merges": self.merges}

    def _rows(self) -> int:
        return sum(len(segment) for segment, _ in self._segments)

    def _row_ids(self) -> Ids:
        """Every row's id (dead ones too), kept until the segments change."""
        if self._ids_by_row is None or len(self._ids_by_row) != self._rows():
            parts = [segment.ids for segment, _ in self._segments]
            self._ids_by_row = as_ids(np.concatenate(parts)) if parts else as_ids([])
        return self._ids_by_row

    def _dead(self) -> np.ndarray:
        if not self._segments:
            return np.zeros(0, dtype=bool)
        return np.concatenate([dead for _, dead in self._segments])

    def _vocabulary_end(self) -> int:
        return self._segments[-1][0].vocab[1] if self._segments else 0

    def _postings(self, term: int, dead: list[np.ndarray | None]) -> list[tuple[np.ndarray, np.ndarray]]:
        """Per segment, the live global rows holding ``term`` and their counts (``dead``: see :meth:`_dead_masks`)."""
        found, offset = [], 0
        for (segment, _), gone in zip(self._segments, dead, strict=True):
            rows, counts = segment.postings(term)
            if len(rows):
                if gone is not None:
                    live = ~gone[rows]
                    rows, counts = rows[live], counts[live]
                found.append((rows + offset if offset else rows, counts))
            offset += len(segment)
        return found

    def _dead_masks(self) -> list[np.ndarray | None]:
        """Each segment's dead-rows mask, None where no row is dead (most segments: nothing to filter)."""
        return [dead if dead.any() else None for _, dead in self._segments]

    def _cached_term_scores(self, term: int, dead: list[np.ndarray | None]) -> tuple[np.ndarray | None, np.ndarray]:
        """:meth:`_term_scores`, kept for the next question that asks the same term (up to TERM_CACHE_BYTES,
        least recently used first out; emptied whenever the store changes, since idf and lengths change)."""
        with self._scores_lock:
            found = self._scores.get(term)
            if found is not None:
                self._scores.move_to_end(term)
                return found
        found = self._term_scores(term, dead)
        size = _nbytes(found)
        if size <= TERM_CACHE_BYTES // 8:
            with self._scores_lock:
                if term not in self._scores:
                    self._scores[term] = found
                    self._scores_bytes += size
                while self._scores_bytes > TERM_CACHE_BYTES:
                    _, gone = self._scores.popitem(last=False)
                    self._scores_bytes -= _nbytes(gone)
        return found

    def _forget_scores(self) -> None:
        with self._scores_lock:
            self._scores, self._scores_bytes = OrderedDict(), 0

    def _term_scores(self, term: int, dead: list[np.ndarray | None]) -> tuple[np.ndarray | None, np.ndarray]:
        """The live rows holding ``term`` (int64) and its BM25 scores there, computed as bm25s computes them;
        for a term on more than DENSE_SHARE of the rows, None and its scores over every row (0 where absent)."""
        found = self._postings(term, dead)
        if not found:
            return np.zeros(0, np.int64), np.zeros(0, np.float32)
        rows = np.concatenate([r.astype(np.int64) for r, _ in found])
        counts = found[0][1] if len(found) == 1 else np.concatenate([c for _, c in found])
        idf = np.float32(math.log(1 + (self._alive - len(rows) + 0.5) / (len(rows) + 0.5)))
        # idf · tf / (tf + k1·(1 − b + b·length/avgdl)) in float64, stored as float32: bm25s's arithmetic,
        # in place to pass over the postings as few times as possible
        tf = counts.astype(np.float64)
        denominator = self._row_norms()[rows]
        denominator += tf
        np.divide(tf, denominator, out=tf)
        tf *= np.float64(idf)
        if len(rows) <= DENSE_SHARE * self._rows():
            return rows, tf.astype(np.float32)
        every = np.zeros(self._rows(), dtype=np.float32)
        every[rows] = tf
        return None, every

    def _row_norms(self) -> np.ndarray:
        """k1·(1 − b + b·length/average length) per row, kept until the rows or the average change."""
        key = (self._rows(), self._alive, self._length)
        if self._norms is None or self._norms[0] != key:
            lengths = np.concatenate([s.lengths for s, _ in self._segments]).astype(np.float64)
            self._norms = (key, K1 * ((1 - B) + B * lengths / np.float64(self._length / self._alive)))
        return self._norms[1]

    def _compact(self) -> None:
        """Merge the newest segments while they are alike in size; rewrite all once many rows are dead."""
        rows = self._rows()
        if rows and rows - self._alive > DEAD_SHARE * rows:
            self._merge(0)
            return
        while len(self._segments) >= 2 and TAIL_MERGE * len(self._segments[-1][0]) >= len(self._segments[-2][0]):
            self._merge(len(self._segments) - 2)

    def _merge(self, start: int) -> None:
        parts = self._segments[start:]
        first = parts[0][0].vocab[0]
        merged = Segment.merge(parts, (first, parts[-1][0].vocab[1]))
        self._segments[start:] = [(merged, np.zeros(len(merged), dtype=bool))]
        self._ids_by_row = None
        self.merges += 1


def _read_vocabulary(path: Path, have: int, first: int, end: int) -> list[str]:
    tokens = json.loads(path.read_text(encoding="utf-8"))
    if first != have or not isinstance(tokens, list) or len(tokens) != end - first:
        raise ValueError(f"{path} does not continue the vocabulary (ids {first}–{end}, {have} read so far)")
    return [str(t) for t in tokens]


def _nbytes(term_scores: tuple[np.ndarray | None, np.ndarray]) -> int:
    rows, scores = term_scores
    return scores.nbytes + (0 if rows is None else rows.nbytes)


def _kth_score(scores: np.ndarray, sparse: list[np.ndarray], k: int) -> float:
    """A score the k-th best row reaches, 0.0 when none is known: the best such bound among the question's three
    rarest terms holding at least ``k`` rows, each the k-th best score of its rows (rows under it cannot be in the
    top k, and the rare terms' rows are few to read)."""
    floor = 0.0
    for rows in sorted((rows for rows in sparse if len(rows) >= k > 0), key=len)[:3]:
        floor = max(floor, float(np.partition(scores[rows], len(rows) - k)[len(rows) - k]))
    return floor


def _best(found: np.ndarray, scores: np.ndarray, k: int) -> np.ndarray:
    """The ``k`` rows of ``found`` (ascending) with the best scores, best first; ties in the order the rows were
    added, also where the k-th place is shared."""
    depth = min(k, len(found))
    if depth <= 0:
        return np.zeros(0, np.int64)
    if depth < len(found):
        values = scores[found]
        kth = np.partition(values, len(values) - depth)[len(values) - depth]
        above = found[values > kth]
        found = np.concatenate([above, found[values == kth][:depth - len(above)]])
    return found[np.lexsort((found, -scores[found]))]
