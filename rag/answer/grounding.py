"""Whether a cited passage supports a generated sentence: its content words and every number it states.

A model's sentence keeps its citation only when the cited sentences hold every number it states and
at least ``min_share`` of its content terms (:func:`~rag.answer.terms.claim_terms`: Chinese words,
or the glossary renderings of English ones). A sentence with neither terms nor numbers cannot be
checked and is not supported. The quoted sentence of a cited passage is the one that supports the
claim best (ties go to the one most similar to it), so a citation points at its evidence.

Holding the same words and numbers is not saying the same thing: "…资质不给予专项支持" cites "…资质给予专项支持",
"不超过400万，最高8%" cites "不超过8%，最高400万". So a word the claim negates must be negated in the cited text too
(and one it asserts, asserted there), and each quantity keeps its unit and the bound word written before it
("最高", "不超过": the model is told to copy them exactly; leaving a bound out is no contradiction).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..chunk import split_sentences
from ..retrieve.hits import Hit
from .instructions import addresses_reader
from .terms import claim_numbers, claim_terms, fold_figures

if TYPE_CHECKING:
    from ..analyze import Analyzer
    from ..embed import Encoder


# A word negating the words after it ("不给予", "不予支持", "尚未纳入"), as a token of its own: jieba keeps
# 不断, 非常, 无锡 whole, so only a standalone negation counts (without an analyzer, each Chinese character is a
# token; both texts are segmented alike, so what a character-level reading gets wrong it gets wrong in both)
_NEGATIONS = frozenset("不 未 没 无 非 勿 别 否 不予 未予 不再 尚未 并未 从未 未能 无法 无须 无需 不能 不得 不会 "
                       "不可 不宜 并非 不是 不用".split())
_CJK = re.compile(r"[\u3400-\u9fff]")
_NEGATED_BOUND = re.compile(r"不超过|不低于|不少于|不高于|不多于|不足")
_CLAUSE_END = re.compile(r"[，,；;。！？!?：:\n]")  # a negation reaches to the end of its clause (a list's 、 included)
# a quantity: the bound written before a number, the number, its unit (元 after a magnitude says nothing more)
_QUANTITY = re.compile(r"(不超过|不低于|不少于|不高于|不多于|不足|最高|最低|最多|最少|至少|至多|上限为?|封顶|"
                       r"超过|低于|高于|约|近|逾)?(\d+(?:\.\d+)?)(%|万亿|亿|万|千|百|倍|折)?")


def _quantities(folded: str) -> set[tuple[str, str, str]]:
    return {(m.group(1) or "", m.group(2), m.group(3) or "") for m in _QUANTITY.finditer(folded)}


def _polarities(text: str, analyzer: Analyzer | None) -> tuple[set[str], set[str]]:
    """The words of ``text`` stated (asserted) and those after a negation in its clause (negated: "不再向企业收取费用"
    negates 企业, 收取 and 费用), by the same segmentation for both texts compared."""
    asserted: set[str] = set()
    negated: set[str] = set()
    # a bound ("不超过8%") negates nothing: the quantities are compared with their bounds on their own
    for clause in _CLAUSE_END.split(_NEGATED_BOUND.sub(" ", fold_figures(text))):
        tokens = analyzer.tokens(clause, search_mode=False) if analyzer is not None else _CJK.findall(clause)
        negating = False
        for token in tokens:
            if token in _NEGATIONS:
                negating = True
            else:
                (negated if negating else asserted).add(token)
    return asserted, negated


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

    def unsupported(self, cited: str, min_share: float, analyzer: Analyzer | None = None) -> str | None:
        """Why ``cited`` does not support the claim, or ``None`` when it does.

        Args:
            cited: the text of the cited sentences.
            min_share: the share of the claim's content words ``cited`` must hold.
            analyzer: segments both texts to compare what they negate (default: character by character).
        """
        folded = fold_figures(cited)
        missing = [n for n in self.numbers if n not in folded]
        if missing:
            return f"the cited text does not state {', '.join(missing)}"
        if not self.terms:
            return None if self.numbers else "nothing in it can be checked against the cited text"
        share = self.share(cited)
        if share < min_share:
            return f"only {share:.0%} of its content words are in the cited text (at least {min_share:.0%} needed)"
        return self._misquoted(cited, analyzer)

    def _misquoted(self, cited: str, analyzer: Analyzer | None) -> str | None:
        """Why ``cited``, holding the claim's words and numbers, still says something else, or ``None``."""
        stated, denied = _polarities(cited, analyzer)
        asserted, negated = _polarities(self.text, analyzer)
        flipped = sorted(w for w in negated if w in stated and w not in denied)
        flipped += sorted(w for w in asserted if w in denied and w not in stated)
        if flipped:
            return f"it negates what the cited text states, or states what it negates ({', '.join(flipped[:5])})"
        if not _CJK.search(self.text):  # an English claim writes its bounds and units in words
            return None
        found = _quantities(fold_figures(cited))
        unbound = {(n, unit) for _, n, unit in found}  # a claim may leave a bound out ("可达30万元"), not change it
        changed = [f"{bound}{n}{unit}" for bound, n, unit in sorted(_quantities(fold_figures(self.text)))
                   if (bound, n, unit) not in found and (bound or unit and (n, unit) not in unbound)]
        if changed:
            return f"the cited text does not state {', '.join(changed)} so (another bound or unit for the number)"
        return None


def quoted_span(claim: Claim, hit: Hit, encoder: Encoder | None) -> tuple[int, int]:
    """The sentence of ``hit`` to quote for ``claim``: the best-supporting one, then the most similar; a sentence
    instructing the reader (:mod:`.instructions`) only when there is no other."""
    spans = split_sentences(hit.text, hit.start) or [(hit.start, hit.end)]
    spans = [(s, e) for s, e in spans if not addresses_reader(hit.text[s - hit.start:e - hit.start])] or spans
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
