"""Retrieval metrics with ranx: Recall@1/3/5/10, MRR@10 and nDCG@10, per question and per language.

Each evidence string of a question is one target: a question with two evidence strings asks the
system to find two things. A target's relevant document is the first hit whose text contains it
(later hits repeating it earn nothing), so every target has exactly one relevant document and the
numbers do not depend on how a system chunks the letters. A question's score is the mean over its
targets; a system's score is the mean over its answerable questions. With one evidence string
(most questions) this is the textbook definition: Recall@k says whether a relevant hit is in the top
k, MRR@10 is 1/rank of the first relevant hit, nDCG@10 is 1/log2(rank + 1).
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

METRICS = ("recall@1", "recall@3", "recall@5", "recall@10", "mrr@10", "ndcg@10")
_TARGET = "evidence"


@dataclass(frozen=True)
class Judged:
    """One question's ranked hits, judged against its evidence.

    Attributes:
        id: the question id.
        lang: ``zh`` or ``en``.
        targets: number of evidence strings.
        found: for each hit, best first, the positions of the evidence strings its text contains.
    """

    id: str
    lang: str
    targets: int
    found: tuple[tuple[int, ...], ...]

    def first_rank(self, target: int) -> int | None:
        """The 1-based rank of the first hit containing evidence ``target``, or ``None``."""
        return next((rank for rank, hit in enumerate(self.found, start=1) if target in hit), None)

    def missed(self, k: int) -> tuple[int, ...]:
        """Evidence positions not found in the top ``k`` hits."""
        return tuple(t for t in range(self.targets) if (rank := self.first_rank(t)) is None or rank > k)


def score_questions(judged: Sequence[Judged], metrics: Sequence[str] = METRICS) -> dict[str, dict[str, float]]:
    """Score each question with ranx.

    Args:
        judged: questions with at least one evidence string (unanswerable ones are left out by the caller).
        metrics: ranx metric names.

    Returns:
        ``{question id: {metric: value}}``.
    """
    from ranx import Qrels, Run, evaluate

    if not judged:
        return {}
    qrels: dict[str, dict[str, int]] = {}
    run: dict[str, dict[str, float]] = {}
    for question in judged:
        if question.targets < 1:
            raise ValueError(f"question {question.id} has no evidence: leave unanswerable questions out")
        for target in range(question.targets):
            key = f"{question.id}\t{target}"
            qrels[key] = {_TARGET: 1}
            first = question.first_rank(target)
            # strictly decreasing scores keep the system's own order; ranx sorts by score
            run[key] = {(_TARGET if rank == first else f"hit-{rank}"): float(len(question.found) - rank + 1)
                        for rank in range(1, len(question.found) + 1)}
    ranx_run = Run(run)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # numba's type-safety notes from inside ranx
        evaluate(Qrels(qrels), ranx_run, list(metrics), make_comparable=True)
    per_target = {m: dict(ranx_run.scores[m]) for m in metrics}
    out: dict[str, dict[str, float]] = {}
    for question in judged:
        keys = [f"{question.id}\t{t}" for t in range(question.targets)]
        out[question.id] = {m: sum(float(per_target[m].get(k, 0.0)) for k in keys) / len(keys) for m in metrics}
    return out


def summarize(judged: Sequence[Judged], scores: Mapping[str, Mapping[str, float]],
              languages: Sequence[str] = ("zh", "en"), metrics: Sequence[str] = METRICS) -> dict[str, dict]:
    """Mean scores overall and per language.

    Returns:
        ``{"overall": M, "zh": M, "en": M}``; each ``M`` holds every metric and ``n`` (questions
        counted). With ``n == 0`` the metrics are ``None``.
    """
    groups = {"overall": list(judged), **{lang: [q for q in judged if q.lang == lang] for lang in languages}}
    out: dict[str, dict] = {}
    for name, members in groups.items():
        values: dict[str, float | int | None] = {
            m: (sum(scores[q.id][m] for q in members) / len(members) if members else None) for m in metrics}
        values["n"] = len(members)
        out[name] = values
    return out
