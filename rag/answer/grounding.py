"""Whether a cited passage supports a generated sentence: its content words and every number it states.

A model's sentence keeps its citation only when the cited sentences hold every number it states and
at least ``min_share`` of its content terms (:func:`~rag.answer.terms.claim_terms`: Chinese words,
or the glossary renderings of English ones). A sentence with neither terms nor numbers cannot be
checked and is not supported. The quoted sentence of a cited passage is the one that supports the
claim best (ties go to the one most similar to it), so a citation points at its evidence.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..chunk import split_sentences
from ..retrieve.hits import Hit
from .terms import claim_numbers, claim_terms, fold_figures

if TYPE_CHECKING:
    from ..analyze import Analyzer
    from ..embed import Encoder


@dataclass(frozen=True)
class Claim:
    """A generated sentence (markers removed) and what must be found in its cited text."""

    text: str
    terms: tuple[tuple[str, ...], ...]
    numbers: tuple[str, ...]

    @classmethod
    def of(cls, text: str, analyzer: Analyzer | None = None) -> Claim:
        return cls(text, claim_terms(text, analyzer), claim_numbers(text))

    def share(self, cited: str) -> float:
        """The share of the claim's terms found in ``cited`` (0 for a claim without terms)."""
        folded = fold_figures(cited)
        found = sum(1 for forms in self.terms if any(f in folded for f in forms))
        return found / len(self.terms) if self.terms else 0.0

    def numbers_found(self, cited: str) -> int:
        folded = fold_figures(cited)
        return sum(1 for n in self.numbers if n in folded)

    def unsupported(self, cited: str, min_share: float) -> str | None:
        """Why ``cited`` does not support the claim, or ``None`` when it does."""
        folded = fold_figures(cited)
        missing = [n for n in self.numbers if n not in folded]
        if missing:
            return f"the cited text does not state {', '.join(missing)}"
        if not self.terms:
            return None if self.numbers else "nothing in it can be checked against the cited text"
        share = self.share(cited)
        if share < min_share:
            return f"only {share:.0%} of its content words are in the cited text (at least {min_share:.0%} needed)"
        return None


def quoted_span(claim: Claim, hit: Hit, encoder: Encoder | None) -> tuple[int, int]:
    """The sentence of ``hit`` to quote for ``claim``: the best-supporting one, then the most similar."""
    spans = split_sentences(hit.text, hit.start) or [(hit.start, hit.end)]
    if len(spans) == 1:
        return spans[0]
    texts = [hit.text[s - hit.start:e - hit.start] for s, e in spans]
    if encoder is not None:
        similarity = (encoder.encode_passages(texts) @ encoder.encode_queries([claim.text])[0]).tolist()
    else:
        grams = _grams(claim.text)
        similarity = [float(len(grams & _grams(t))) for t in texts]
    scores = [(claim.numbers_found(t), claim.share(t), float(s)) for t, s in zip(texts, similarity, strict=True)]
    return spans[max(range(len(scores)), key=scores.__getitem__)]


def _grams(text: str) -> set[str]:
    """Chinese character bigrams and whole numbers/latin words: shared facts between two texts."""
    grams = {a + b for run in re.findall(r"[\u3400-\u9fff]+", text) for a, b in zip(run, run[1:], strict=False)}
    return grams | set(re.findall(r"\d+(?:\.\d+)?%?|[A-Za-z]{3,}", text))
