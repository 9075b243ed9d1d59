"""Fusing the dense and the lexical ranking into one."""

from __future__ import annotations

from collections.abc import Sequence

Ranking = Sequence[tuple[int, float]]  # (chunk id, score), best first
FUSIONS = ("weighted", "rrf", "dense", "lexical")


def fuse(dense: Ranking, lexical: Ranking, *, method: str, rrf_k: int = 60, dense_weight: float = 1.0,
         lexical_weight: float = 1.0, dense_strong: float = 0.0,
         lexical_strong: float = 0.0) -> list[tuple[int, float]]:
    """Combine two rankings of chunk ids into one, best first (ties: lower id first).

    ``weighted``: weighted sum of the scores min-max normalised over each list, a list's top counting as the
    side's strongest only when it reaches that side's ``*_strong`` score (below it, the span is taken up to that
    score: a dense side whose best cosine is 0.30 is weak, and its best is not worth a lexical side's exact match).
    ``rrf``: reciprocal-rank fusion, ``Σ w / (rrf_k + rank)``. ``dense``/``lexical``: one side only.

    Raises:
        ValueError: an unknown method.
    """
    if method == "dense":
        return list(dense)
    if method == "lexical":
        return list(lexical)
    fused: dict[int, float] = {}
    if method == "rrf":
        for weight, ranking in ((dense_weight, dense), (lexical_weight, lexical)):
            for rank, (key, _) in enumerate(ranking, start=1):
                fused[key] = fused.get(key, 0.0) + weight / (rrf_k + rank)
    elif method == "weighted":
        for weight, ranking, strong in ((dense_weight, dense, dense_strong), (lexical_weight, lexical, lexical_strong)):
            if not ranking:
                continue
            values = [score for _, score in ranking]
            low, high = min(values), max(values)
            span = max(high, strong) - low or 1.0
            for key, value in ranking:
                fused[key] = fused.get(key, 0.0) + weight * (value - low) / span
    else:
        raise ValueError(f"unknown fusion method {method!r}: use {', '.join(FUSIONS)}")
    return sorted(fused.items(), key=lambda item: (-item[1], item[0]))
