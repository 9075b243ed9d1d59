"""jieba's word frequencies kept as sorted arrays in a cache folder, looked up by binary search: reading them takes
milliseconds where loading jieba's dictionary whole takes most of a second, and a question needs a few hundred."""

from __future__ import annotations

import contextlib
import io
import os
from bisect import bisect_left
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from .derived import derivation_key

JIEBA_CACHE = "jieba-words.npz"


class SortedWords(Mapping[str, int]):
    """A word → frequency mapping over words sorted by their UTF-8 bytes (the order of their code points), all in
    one buffer: what jieba's tokenizer asks of its ``FREQ`` dictionary (``in``, ``[]``, ``get``), without
    building it."""

    def __init__(self, buffer: bytes, offsets: np.ndarray, frequencies: np.ndarray) -> None:
        self._buffer, self._offsets, self._frequencies = buffer, offsets, frequencies
        self._keys = _Keys(buffer, offsets)

    def _find(self, word: str) -> int:
        key = word.encode("utf-8", "surrogatepass")
        at = bisect_left(self._keys, key)
        return at if at < len(self._keys) and self._keys[at] == key else -1

    def __getitem__(self, word: str) -> int:
        at = self._find(word)
        if at < 0:
            raise KeyError(word)
        return int(self._frequencies[at])

    def __contains__(self, word: object) -> bool:
        return isinstance(word, str) and self._find(word) >= 0

    def __iter__(self) -> Iterator[str]:
        return (self._keys[i].decode("utf-8", "surrogatepass") for i in range(len(self._keys)))

    def __len__(self) -> int:
        return len(self._frequencies)


class _Keys:
    """The sorted words as a sequence of UTF-8 byte strings, for :func:`bisect.bisect_left`."""

    def __init__(self, buffer: bytes, offsets: np.ndarray) -> None:
        self._buffer, self._offsets = buffer, offsets

    def __getitem__(self, i: int) -> bytes:
        return self._buffer[self._offsets[i]:self._offsets[i + 1]]

    def __len__(self) -> int:
        return len(self._offsets) - 1


def jieba_key() -> str | None:
    """What cached frequencies are derived from: jieba's bundled dictionary and the code here."""
    import jieba

    return derivation_key([Path(jieba.__file__).with_name("dict.txt"), Path(__file__)])


def read_words(path: Path, key: str) -> tuple[SortedWords, int] | None:
    """The frequencies and their total cached in ``path`` for ``key``; None when missing, made from something else or
    not well formed (the folder may be someone else's: the arrays' types, shapes and bounds are checked; words out of
    order would only be missed by the lookup, as forged chunks in the same folder would mislead the search)."""
    from .config import Config
    from .stores.checked import read_bounded

    try:
        with np.load(io.BytesIO(read_bounded(path, Config().max_index_json_bytes)), allow_pickle=False) as arrays:
            found = {name: arrays[name] for name in ("key", "total", "buffer", "offsets", "frequencies")}
    except (OSError, ValueError, KeyError, EOFError):
        return None
    buffer, offsets, frequencies = found["buffer"], found["offsets"], found["frequencies"]
    if not (found["key"].dtype == np.uint8 and bytes(found["key"]).decode("ascii", "replace") == key
            and found["total"].shape == () and found["total"].dtype == np.int64 and buffer.dtype == np.uint8
            and buffer.ndim == offsets.ndim == frequencies.ndim == 1 and offsets.dtype == frequencies.dtype == np.int64
            and len(offsets) == len(frequencies) + 1 and len(offsets) and offsets[0] == 0
            and offsets[-1] == len(buffer) and bool(np.all(np.diff(offsets) > 0)) and bool(np.all(frequencies >= 0))):
        return None
    return SortedWords(buffer.tobytes(), offsets, frequencies), int(found["total"])


def write_words(path: Path, key: str, frequencies: Mapping[str, int], total: int) -> None:
    """Cache jieba's ``frequencies`` and ``total`` in ``path`` atomically; a folder that cannot be written is left as
    it is (the cache only saves time)."""
    import uuid

    encoded = sorted((word.encode("utf-8", "surrogatepass"), count) for word, count in frequencies.items())
    offsets = np.zeros(len(encoded) + 1, np.int64)
    offsets[1:] = np.cumsum([len(word) for word, _ in encoded])
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tmp.open("wb") as handle:
            np.savez(handle, key=np.frombuffer(key.encode("ascii"), np.uint8), total=np.int64(total),
                     buffer=np.frombuffer(b"".join(word for word, _ in encoded), np.uint8), offsets=offsets,
                     frequencies=np.array([count for _, count in encoded], np.int64))
        os.replace(tmp, path)
    except OSError:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)


def cached_tokenizer(cache: Path | None) -> Any:
    """A jieba tokenizer with its dictionary: the frequencies from ``cache`` when an earlier process left them
    there (else loaded by jieba, and left there)."""
    import logging

    import jieba

    logging.getLogger("jieba").setLevel(logging.WARNING)
    tokenizer = jieba.Tokenizer()
    key = jieba_key() if cache is not None else None
    found = read_words(cache / JIEBA_CACHE, key) if cache is not None and key is not None else None
    if found is not None:
        tokenizer.FREQ, tokenizer.total = found
        tokenizer.initialized = True
        return tokenizer
    tokenizer.initialize()
    if cache is not None and key is not None:
        write_words(cache / JIEBA_CACHE, key, tokenizer.FREQ, tokenizer.total)
    return tokenizer
