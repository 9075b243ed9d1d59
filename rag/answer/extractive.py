"""The extractive answer: the best-scoring sentences of the retrieved passages, quoted in reading order and cited.

Every citation's ``quote`` is exactly ``letter.text[start:end]`` and lies inside the cited passage. When
the evidence is weak (confidence below ``config.abstain_threshold``) the answer abstains and the passages
are kept as the closest, non-answering ones. Questions about subsidies, rewards, fees or support also get
a table of :class:`~rag.answer.types.SupportItem`.
"""

from __future__ import annotations

from dataclasses import replace

from .answer_type import asked_answer, missing_kind
from .figures import SUPPORT_QUESTION
from .scoring import CONTINUES, Sentence, SentenceEvidence
from .support import support_rows
from .terms import fold
from .types import ABSTAIN_EN, ABSTAIN_ZH, LEAD_EN, Answer, Citation, Note


def compose(evidence: SentenceEvidence, threshold: float, max_sentences: int = 4, keep_ratio: float = 0.75,
            max_support: int = 8, max_absent_share: float = 1.0, place_gate: bool = False,
            kind_gate: bool = False, novelty: float = 0.0, continuations: bool = False,
            kind_min_overlap: float = 0.0, field_lines: bool = False, kind_overlap_relative: bool = False) -> Answer:
    """Turn scored evidence into an :class:`Answer`: the best sentences quoted, or an abstention.

    It abstains when the confidence is below ``threshold``, or when more than ``max_absent_share`` of the question's
    content words are in no indexed passage (the question is about something else, however close a sentence's
    wording), or (``place_gate``) when the question names a place that none of the retrieved letters mentions, or
    (``kind_gate``) when the question asks for a kind of answer (an amount, a count, a date…) that none of the
    sentences it would quote from the best letter states (:mod:`.answer_type`), or none holding at least
    ``kind_min_overlap`` of the question's term weight (:func:`missing_kind_about`, :func:`kind_overlap`).
    Support-table rows' sentences are quoted after the answer's,
    each part's best (``evidence.clause_picks``) too, and with ``continuations`` a next sentence continuing one.
    """
    zh = evidence.language == "zh"
    chosen = choose_sentences(evidence, max_sentences, keep_ratio, novelty)
    # the answer-type gate reads the sentences chosen for the whole question, not a part's own pick
    leading = [s for s in chosen if s.hit.letter_id == chosen[0].hit.letter_id]
    chosen += [pick for pick in evidence.clause_picks if pick not in chosen]
    if continuations:
        chosen = with_continuations(evidence, chosen)
    needed = kind_overlap(evidence, leading, kind_min_overlap, kind_overlap_relative)
    missing = missing_kind_about(evidence.question, leading, needed, field_lines)
    off_topic = evidence.absent > max_absent_share
    elsewhere = place_gate and bool(evidence.unplaced)
    untyped = kind_gate and bool(missing)
    if not evidence.sentences or evidence.confidence < threshold or off_topic or elsewhere or untyped:
        notes = _decline_notes(evidence, off_topic, elsewhere, missing if untyped else "")
        return Answer(evidence.question, ABSTAIN_ZH if zh else ABSTAIN_EN, (), evidence.confidence, True,
                      evidence.hits, language=evidence.language, notes=notes, absent_share=evidence.absent,
                      unplaced=evidence.unplaced, missing_kind=missing)
    rows = support_rows(evidence.sentences, chosen, max_support) if SUPPORT_QUESTION.search(evidence.question) else []
    letter_rank: dict[str, int] = {}
    for sentence in chosen:
        letter_rank.setdefault(sentence.hit.letter_id, len(letter_rank))
    answering = sorted(chosen, key=lambda s: (letter_rank[s.hit.letter_id], s.start))
    answered = {_key(s) for s in chosen}
    extra = sorted({_key(s): s for s, _ in rows if _key(s) not in answered}.values(),
                   key=lambda s: (letter_rank[s.hit.letter_id], s.start))
    citations: list[Citation] = []
    paragraphs: list[str] = []
    for group in (answering, extra):  # the support table's other sentences follow the answer, in their own paragraph
        current: str | None = None
        for sentence in group:
            citation = Citation(len(citations) + 1, sentence.hit, sentence.text, sentence.start, sentence.end)
            citations.append(citation)
            piece = f"{sentence.text}[{citation.n}]"
            if sentence.hit.letter_id == current:
                paragraphs[-1] += piece
            else:
                paragraphs.append(piece)
                current = sentence.hit.letter_id
    numbers = {(c.hit.letter_id, c.start, c.end): c.n for c in citations}
    support = tuple(replace(item, citation_n=numbers[_key(sentence)]) for sentence, item in rows)
    text = "\n".join(paragraphs) if zh else "\n".join([LEAD_EN, *paragraphs])
    return Answer(evidence.question, text, tuple(citations), evidence.confidence, False, evidence.hits,
                  support=tuple(sorted(support, key=lambda item: item.citation_n)), language=evidence.language,
                  absent_share=evidence.absent, unplaced=evidence.unplaced, missing_kind=missing)


def choose_sentences(evidence: SentenceEvidence, max_sentences: int, keep_ratio: float,
                     novelty: float = 0.0) -> list[Sentence]:
    """The sentences an answer quotes: the best one, then up to ``max_sentences`` scoring at least ``keep_ratio``
    of it, each next one by its score plus ``novelty`` × the share of the question's term weight it is the first
    to hold (so that four sentences saying the same thing do not crowd out the one naming what was asked)."""
    if not evidence.sentences:
        return []
    pool = [s for s in evidence.sentences if s.score >= keep_ratio * evidence.sentences[0].score]
    if novelty <= 0 or not evidence.terms:
        return pool[:max_sentences]
    total = sum(t.weight for t in evidence.terms) or 1.0
    held = [frozenset(i for i, t in enumerate(evidence.terms) if any(f in fold(s.text) for f in t.forms))
            for s in pool]
    order = [0]
    covered = set(held[0])
    while len(order) < min(max_sentences, len(pool)):
        gains = {i: pool[i].score + novelty * sum(evidence.terms[t].weight for t in held[i] - covered) / total
                 for i in range(len(pool)) if i not in order}
        pick = max(gains, key=lambda i: gains[i])  # the first of equals: the better-ranked sentence
        order.append(pick)
        covered |= held[pick]
    return [pool[i] for i in order]


def missing_kind_about(question: str, leading: list[Sentence], min_overlap: float, field_lines: bool = False) -> str:
    """The kind of answer ``question`` asks for when none of ``leading`` states one in a sentence holding at least
    ``min_overlap`` of the question's term weight, else "".

    A figure of the right kind about another project ("the online purchase rate", asked "how much did prices
    fall") is no answer: the sentence stating it must also be about what was asked. A phone number is exempt: the
    contact line shares no word with the question by nature (fields.py). With ``field_lines``, so is any line stating
    the letter field asked for (its date, its addressee): it answers the kind asked.
    """
    if not leading or field_lines and any(s.field for s in leading):
        return ""
    kind = missing_kind(question, [s.text for s in leading])
    asked = asked_answer(question)
    if kind or asked is None or asked.kind == "phone" or min_overlap <= 0:
        return kind or ""
    return "" if any(s.overlap >= min_overlap and asked.held_by(s.text) for s in leading) else asked.kind


def kind_overlap(evidence: SentenceEvidence, leading: list[Sentence], min_overlap: float, relative: bool) -> float:
    """The share of the question's term weight a sentence stating the kind asked must hold: ``min_overlap``, or with
    ``relative`` the most any sentence of the leading letter holds, when less (a question worded unlike its letter,
    "能打几折" of "持卡用户85折优惠", is no question about another project)."""
    if not relative or not leading:
        return min_overlap
    best = max((s.overlap for s in evidence.sentences if s.hit.letter_id == leading[0].hit.letter_id), default=0.0)
    return min(min_overlap, best)


def with_continuations(evidence: SentenceEvidence, chosen: list[Sentence]) -> list[Sentence]:
    """``chosen``, each followed by the next sentence of its passage when that one continues it.

    A sentence opening with 例如, 其中, 但是… (``scoring.CONTINUES``) carries on the one before it: the example
    after "new products were first used in public hospitals", the "but there is no dedicated budget yet" after
    "canteens matter". Whatever the continued sentence says, its continuation qualifies it, so it is quoted too.
    """
    out: list[Sentence] = []
    for sentence in chosen:
        out.append(sentence)
        after = min((s for s in evidence.sentences
                     if s.hit.chunk_id == sentence.hit.chunk_id and s.start >= sentence.end),
                    key=lambda s: s.start, default=None)
        if (after is not None and CONTINUES.match(after.text) and after not in chosen and after not in out
                and not sentence.hit.text[sentence.end - sentence.hit.start:after.start - sentence.hit.start].strip()):
            out.append(after)
    return out


def _decline_notes(evidence: SentenceEvidence, off_topic: bool, elsewhere: bool, missing: str) -> tuple[Note, ...]:
    """Why the answer declines, for the user: the first gate that declined it (none for a weak confidence)."""
    if not evidence.hits:
        return (Note("no_passage"),)
    if off_topic:
        return (Note("absent_words", (f"{evidence.absent * 100:.0f}",)),)
    if elsewhere:
        return (Note("unplaced", evidence.unplaced),)
    if missing:
        return (Note("missing_kind", (missing,)),)
    return ()


def _key(sentence: Sentence) -> tuple[str, int, int]:
    return sentence.hit.letter_id, sentence.start, sentence.end
