"""Fusing the dense and the lexical ranking: a side's best counts fully only when it is strong."""

from __future__ import annotations

import pytest

from rag.retrieve.fusion import fuse

# chunk 1: the only passage holding the question's rare exact phrase, found by BM25 alone; chunk 2: an unrelated
# passage found by the dense side alone at cosine 0.30 (the other candidates are the sides' weak tails)
DENSE = [(2, 0.30), (5, 0.12), (6, 0.10)]
LEXICAL = [(1, 14.0), (7, 3.0), (8, 2.0)]


def test_plain_min_max_makes_each_sides_best_equal_whatever_its_strength():
    fused = fuse(DENSE, LEXICAL, method="weighted")
    assert fused[0][1] == fused[1][1] == pytest.approx(1.0)


def test_a_weak_side_counts_only_as_far_as_its_strength():
    fused = fuse(DENSE, LEXICAL, method="weighted", dense_strong=0.35, lexical_strong=12.0)
    assert [key for key, _ in fused[:2]] == [1, 2]
    assert fused[0][1] == pytest.approx(1.0) and fused[1][1] == pytest.approx(0.2 / 0.25)
    # a side at or above its strong score is normalised as before
    assert fuse(DENSE, LEXICAL, method="weighted", dense_strong=0.3, lexical_strong=14.0) == \
        fuse(DENSE, LEXICAL, method="weighted")
