"""Hybrid search: dense (FAISS) and lexical (BM25) rankings fused into cited hits."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import asdict, dataclass

import numpy as np

from .chunk import Chunk
from .parse import Letter

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u200b-\u200f\u2028-\u202e\ufeff]")


class BadQuery(ValueError):
    """The question or search options cannot be searched; the message says why."""


@dataclass(frozen=True)
class Filters:
    """Restrict a search. Empty fields do not filter.

    Attributes:
        letters: letter ids to search in.
        agency: substring of the agency name (e.g. ``卫生健康``).
        date_from: ISO date, inclusive; letters without a date are excluded when a range is set.
        date_to: ISO date, inclusive.
    """

    letters: tuple[str, ...] = ()
    agency: str | None = None
    date_from: str | None = None
    date_to: str | None = None

    def __bool__(self) -> bool:
        return bool(self.letters or self.agency or self.date_from or self.date_to)

    def accepts(self, letter: Letter) -> bool:
        if self.letters and letter.letter_id not in self.letters:
            return False
        if self.agency and (not letter.agency or self.agency not in letter.agency):
            return False
        if self.date_from or self.date_to:
            if not letter.date:
                return False
            if self.date_from and letter.date < self.date_from:
                return False
            if self.date_to and letter.date > self.date_to:
                return False
        return True


@dataclass(frozen=True)
class Hit:
    """One retrieved passage with everything needed to cite it.

    ``text`` is exactly ``letter.text[start:end]``; ``citation`` reads like
    ``慈卫建〔2021〕15号 · 一（二）``.
    """

    text: str
    score: float
    letter_id: str
    doc_number: str | None
    title: str | None
    agency: str | None
    date: str | None
    section: str
    start: int
    end: int
    citation: str
    chunk_id: str
    rank: int
    dense_score: float | None
    lexical_score: float | None
    path: str

    def to_dict(self) -> dict:
        return asdict(self)


def make_hit(chunk: Chunk, letter: Letter, rank: int, score: float,
             dense: float | None, lexical: float | None) -> Hit:
    return Hit(
        text=chunk.text, score=float(score), letter_id=letter.letter_id, doc_number=letter.doc_number,
        title=letter.title, agency=letter.agency, date=letter.date, section=chunk.section,
        start=chunk.start, end=chunk.end, citation=citation(letter, chunk.label), chunk_id=chunk.chunk_id,
        rank=rank, dense_score=None if dense is None else float(dense),
        lexical_score=None if lexical is None else float(lexical), path=letter.path,
    )


def single_threaded_search() -> None:
    """Run FAISS searches on one thread: a query scans too little to gain from OpenMP, and on a busy
    2-core machine its threads spin (measured: 4.5 ms with one thread, 32 ms with two). A process-wide
    setting, so it is called from the programs' ``main()`` (CLI, web app, benchmarks), never on import."""
    import faiss

    faiss.omp_set_num_threads(1)


def citation(letter: Letter, label: str) -> str:
    """``doc number · section label``, falling back to the title or file name."""
    return f"{letter.display_name} · {label}" if label else letter.display_name


def clean_question(question: str, max_chars: int) -> tuple[str, bool]:
    """Normalise a question for search: drop control characters, collapse blanks, truncate.

    Returns:
        The cleaned question and whether it was truncated.

    Raises:
        BadQuery: nothing searchable is left.
    """
    if not isinstance(question, str):
        raise BadQuery("the question must be text")
    text = _CONTROL.sub(" ", unicodedata.normalize("NFC", question))
    text = re.sub(r"\s+", " ", text).strip()
    if not text:
        raise BadQuery("the question is empty: type a question about the letters")
    truncated = len(text) > max_chars
    return text[:max_chars], truncated


def rank_of(scores: np.ndarray, allowed: np.ndarray | None, depth: int) -> list[int]:
    """Indices of the ``depth`` best positive scores (among ``allowed``), best first."""
    if allowed is not None:
        scores = np.where(allowed, scores, -np.inf)
    depth = min(depth, int(np.isfinite(scores).sum()))
    if depth <= 0:
        return []
    top = np.argpartition(-scores, depth - 1)[:depth]
    top = top[np.argsort(-scores[top], kind="stable")]
    return [int(i) for i in top if scores[i] > 0]


def fuse(
    dense: list[int], lexical: list[int], *, method: str, rrf_k: int,
    dense_weight: float, lexical_weight: float,
    dense_scores: np.ndarray | None = None, lexical_scores: np.ndarray | None = None,
) -> list[tuple[int, float]]:
    """Combine two rankings of chunk indices into one, best first.

    ``rrf``: reciprocal-rank fusion, ``Σ w / (rrf_k + rank)``. ``weighted``: weighted sum of the
    scores min-max normalised over each list. ``dense``/``lexical``: one side only.
    """
    if method == "dense":
        return [(i, float(dense_scores[i])) for i in dense] if dense_scores is not None else []
    if method == "lexical":
        return [(i, float(lexical_scores[i])) for i in lexical] if lexical_scores is not None else []
    fused: dict[int, float] = {}
    if method == "rrf":
        for weight, ranking in ((dense_weight, dense), (lexical_weight, lexical)):
            for rank, index in enumerate(ranking, start=1):
                fused[index] = fused.get(index, 0.0) + weight / (rrf_k + rank)
    elif method == "weighted":
        for weight, ranking, scores in ((dense_weight, dense, dense_scores), (lexical_weight, lexical, lexical_scores)):
            if not ranking or scores is None:
                continue
            values = scores[ranking]
            low, high = float(values.min()), float(values.max())
            span = high - low or 1.0
            for index, value in zip(ranking, values, strict=True):
                fused[index] = fused.get(index, 0.0) + weight * (float(value) - low) / span
    else:
        raise ValueError(f"unknown fusion method {method!r}: use rrf, weighted, dense or lexical")
    return sorted(fused.items(), key=lambda item: (-item[1], item[0]))
