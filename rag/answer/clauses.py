"""Questions asking two things at once ("能在网上办吗？走哪个平台？"), and the sentence answering each.

The answer's sentences are chosen for the whole question, whose wording is mostly the first part's; a second
question ("which platform?") then often goes unanswered although its letter says it. Each part of a question asked
in several coordinated questions gets its own best sentence, from the letter the answer quotes first.
"""

from __future__ import annotations

import re

import numpy as np

from ..analyze import Analyzer, TermStatistics
from ..config import Config
from ..embed import Encoder
from .scoring import Sentence, SentenceEvidence, sentence_overlap
from .terms import fold, question_terms
from .types import question_language

# where one question ends and the next begins: a question mark or semicolon, or a comma (English: ", and") before
# a part that asks again
_ENDS = re.compile(r"[？?；;]+")
_ZH_ASKS = re.compile(r"多少|几|哪|什么|怎么|怎样|如何|是否|吗|呢|何|谁")
_EN_SPLIT = re.compile(r",\s*(?:and\s+)?(?=(?:(?:in|on|at|by|for|from|to|with)\s+)?(?:what|which|how|when|who|whom|"
                       r"where|why|whether|is|are|was|were|does|do|did|can|will)\b)", re.I)
_ZH_COMMA = re.compile(r"[，,]")


def split_clauses(question: str) -> list[str]:
    """The questions ``question`` asks, in order: one unless it coordinates several.

    Example:
        >>> split_clauses("河北的申请能在网上办吗？走哪个平台？")
        ['河北的申请能在网上办吗', '走哪个平台']
        >>> split_clauses("Who should I contact, and on what number?")
        ['Who should I contact', 'on what number']
    """
    parts = [p.strip() for p in _ENDS.split(question) if p.strip()]
    out: list[str] = []
    for part in parts:
        if question_language(part) == "en":
            out += [p.strip() for p in _EN_SPLIT.split(part) if p.strip()]
            continue
        pieces = [p.strip() for p in _ZH_COMMA.split(part) if p.strip()]
        if len(pieces) > 1 and all(_ZH_ASKS.search(p) for p in pieces):
            out += pieces
        else:
            out.append(part)
    return out


def clause_picks(evidence: SentenceEvidence, *, encoder: Encoder, analyzer: Analyzer, statistics: TermStatistics,
                 config: Config) -> tuple[Sentence, ...]:
    """For each question ``evidence.question`` coordinates (two or more), the sentence of the best sentence's letter
    that answers it best: its dense similarity to that part (by the vectors the evidence was scored with) plus
    ``overlap_weight`` × the share of the part's terms it holds, when it holds any. None for a single question.
    """
    clauses, sentences = split_clauses(evidence.question), evidence.sentences
    if len(clauses) < 2 or not sentences:
        return ()
    letter = sentences[0].hit.letter_id
    own = [s for s in sentences if s.hit.letter_id == letter]
    queries = encoder.encode_queries(clauses)
    vectors = np.stack([evidence.vectors[(s.hit.letter_id, s.start, s.end)] for s in own])
    picks: list[Sentence] = []
    for clause, query in zip(clauses, queries, strict=True):
        terms = question_terms(clause, analyzer, statistics)
        total = sum(t.weight for t in terms) or 1.0
        similarity = np.asarray(vectors @ query, dtype=np.float64)
        scores = [float(d) + config.overlap_weight * sentence_overlap(fold(s.text), s.hit, terms, total, config)
                  for s, d in zip(own, similarity, strict=True)]
        best = own[int(np.argmax(scores))]
        # a sentence sharing no word with the part does not answer it, however close its vector
        if sentence_overlap(fold(best.text), best.hit, terms, total, config) > 0 and best not in picks:
            picks.append(best)
    return tuple(picks)
