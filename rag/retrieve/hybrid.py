"""Hybrid search over the stores: the dense and the lexical candidates of a question, fused into hits."""

from __future__ import annotations

import math
import os
import time
from collections.abc import Mapping, MutableMapping
from concurrent.futures import ThreadPoolExecutor
from functools import partial

import numpy as np

from ..analyze import Analyzer, TermStatistics
from ..config import Config
from ..embed import Encoder
from ..stores import LetterStore, MilvusDenseStore, RescoredDenseStore, Stores
from . import milvus_side
from .filters import Filters
from .fusion import fuse
from .hits import Hit, make_hit
from .milvus_side import in_milvus, milvus_filter
from .query import check_k, clean_question

TIMED_PARTS = ("encode", "dense", "lexical", "fusion")  # the lexical side may overlap the first two
_SIDES: dict[int, ThreadPoolExecutor] = {}  # per process (a forked child has none of its parent's threads)


def search(question: str, k: int, filters: Filters | None, *, stores: Stores, encoder: Encoder, analyzer: Analyzer,
           config: Config, timings: MutableMapping[str, float] | None = None) -> list[Hit]:
    """The ``k`` best passages for a question (see :meth:`rag.Index.search`).

    Args:
        question: free text, Chinese or English.
        k: number of hits.
        filters: restrict to letters, an agency or a date range.
        stores: the snapshot to search.
        encoder: embeds the question for the dense side.
        analyzer: turns the question into lexical tokens (with glossary expansion for English).
        config: ``fusion``, its weights, ``k_candidates`` and ``max_question_chars``.
        timings: when given, filled with the seconds spent in each of :data:`TIMED_PARTS`.

    Raises:
        BadQuery: empty question or ``k < 1``.
    """
    check_k(k)
    text, _ = clean_question(question, config.max_question_chars)
    clock = timings if timings is not None else {}
    clock.update(dict.fromkeys(TIMED_PARTS, 0.0))
    letters = stores.letters
    allowed = letters.allowed(filters) if filters else None
    if not len(letters) or (allowed is not None and not len(allowed)):
        return []
    where = milvus_filter(stores, filters)  # a Milvus store filters on its rows' fields, not by listing ids
    milvus = config.milvus_search if in_milvus(stores, config) else None
    depth = max(k, config.k_candidates)
    encoded = config.fusion != "lexical" or milvus is not None
    lexical_side = partial(_lexical_side, text, depth, allowed, where, stores=stores, analyzer=analyzer,
                           config=config, milvus=milvus)
    # over many chunks the lexical side runs beside the encoder and the dense search: numpy and FAISS let go of
    # the GIL, so on two cores a search takes about its longer side rather than the sum of both (below that,
    # the threads' turns at the GIL cost more than BM25 takes)
    beside = _sides().submit(lexical_side) if encoded and config.fusion != "dense" and \
        len(stores.lexical) >= config.lexical_thread_chunks else None
    query = None
    if encoded:
        started = time.perf_counter()
        query = encoder.encode_queries([text])[0]
        clock["encode"] = time.perf_counter() - started
    dense: list[tuple[int, float]] = []
    if query is not None and config.fusion != "lexical" and not (milvus and "+" in milvus):
        started = time.perf_counter()
        dense = _dense(stores, query, depth, allowed, where)
        clock["dense"] = time.perf_counter() - started
    weights, lexical, clock["lexical"] = beside.result() if beside is not None else lexical_side()
    started = time.perf_counter()
    dense = _with_lexical_candidates(stores.dense, query, dense, lexical)
    if milvus and "+" in milvus and query is not None:  # Milvus fuses: its ranker, not policy-rag's fusion
        fused = milvus_side.hybrid_search(stores, query, weights, depth, where, config)
    else:
        fused = fuse(dense, lexical, method=config.fusion, rrf_k=config.rrf_k, dense_weight=config.dense_weight,
                     lexical_weight=config.lexical_weight, dense_strong=config.dense_strong,
                     # Milvus's own BM25 scores are on another scale than the ideal one computed here
                     lexical_strong=0.0 if milvus else config.lexical_strong * ideal_score(weights, stores.lexical))
    hits = _hits(letters, fused[:k], dict(dense), dict(lexical))
    clock["fusion"] = time.perf_counter() - started
    return hits


def ideal_score(weights: Mapping[str, float], statistics: TermStatistics) -> float:
    """The BM25 score of a chunk of average length holding each of the question's terms once: Σ weight × idf."""
    n = statistics.documents
    total = 0.0
    for token, weight in weights.items():
        df = statistics.document_frequency(token)
        if df > 0:
            total += weight * math.log(1 + (n - df + 0.5) / (df + 0.5))
    return total


def _sides() -> ThreadPoolExecutor:
    """This process's threads for searches' lexical sides (:attr:`Config.lexical_thread_chunks`)."""
    pool = _SIDES.get(os.getpid())
    if pool is None:
        pool = _SIDES.setdefault(os.getpid(), ThreadPoolExecutor(max_workers=2, thread_name_prefix="rag-lexical"))
    return pool


def _lexical_side(text: str, depth: int, allowed: np.ndarray | None, where: str | None, *, stores: Stores,
                  analyzer: Analyzer, config: Config,
                  milvus: str | None) -> tuple[dict[str, float], list[tuple[int, float]], float]:
    """The question's lexical weights, the lexical candidates (none when the search is dense only or Milvus fuses)
    and the seconds taken."""
    started = time.perf_counter()
    weights = analyzer.query_weights(text, stores.lexical, bridge_weight=config.bridge_weight,
                                     max_candidates=config.bridge_candidates, spelled=config.pinyin_bridge) \
        if config.fusion != "dense" else {}
    lexical: list[tuple[int, float]] = []
    if config.fusion != "dense" and not (milvus and "+" in milvus):
        lexical = milvus_side.lexical_search(stores, weights, depth, where, config) if milvus else \
            _ranking(*stores.lexical.search(list(weights), depth, allowed, list(weights.values())))
    return weights, lexical, time.perf_counter() - started


def _hits(letters: LetterStore, fused: list[tuple[int, float]], dense_of: dict[int, float],
          lexical_of: dict[int, float]) -> list[Hit]:
    hits = []
    for rank, (key, score) in enumerate(fused, start=1):
        chunk = letters.chunk(key)
        hits.append(make_hit(chunk, letters.letters[chunk.letter_id], rank, score, dense_of.get(key),
                             lexical_of.get(key)))
    return hits


def _ranking(ids: np.ndarray, scores: np.ndarray) -> list[tuple[int, float]]:
    return list(zip(ids.tolist(), scores.tolist(), strict=True))


def _with_lexical_candidates(store: object, query: np.ndarray | None, dense: list[tuple[int, float]],
                             lexical: list[tuple[int, float]]) -> list[tuple[int, float]]:
    """With a :class:`RescoredDenseStore`, the dense candidates and the lexical side's others with their dense
    score, best first: that store finds a chunk by its chunk vector only, and its sentence vectors re-score
    whichever candidate comes their way. Other stores' candidates are returned as they are."""
    if query is None or not dense or not lexical or not isinstance(store, RescoredDenseStore):
        return dense
    seen = {key for key, _ in dense}
    others = [key for key, _ in lexical if key not in seen]
    if not others:
        return dense
    scores = store.score(query, np.asarray(others, np.int64))
    extra = [(key, float(score)) for key, score in zip(others, scores.tolist(), strict=True) if score > -np.inf]
    return sorted([*dense, *extra], key=lambda pair: -pair[1])


def _dense(stores: Stores, query: np.ndarray, depth: int, allowed: np.ndarray | None,
           where: str | None) -> list[tuple[int, float]]:
    if where is not None and isinstance(stores.dense, MilvusDenseStore):
        return _ranking(*stores.dense.search(query, depth, where=where))
    return _ranking(*stores.dense.search(query, depth, allowed))
