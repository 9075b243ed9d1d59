"""One system's ranked hits on the gold questions, which evidence each hit holds, and the scores they earn."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from rag import Hit

from .gold import Question, evidence_found
from .metrics import Judged, score_questions, summarize
from .systems import System


@dataclass(frozen=True)
class Ranked:
    """One question's hits from one system, with the evidence each hit contains."""

    question: Question
    hits: tuple[Hit, ...]
    found: tuple[tuple[int, ...], ...]


@dataclass(frozen=True)
class SystemResult:
    """A system's scores on the gold questions.

    Attributes:
        system: the system evaluated.
        summary: ``{"overall": M, "zh": M, "en": M}`` (see :func:`eval.metrics.summarize`).
        scores: per answerable question, every metric.
        judged: per answerable question, which evidence each hit holds.
        ranked: every question (unanswerable ones too) with its hits.
    """

    system: System
    summary: dict[str, dict]
    scores: dict[str, dict[str, float]]
    judged: tuple[Judged, ...]
    ranked: tuple[Ranked, ...]

    @property
    def name(self) -> str:
        return self.system.name

    def missed(self, k: int) -> list[tuple[Ranked, tuple[int, ...]]]:
        """Answerable questions with evidence not in the top ``k``, with the positions missed."""
        by_id = {r.question.id: r for r in self.ranked}
        return [(by_id[j.id], gone) for j in self.judged if (gone := j.missed(k))]


def run_system(system: System, questions: Sequence[Question], k: int) -> SystemResult:
    """Ask ``system`` every question and score its answerable ones.

    Args:
        system: what to search.
        questions: gold questions (unanswerable ones are searched but not scored).
        k: hits per question.
    """
    ranked = []
    for question in questions:
        hits = tuple(system.index.search(question.question, k=k))
        ranked.append(Ranked(question, hits, tuple(evidence_found(h.text, question.evidence) for h in hits)))
    judged = tuple(Judged(r.question.id, r.question.lang, len(r.question.evidence), r.found)
                   for r in ranked if r.question.answerable)
    scores = score_questions(judged)
    return SystemResult(system, summarize(judged, scores), scores, judged, tuple(ranked))
