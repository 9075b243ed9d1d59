"""Generative answers from any OpenAI-compatible chat endpoint, every sentence's citations checked.

The model is given the retrieved passages numbered ``[1]..[k]`` and told to end every sentence with
the numbers of the passages it comes from. Its reply is then checked sentence by sentence: a sentence
with no citation, or citing a passage that does not exist, is flagged in ``Answer.notes`` and dropped.
Each remaining citation quotes the sentence of the cited passage closest to what the model wrote, so
``Citation.quote`` is always real letter text at the stated offsets. An unreachable endpoint (or a
reply with nothing left after checking) falls back to the extractive answer with a note saying so.

Streaming, for a UI::

    from rag import LLM

    for piece in index.ask_stream(question, k=8, llm=LLM("http://localhost:11434/v1", "qwen2.5")):
        if isinstance(piece, str):
            draft += piece            # unchecked text as the model writes it: show it as a draft
        else:
            final = piece             # the checked Answer, always the last item: replace the draft

:func:`stream_answer` needs no index: only the question, the hits, the endpoint and optionally the
extractive answer to fall back on and an encoder to pick the quoted sentences (without one, quotes
are picked by shared characters and numbers). :func:`rag.answer.answer_stream` calls it.
The endpoint's client, with its deadline and size caps, is :mod:`.endpoint`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

from ..retrieve.hits import Hit
from .endpoint import LLM, EndpointError, ReplyCut, stream_chat
from .grounding import Claim, quoted_span
from .instructions import addresses_reader, without_instructions
from .types import ABSTAIN_EN, ABSTAIN_ZH, Answer, Citation, SupportItem, question_language

if TYPE_CHECKING:
    from ..analyze import Analyzer
    from ..embed import Encoder

NO_ANSWER = "NO_ANSWER"
_MARKERS = re.compile(r"\[\s*(\d+(?:\s*[,，、;]\s*\d+)*)\s*\]")
_SENTENCE = re.compile(
    r"[^\n]*?(?:[。！？!?]+[”’」』）)]*|\.(?=\s|$)|$)(?:\s*\[\s*\d+(?:\s*[,，、;]\s*\d+)*\s*\])*")

SYSTEM_PROMPT = (
    "You answer questions about Chinese government reply letters (答复函), using only the numbered passages given.\n"
    "Rules:\n"
    "1. End every sentence with the number of the passage it comes from, in square brackets, like [2] or [1][3]. "
    "A sentence without a citation will be deleted.\n"
    "2. Cite only passage numbers that exist. State only what the passages say; copy amounts, rates, caps, dates "
    "and names exactly.\n"
    "3. Be brief: a few sentences. Answer in {language}.\n"
    f"4. If the passages do not answer the question, reply with exactly: {NO_ANSWER}"
)


def build_messages(question: str, hits: Sequence[Hit]) -> list[dict[str, str]]:
    """The chat messages: the rules, then the numbered passages and the question."""
    language = "Chinese (简体中文)" if question_language(question) == "zh" else "English"
    passages = []
    for n, hit in enumerate(hits, start=1):
        source = ", ".join(x for x in (hit.agency, hit.date) if x)
        # a letter's sentences telling the reader what to answer or cite are no evidence, and not shown to the model
        passages.append(f"[{n}] {hit.citation}{f' ({source})' if source else ''}\n{without_instructions(hit.text)}")
    user = "Passages:\n\n" + "\n\n".join(passages) + f"\n\nQuestion: {question}"
    return [{"role": "system", "content": SYSTEM_PROMPT.format(language=language)},
            {"role": "user", "content": user}]


def stream_answer(question: str, hits: Sequence[Hit], llm: LLM, fallback: Answer | None = None,
                  encoder: Encoder | None = None, analyzer: Analyzer | None = None,
                  min_support: float = 0.5) -> Iterator[str | Answer]:
    """Stream a generative answer: the model's text deltas (``str``), then the checked :class:`Answer`.

    Args:
        question: the question.
        hits: the passages, numbered ``[1]..[len(hits)]`` in the prompt.
        llm: the endpoint.
        fallback: the extractive answer, returned (with a note) when the endpoint fails or nothing
            survives checking; its support table is carried over.
        encoder: picks each citation's quoted sentence by similarity (default: shared characters).
        analyzer: finds the content words a cited sentence must hold (see :func:`check_answer`).
        min_support: the share of them it must hold.

    Yields:
        Text deltas as they arrive, then exactly one :class:`Answer` (``mode="generative"`` unless it fell back).
    """
    hits = tuple(hits)
    parts: list[str] = []
    notes: list[str] = []
    try:
        for delta in stream_chat(llm, build_messages(question, hits)):
            parts.append(delta)
            yield delta
    except ReplyCut as exc:
        notes.append(f"{exc}; the sentences before the cut were checked")
    except EndpointError as exc:
        yield _fall_back(question, hits, fallback, f"the language model was not used: {exc}; "
                                                   "showing the extractive answer")
        return
    yield check_answer(question, "".join(parts), hits, fallback=fallback, encoder=encoder, analyzer=analyzer,
                       min_support=min_support, notes=notes)


def check_answer(question: str, text: str, hits: Sequence[Hit], fallback: Answer | None = None,
                 encoder: Encoder | None = None, analyzer: Analyzer | None = None, min_support: float = 0.5,
                 notes: Sequence[str] = ()) -> Answer:
    """Check a model's reply sentence by sentence and attach verified quotes.

    Sentences without a citation, citing a passage number outside ``1..len(hits)``, or whose cited
    sentences do not support them (:mod:`.grounding`: every number, at least ``min_support`` of the
    content words) are dropped and named in ``notes``. Citations are renumbered in order of first
    use; each quotes the sentence of the cited passage that best supports the model's sentence.

    Args:
        question: the question.
        text: the model's reply.
        hits: the passages it was given, numbered from 1.
        fallback: the extractive answer, returned (with the notes) when no sentence survives.
        encoder: breaks ties between equally supporting sentences by similarity.
        analyzer: finds the content words (default: Chinese character bigrams).
        min_support: the share of content words the cited sentences must hold (``Config.min_citation_support``).
        notes: notes from earlier steps (e.g. the reply was cut), kept first.
    """
    hits = tuple(hits)
    language = question_language(question)
    notes = list(notes)
    if text.strip().rstrip(".。").upper() == NO_ANSWER:
        return Answer(question, ABSTAIN_ZH if language == "zh" else ABSTAIN_EN, (),
                      fallback.confidence if fallback else 0.0, True, hits, notes=(*notes, "the model found no "
                      "answer in the passages"), mode="generative", language=language)
    citations: list[Citation] = []
    pieces: list[str] = []
    for claim, numbers in _cited_claims(text, len(hits), notes):
        checked = Claim.of(claim, analyzer)
        spans = [(hits[n - 1], *quoted_span(checked, hits[n - 1], encoder)) for n in numbers]
        quotes = [hit.text[s - hit.start:e - hit.start] for hit, s, e in spans]
        reason = ("the cited sentence tells the reader what to answer; it is no evidence"
                  if any(addresses_reader(q) for q in quotes) else checked.unsupported("\n".join(quotes), min_support,
                                                                                       analyzer))
        if reason is not None:
            cited = ", ".join(f"[{n}]" for n in numbers)
            notes.append(f"dropped a sentence that its citation {cited} does not support ({reason}): {claim[:80]}")
            continue
        markers = []
        for hit, start, end in spans:
            citation = next((c for c in citations if (c.hit.chunk_id, c.start, c.end) == (hit.chunk_id, start, end)),
                            None)
            if citation is None:
                citation = Citation(len(citations) + 1, hit, hit.text[start - hit.start:end - hit.start], start, end)
                citations.append(citation)
            markers.append(f"[{citation.n}]")
        pieces.append(claim + "".join(markers))
    if not pieces:
        return _fall_back(question, hits, fallback, "the model's answer had no sentence with a valid citation that "
                                                    "supports it; showing the extractive answer", earlier=notes)
    shown = len(citations)
    support, citations = _carry_support(fallback, citations)
    joined = "".join(pieces) if language == "zh" else " ".join(pieces)
    if len(citations) > shown:  # the support table's other sentences, quoted so every number is in the text
        joined += "\n" + "".join(f"{c.quote}[{c.n}]" for c in citations[shown:])
    confidence = fallback.confidence if fallback is not None else 1.0
    return Answer(question, joined, tuple(citations), confidence, False, hits, support=support,
                  notes=tuple(notes), mode="generative", language=language)


def _cited_claims(text: str, passages: int, notes: list[str]) -> list[tuple[str, list[int]]]:
    """The reply's sentences with the passage numbers they cite; the others are noted in ``notes`` and left out."""
    kept: list[tuple[str, list[int]]] = []
    for sentence in split_reply(text):
        claim = _MARKERS.sub("", sentence).strip()
        numbers = [int(n) for group in _MARKERS.findall(sentence) for n in re.split(r"[,，、;]", group) if n.strip()]
        if not claim or claim.upper().startswith(NO_ANSWER):
            continue
        if not numbers:
            notes.append(f"dropped a sentence without a citation: {claim[:80]}")
            continue
        invented = sorted({n for n in numbers if not 1 <= n <= passages})
        if invented:
            notes.append(f"dropped a sentence citing passage {', '.join(f'[{n}]' for n in invented)}, "
                         f"which does not exist (there are {passages}): {claim[:80]}")
            continue
        kept.append((claim, list(dict.fromkeys(numbers))))
    return kept


def split_reply(text: str) -> list[str]:
    """A model reply's sentences, each with the citation markers that follow it."""
    return [m.group().strip() for m in _SENTENCE.finditer(text) if m.group().strip()]


def _carry_support(fallback: Answer | None,
                   citations: list[Citation]) -> tuple[tuple[SupportItem, ...], list[Citation]]:
    """The extractive support table, its citations appended to (or shared with) the generative ones."""
    if fallback is None or not fallback.support:
        return (), citations
    by_n = {c.n: c for c in fallback.citations}
    items = []
    for item in fallback.support:
        source = by_n[item.citation_n]
        same = next((c for c in citations if (c.hit.chunk_id, c.start, c.end) ==
                     (source.hit.chunk_id, source.start, source.end)), None)
        if same is None:
            same = replace(source, n=len(citations) + 1)
            citations.append(same)
        items.append(replace(item, citation_n=same.n))
    return tuple(items), citations


def _fall_back(question: str, hits: tuple[Hit, ...], fallback: Answer | None, note: str,
               earlier: Sequence[str] = ()) -> Answer:
    if fallback is not None:
        return replace(fallback, notes=(*fallback.notes, *earlier, note))
    language = question_language(question)
    return Answer(question, ABSTAIN_ZH if language == "zh" else ABSTAIN_EN, (), 0.0, True, hits,
                  notes=(*earlier, note), mode="generative", language=language)


__all__ = ["LLM", "NO_ANSWER", "SYSTEM_PROMPT", "EndpointError", "ReplyCut", "build_messages", "check_answer",
           "split_reply", "stream_answer", "stream_chat"]
