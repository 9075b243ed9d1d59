"""Near-duplicate letters: the same letter republished by another site, found by a MinHash sketch of its shingles.

A county page and a city page may carry one letter with different page chrome, line breaks and a line or two
changed; its exact hash differs, its character shingles mostly do not. Each text gets a MinHash signature
(``PERMUTATIONS`` minima of universal hashes of its 5-character shingles, punctuation and blanks removed), and
signatures are banded (locality-sensitive hashing) so a lookup compares a text with the few that share a band,
not with every letter. Measured on the 100 letters of the evaluation corpora: distinct letters share at most
0.08 of their shingles, a copy republished with new chrome, rejoined lines and half a line cut at least 0.43.

An index keeps its letters' signatures (beside each letter segment, :mod:`rag.stores.letter_segments`), so an
update also finds the copy of a letter indexed by an earlier one.

datasketch's ``MinHash``/``MinHashLSH`` do the same, but import scipy (3.6 s here, and a large install) for
what is a few lines of numpy.
"""

from __future__ import annotations

import re
import zlib
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence

import numpy as np

SHINGLE = 5
PERMUTATIONS = 128
# 4 rows a band (band_keys reads them as two uint64): texts sharing 0.43 of their shingles meet in some band with
# probability 0.67, 0.6: 0.99
BANDS = 32
THRESHOLD = 0.35  # estimated shingle Jaccard at which two texts are one letter (the estimate is ±0.05 or so)
_NOT_TEXT = re.compile(r"[\W_]+")
_EMPTY = np.uint32(0xFFFFFFFF)  # every value of an empty text's signature


def _hash_parameters() -> tuple[np.ndarray, np.ndarray]:
    """The permutations' ``a`` (odd) and ``b``: 64-bit, fixed (signatures are comparable across runs and saves)."""
    rng = np.random.default_rng(20211)
    return (rng.integers(0, 1 << 63, PERMUTATIONS, dtype=np.uint64) * np.uint64(2) + np.uint64(1),
            rng.integers(0, 1 << 63, PERMUTATIONS, dtype=np.uint64))


_A, _B = _hash_parameters()


def shingles(text: str) -> set[str]:
    """The text's 5-character shingles, punctuation and blanks removed (line breaks and spacing do not count)."""
    body = _NOT_TEXT.sub("", text)
    return {body[i:i + SHINGLE] for i in range(max(1, len(body) - SHINGLE + 1))} if body else set()


def signature(text: str) -> np.ndarray:
    """The text's MinHash signature (``PERMUTATIONS`` uint32): for each permutation, the least hash of its
    shingles. Each permutation is a multiply-shift hash of the shingle's CRC-32 (``(a·x + b) mod 2^64``, its high
    32 bits: a universal family without the modular one's division, which took twice as long)."""
    found = shingles(text)
    if not found:
        return np.full(PERMUTATIONS, _EMPTY, dtype=np.uint32)
    hashes = np.fromiter((zlib.crc32(s.encode("utf-8")) for s in found), dtype=np.uint64, count=len(found))
    return np.asarray(((_A[:, None] * hashes[None, :] + _B[:, None]) >> np.uint64(32)).min(axis=1), dtype=np.uint32)


def signatures(texts: Iterable[str]) -> np.ndarray:
    """The signatures of ``texts``, one row each: ``(n, PERMUTATIONS)`` uint32 (what an index keeps on disk)."""
    rows = [signature(text) for text in texts]
    return np.stack(rows) if rows else np.zeros((0, PERMUTATIONS), dtype=np.uint32)


def similarity(a: np.ndarray, b: np.ndarray) -> float:
    """The estimated Jaccard similarity of two texts' shingles: the share of their signatures that agree."""
    return float(np.mean(a == b))


Known = Callable[[], tuple[Sequence[str], np.ndarray]]  # keys and signatures of texts seen before


class NearDuplicates:
    """Texts seen so far by key, found again by a near-duplicate text.

    Texts added one by one are looked up through their bands' buckets; the signatures of texts seen before (an
    index's letters, ``seen_before``) stay one array, and a lookup compares its bands with all of theirs at
    once (numpy: a few milliseconds for 10^5 letters, where buckets for them would take seconds to fill).

    Example:
        >>> seen = NearDuplicates()
        >>> seen.add("a", text)
        >>> seen.find(text_with_other_chrome)
        ['a']
    """

    def __init__(self, threshold: float = THRESHOLD, seen_before: Known | None = None) -> None:
        """``seen_before``: the keys and signatures of texts seen before (an index's letters), asked for at the
        first lookup (an update that brings no new text reads none of them)."""
        self.threshold = threshold
        self._before = seen_before
        self._signatures: dict[str, np.ndarray] = {}
        # by band: every key, the keys of no group, and by (band, group) the keys of each group; the last two hold
        # tuples of strings, which the cyclic garbage collector stops tracking (a list per letter and band, millions
        # at 10^5 letters, made its full collections slow the whole build down several times)
        self._buckets: dict[tuple[int, bytes], list[str]] = defaultdict(list)
        self._ungrouped: dict[tuple[int, bytes], tuple[str, ...]] = {}
        self._grouped: dict[tuple[int, bytes, str], tuple[str, ...]] = {}
        self._known_keys: tuple[str, ...] = ()
        self._known = np.zeros((0, PERMUTATIONS), dtype=np.uint32)
        self._known_bands = np.zeros((0, BANDS), dtype=np.uint64)

    def _read_before(self) -> None:
        """The texts seen before, by their signatures (``(len(keys), PERMUTATIONS)``, as :func:`signatures` makes
        them), of no group."""
        if self._before is None:
            return
        keys, sketches = self._before()
        self._before = None
        if sketches.shape != (len(keys), PERMUTATIONS):
            raise ValueError(f"{sketches.shape} signatures for {len(keys)} keys")
        self._known_keys = tuple(keys)
        self._known = np.asarray(sketches, dtype=np.uint32)
        self._known_bands = band_keys(self._known)

    def add(self, key: str, text: str | np.ndarray, group: str | None = None) -> None:
        """Remember a text (or its :func:`signature`) under ``key``; texts of two different groups (a letter's 文号,
        say) are never near-duplicates of each other, a text of no group may be one of any."""
        sketch = signature(text) if isinstance(text, str) else text
        self._signatures[key] = sketch
        for band in _bands(sketch):
            self._buckets[band].append(key)
            if group is None:
                self._ungrouped[band] = (*self._ungrouped.get(band, ()), key)
            else:
                self._grouped[(*band, group)] = (*self._grouped.get((*band, group), ()), key)

    def signatures_of(self, keys: Iterable[str]) -> dict[str, np.ndarray]:
        """The signatures of the texts :meth:`add` took under ``keys`` (those it took)."""
        return {key: self._signatures[key] for key in keys if key in self._signatures}

    def find(self, text: str | np.ndarray, group: str | None = None) -> list[str]:
        """The keys of the texts seen whose estimated similarity to ``text`` (or to its :func:`signature`) reaches
        the threshold, most similar first; given a ``group``, only those of that group or of none."""
        sketch = signature(text) if isinstance(text, str) else text
        self._read_before()
        if group is None:
            found = (key for band in _bands(sketch) for key in self._buckets.get(band, ()))
        else:  # a corpus of many letters sharing whole sections stays linear: other 文号 are never looked at
            found = (key for band in _bands(sketch) for bucket in (self._grouped.get((*band, group), ()),
                                                                   self._ungrouped.get(band, ())) for key in bucket)
        scored = [(similarity(sketch, self._signatures[key]), key) for key in dict.fromkeys(found)]
        if len(self._known_keys):
            rows = np.flatnonzero((self._known_bands == band_keys(sketch[None, :])).any(axis=1))
            agree = (self._known[rows] == sketch).mean(axis=1) if len(rows) else np.zeros(0)
            scored += [(float(score), self._known_keys[row]) for row, score in zip(rows.tolist(), agree.tolist(),
                                                                                    strict=True)]
        return [key for score, key in sorted(scored, key=lambda x: -x[0]) if score >= self.threshold]


def band_keys(sketches: np.ndarray) -> np.ndarray:
    """Each signature's bands as numbers, ``(n, BANDS)`` uint64: a band's four uint32 read as two uint64, folded
    into one (two bands that differ may fold alike, rarely: a candidate too many, which the similarity then rules
    out). 30 ms for 196,084 letters."""
    pairs = np.ascontiguousarray(sketches, dtype=np.uint32).view(np.uint64).reshape(len(sketches), BANDS, -1)
    return np.asarray(pairs[:, :, 0] * np.uint64(0x100000001B3) ^ pairs[:, :, 1], dtype=np.uint64)


def _bands(sketch: np.ndarray) -> Iterator[tuple[int, bytes]]:
    rows = PERMUTATIONS // BANDS
    for band in range(BANDS):
        yield band, sketch[band * rows:(band + 1) * rows].tobytes()
