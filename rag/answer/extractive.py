"""The extractive answer: the best-scoring sentences of the retrieved passages, quoted in reading order and cited.

Every citation's ``quote`` is exactly ``letter.text[start:end]`` and lies inside the cited passage. When
the evidence is weak (confidence below ``config.abstain_threshold``) the answer abstains and the passages
are kept as the closest, non-answering ones. Questions about subsidies, rewards, fees or support also get
a table of :class:`~rag.answer.types.SupportItem`.
"""

from __future__ import annotations

from .figures import SUPPORT_QUESTION
from .scoring import SentenceEvidence
from .support import support_table
from .types import ABSTAIN_EN, ABSTAIN_ZH, LEAD_EN, Answer, Citation, SupportItem


def compose(evidence: SentenceEvidence, threshold: float, max_sentences: int = 4, keep_ratio: float = 0.75,
            max_support: int = 8) -> Answer:
    """Turn scored evidence into an :class:`Answer`: the best sentences quoted, or an abstention."""
    zh = evidence.language == "zh"
    if not evidence.sentences or evidence.confidence < threshold:
        return Answer(evidence.question, ABSTAIN_ZH if zh else ABSTAIN_EN, (), evidence.confidence, True,
                      evidence.hits, language=evidence.language,
                      notes=("no passage matched",) if not evidence.hits else ())
    best = evidence.sentences[0].score
    chosen = [s for s in evidence.sentences if s.score >= keep_ratio * best][:max_sentences]
    letter_rank: dict[str, int] = {}
    for sentence in chosen:
        letter_rank.setdefault(sentence.hit.letter_id, len(letter_rank))
    chosen.sort(key=lambda s: (letter_rank[s.hit.letter_id], s.start))
    citations: list[Citation] = []
    paragraphs: list[str] = []
    current: str | None = None
    for sentence in chosen:
        citation = Citation(len(citations) + 1, sentence.hit, sentence.text, sentence.start, sentence.end)
        citations.append(citation)
        piece = f"{sentence.text}[{citation.n}]"
        if sentence.hit.letter_id == current:
            paragraphs[-1] += piece
        else:
            paragraphs.append(piece)
            current = sentence.hit.letter_id
    support: tuple[SupportItem, ...] = ()
    if SUPPORT_QUESTION.search(evidence.question):
        support, citations = support_table(evidence.sentences, citations, max_support)
    text = "\n".join(paragraphs) if zh else "\n".join([LEAD_EN, *paragraphs])
    return Answer(evidence.question, text, tuple(citations), evidence.confidence, False, evidence.hits,
                  support=support, language=evidence.language)
