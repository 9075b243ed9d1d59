"""Answer a question from retrieved passages: quoted sentences with verified citations, or an abstention.

The default answer is extractive and offline (:mod:`.scoring` scores the passages' sentences,
:mod:`.extractive` quotes the best). With an ``llm`` (:class:`~rag.answer.generative.LLM`) the answer is
written by a chat model and checked sentence by sentence (:mod:`.generative`). Either way it is built
from hits and plain data, never from the index: the term statistics of the indexed chunks, the letters,
an encoder for sentence scoring, and the :class:`rag.Config` settings.

Example:
    >>> hits = index.search("二类医疗器械注册有哪些补助或支持？", k=8)
    >>> print(format_answer(index.ask("二类医疗器械注册有哪些补助或支持？")))
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import replace

from ..analyze import Analyzer, TermStatistics
from ..config import Config
from ..embed import Encoder
from ..parse import Letter
from ..retrieve.hits import Hit
from .clauses import clause_picks
from .extractive import compose
from .figures import number_spans
from .generative import LLM, EndpointError, stream_answer
from .output import answer_to_dict, format_answer
from .scoring import SentenceEvidence, score_sentences
from .types import (
    ABSTAIN_EN,
    ABSTAIN_ZH,
    CLOSEST_EN,
    CLOSEST_ZH,
    LEAD_EN,
    NOTE_KINDS,
    Answer,
    Citation,
    Note,
    SupportItem,
)


def answer(question: str, hits: Sequence[Hit], *, encoder: Encoder, analyzer: Analyzer,
           statistics: TermStatistics, letters: Mapping[str, Letter], config: Config,
           llm: LLM | None = None) -> Answer:
    """Answer ``question`` from ``hits`` with cited sentences, or abstain.

    Args:
        question: the question as searched.
        hits: the retrieved passages, best first (numbered ``[1]..`` for a language model).
        encoder: scores sentences by similarity to the question.
        analyzer: segments the question and translates English terms (the glossary).
        statistics: document frequencies among the indexed chunks (the lexical store), to weigh terms.
        letters: letters by id, for how much of the question an answering letter mentions.
        config: the abstention threshold, the scoring weights and the answer's length.
        llm: a chat endpoint for a generative answer; ``None`` answers extractively (offline).

    Returns:
        The :class:`Answer`. A generative answer that cannot reach its endpoint falls back to the
        extractive one with a note saying so.
    """
    return final_answer(answer_stream(question, hits, encoder=encoder, analyzer=analyzer, statistics=statistics,
                                      letters=letters, config=config, llm=llm))


def final_answer(pieces: Iterable[str | Answer]) -> Answer:
    """The :class:`Answer` that ends a stream of draft text and answers (the draft is dropped)."""
    final: Answer | None = None
    for piece in pieces:
        if isinstance(piece, Answer):
            final = piece
    if final is None:
        raise ValueError("the answer stream ended without an Answer")
    return final


def answer_stream(question: str, hits: Sequence[Hit], *, encoder: Encoder, analyzer: Analyzer,
                  statistics: TermStatistics, letters: Mapping[str, Letter], config: Config,
                  llm: LLM | None = None) -> Iterator[str | Answer]:
    """:func:`answer`, streamed: with an ``llm``, the model's text deltas first; always a final :class:`Answer`.

    The language model is asked only when the extractive evidence clears the abstention threshold:
    weak evidence abstains either way, and a model handed passages that do not answer the question
    is the likeliest to invent one.
    """
    evidence = score_sentences(question, hits, encoder=encoder, analyzer=analyzer, statistics=statistics,
                               letters=letters, config=config)
    if config.clause_answers:
        evidence = replace(evidence, clause_picks=clause_picks(evidence, encoder=encoder, analyzer=analyzer,
                                                               statistics=statistics, config=config))
    extractive = compose(evidence, config.abstain_threshold, config.max_answer_sentences, config.answer_keep_ratio,
                         config.max_support_items, config.max_absent_share, config.place_gate,
                         config.answer_kind_gate, config.answer_novelty_weight, config.quote_continuations,
                         config.kind_min_overlap, config.field_line_answers, config.kind_overlap_relative)
    if llm is None:
        yield extractive
        return
    if extractive.abstained:
        yield replace(extractive, notes=(*extractive.notes, Note("too_weak_for_model")))
        return
    yield from stream_answer(question, hits, llm, fallback=extractive, encoder=encoder, analyzer=analyzer,
                             min_support=config.min_citation_support)


__all__ = ["ABSTAIN_EN", "ABSTAIN_ZH", "CLOSEST_EN", "CLOSEST_ZH", "LEAD_EN", "LLM", "NOTE_KINDS", "Answer",
           "Citation", "EndpointError", "Note", "SentenceEvidence", "SupportItem", "answer", "answer_stream",
           "answer_to_dict", "final_answer", "format_answer", "number_spans"]
