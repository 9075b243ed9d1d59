"""Search through Milvus where the index's dense store is a Milvus collection: filters as scalar expressions, and
(``Config.milvus_search``) the lexical side and the fusion in Milvus, for measuring them against policy-rag's own.

``local`` (the default) searches policy-rag's BM25 store and fuses with :func:`~rag.retrieve.fusion.fuse`;
``bm25`` searches the collection's BM25 field (Milvus's jieba analyzer) with the question's lexical tokens as its
text, so English questions keep their glossary and bridge terms; ``sparse`` searches policy-rag's own BM25 terms
kept as sparse vectors (IDF on the query side, from the local statistics). ``+rrf`` / ``+weighted`` fuse the dense
and that lexical search with Milvus's ``hybrid_search`` and ranker instead of policy-rag's fusion.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from ..config import Config
from ..stores import MilvusDenseStore, Stores
from ..stores.base import Ids, as_ids
from ..stores.dense_milvus import MAX_TOPK, best_per_chunk
from ..stores.milvus_rows import query_terms
from .filters import Filters, milvus_expression

Ranking = list[tuple[int, float]]
SEARCHES = ("local", "bm25", "sparse", "bm25+rrf", "bm25+weighted", "sparse+rrf", "sparse+weighted")


def milvus_filter(stores: Stores, filters: Filters | None) -> str | None:
    """``filters`` as an expression over the rows of a Milvus store (None: no filter, or not a Milvus store)."""
    if not filters or not isinstance(stores.dense, MilvusDenseStore):
        return None
    return milvus_expression(filters, (letter.agency or "" for letter in stores.letters.metadata.values()))


def in_milvus(stores: Stores, config: Config) -> bool:
    """Whether the lexical side runs in Milvus (a Milvus store kept with lexical fields, and asked to).

    Raises:
        ValueError: an unknown ``milvus_search``, or one the index's collection cannot serve.
    """
    if config.milvus_search not in SEARCHES:
        raise ValueError(f"unknown milvus_search {config.milvus_search!r}: use {', '.join(SEARCHES)}")
    if config.milvus_search == "local":
        return False
    if not isinstance(stores.dense, MilvusDenseStore) or not stores.dense.lexical:
        raise ValueError(f"milvus_search={config.milvus_search!r} needs a Milvus index built with the lexical "
                         "fields (rag build --store milvus --milvus-lexical)")
    return True


def lexical_search(stores: Stores, weights: Mapping[str, float], k: int, where: str | None,
                   config: Config) -> Ranking:
    """The lexical side in Milvus: the ``k`` best chunks for the question's weighted lexical tokens."""
    store = _store(stores)
    request = _lexical_request(stores, weights, config.milvus_search.split("+")[0])
    if request is None:
        return []
    data, field, metric = request
    found = store.client.search(store.collection, data=[data], anns_field=field, limit=min(k, MAX_TOPK),
                                filter=store.where(where), output_fields=["chunk"], group_by_field="chunk",
                                search_params={"metric_type": metric})
    return _ranking(*best_per_chunk(found[0]), negated=metric == "BM25")


def hybrid_search(stores: Stores, query: np.ndarray, weights: Mapping[str, float], k: int, where: str | None,
                  config: Config) -> Ranking:
    """Dense and lexical together through Milvus's ``hybrid_search`` and its RRF or weighted ranker."""
    from pymilvus import AnnSearchRequest, RRFRanker, WeightedRanker

    store = _store(stores)
    side, ranker = config.milvus_search.split("+")
    expression, limit = store.where(where), min(k, MAX_TOPK)
    requests = [AnnSearchRequest(data=[np.asarray(query, np.float32).reshape(-1).tolist()], anns_field="vector",
                                 param={"metric_type": "IP"}, limit=limit, expr=expression)]
    lexical = _lexical_request(stores, weights, side)
    if lexical is not None:
        data, field, metric = lexical
        requests.append(AnnSearchRequest(data=[data], anns_field=field, param={"metric_type": metric}, limit=limit,
                                         expr=expression))
    rank = (RRFRanker(config.rrf_k) if ranker == "rrf" else
            WeightedRanker(*([config.dense_weight, config.lexical_weight][:len(requests)])))
    found = store.client.hybrid_search(store.collection, requests, ranker=rank, limit=limit,
                                       output_fields=["chunk"], group_by_field="chunk")
    return _ranking(*best_per_chunk(found[0]))


def _lexical_request(stores: Stores, weights: Mapping[str, float], side: str) -> tuple[Any, str, str] | None:
    if side == "bm25":  # Milvus's analyzer splits the tokens again; their weights cannot be passed
        text = " ".join(token for token, weight in weights.items() if token and weight > 0)
        return (text, "bm25", "BM25") if text else None
    terms = query_terms(weights, stores.lexical.documents, stores.lexical.document_frequency)
    return (terms, "lex", "IP") if terms else None


def _store(stores: Stores) -> MilvusDenseStore:
    assert isinstance(stores.dense, MilvusDenseStore)
    return stores.dense


def _ranking(ids: Ids, scores: np.ndarray, negated: bool = False) -> Ranking:
    """Milvus Lite reports BM25 scores negated (best first still): flip them back, so that fusion can use them."""
    values = (-scores if negated and len(scores) and float(scores.max()) <= 0 else scores).tolist()
    return list(zip(as_ids(ids).tolist(), values, strict=True))
