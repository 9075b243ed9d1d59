"""Scoring the sentences of retrieved passages against a question, and how strongly they answer it.

Each sentence is scored by its dense similarity to the question, the share of the question's terms it
holds (rarer terms weigh more) and whether it carries the kind of figure asked for. The evidence
confidence mixes the best similarity with how much of the question the answering letter mentions at all:
a question about a city, product or scheme that letter never names is not answered by it, however
similar the wording. Every weight is a named setting in :class:`rag.Config`.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from ..analyze import Analyzer, TermStatistics
from ..chunk import split_sentences
from ..config import Config
from ..embed import Encoder
from ..parse import Letter, reply_start
from ..retrieve.hits import Hit
from .answer_type import lists_answers
from .fields import asked_fields, field_line_hit, field_values, line_fields, states_field
from .figures import EXACT_CUES, wanted_figures
from .instructions import addresses_reader
from .places import bundled as bundled_places
from .terms import Term, absent_share, fold, grounded_terms, question_terms, spelled_terms
from .types import question_language

_CJK = re.compile(r"[\u3400-\u9fff]")
# Acknowledgements and courtesy: they restate the question, never answer it.
_BOILERPLATE = re.compile(r"收悉|答复如下|回复如下|函告如下|感谢您|感谢你|您提出的|你提出的|提出的《|办理情况征询")
# A reply's opening and closing formulae: letter furniture, never evidence ("你们提出的…收悉，现答复如下", "此复")
_FORMULA = re.compile(r"收悉|(?:答复|回复|函复|函告)如下|感谢(?:您|你)|此复|特此(?:函复|答复|回复|复函)")
# A question about the proposal itself (its session, its number, its authors): the opening formula restates it
_PROPOSAL = re.compile(r"建议|提案|议案|\b(?:proposals?|suggestions?|motions?)\b", re.IGNORECASE)
# A sentence opening with these continues the one before it and inherits some of its relevance.
CONTINUES = re.compile(r"^(?:例如|比如|譬如|其中|具体(?:来说|而言)?|但是|但|不过|然而|因此|所以|对此)")


@dataclass(frozen=True)
class Sentence:
    """A candidate sentence of a retrieved passage, with the scores that ranked it."""

    hit: Hit
    start: int
    end: int
    text: str
    dense: float
    overlap: float
    cue: float
    score: float
    field: bool = False  # states the letter field the question asks for (fields.py)


@dataclass(frozen=True)
class SentenceEvidence:
    """The scored sentences of the retrieved passages, best first, and how well they cover the question."""

    question: str
    language: str
    hits: tuple[Hit, ...]
    sentences: tuple[Sentence, ...] = ()  # best first
    coverage: float = 0.0  # weighted share of the question's terms found in the best sentences' letter
    confidence: float = 0.0
    terms: tuple[Term, ...] = field(default=(), repr=False)
    absent: float = 0.0  # share of the question's content words in no indexed chunk (terms.absent_share)
    unplaced: tuple[str, ...] = ()  # places the question names that no retrieved letter mentions (places.py)
    # for a question asking several things at once, the sentence answering each part best (clauses.py)
    clause_picks: tuple[Sentence, ...] = ()
    # each sentence's passage vector, by (letter id, start, end): the parts of a question are scored against them
    vectors: Mapping[tuple[str, int, int], np.ndarray] = field(default_factory=dict, repr=False, compare=False)


def score_sentences(question: str, hits: Sequence[Hit], *, encoder: Encoder, analyzer: Analyzer,
                    statistics: TermStatistics, letters: Mapping[str, Letter], config: Config) -> SentenceEvidence:
    """Split the hits into sentences and score each against the question.

    Args:
        question: the question as searched.
        hits: the retrieved passages, best first.
        encoder: embeds the question and the sentences.
        analyzer: segments the question (and translates English terms through the glossary).
        statistics: document frequencies of words among the indexed chunks, to weigh question terms.
        letters: the letters by id (a question term found anywhere in the answering letter counts).
        config: the scoring and confidence weights.
    """
    language = question_language(question)
    hits = tuple(hits)
    bridged = config.bridge_candidates if config.bridge_weight > 0 else 0
    terms, ranking, spelled = _terms(question, hits, analyzer, statistics, letters, config)
    absent = absent_share(question, analyzer, statistics, bridged, [h.text for h in hits])
    unplaced = unmentioned_places(question, hits, letters)
    if unplaced and (spelled or local_names_found(question, hits, letters, analyzer)):
        unplaced = ()  # the question names a village, a town or a county the letters found name: it is theirs
    source = placed_hits(question, hits, letters) if config.place_bound_sentences else hits
    asked = asked_fields(question, language, broad=config.broad_field_cues, dated=config.letter_date_field,
                         result=config.result_field, numbered=config.proposal_number_field,
                         replying=config.agency_field, consulted=config.consulted_field)
    candidates = _candidates(source)
    if not candidates:
        return SentenceEvidence(question, language, hits, terms=terms, absent=absent, unplaced=unplaced)
    vectors = encoder.encode_passages([text for *_, text in candidates])
    query = encoder.encode_queries([question])[0]
    similarities = np.asarray(vectors @ query, dtype=np.float64).tolist()
    sentences = _scored(question, candidates, similarities, ranking, config, {})
    if asked:
        about = _field_letters(question, source, sentences, spelled, letters, config)
        values = {lid: field_values(letters.get(lid), asked) for lid in about}
        if config.field_line_passages:
            lines = _field_lines(candidates, {lid: field_values(letters.get(lid), line_fields(asked)) for lid in about},
                                 letters, len(hits))
            if lines:
                candidates += lines
                vectors = np.vstack([vectors, encoder.encode_passages([t for *_, t in lines])])
                similarities = np.asarray(vectors @ query, dtype=np.float64).tolist()
        sentences = _scored(question, candidates, similarities, ranking, config, values)
    total = sum(t.weight for t in terms) or 1.0
    # the question's coverage by the letters of the leading sentences: the best one may come from a neighbour
    leading = {lid: fold(letters[lid].text) for lid in dict.fromkeys(s.hit.letter_id for s in sentences[:3])}
    coverage = max(sum(t.weight for t in terms if any(f in text for f in t.forms)) / total
                   for text in leading.values()) if terms else 0.0
    # a field line ("2021年6月30日", "李佳代表：") shares no word with the question by nature: the evidence is judged by
    # the best sentence as it would rank without the field's weight
    lead = max(sentences, key=lambda s: s.score - config.field_weight * s.field) if config.field_line_answers \
        else sentences[0]
    overlap = lead.overlap if ranking is terms else sentence_overlap(fold(lead.text), lead.hit, terms, total, config)
    confidence = evidence_confidence(max(s.dense for s in sentences), coverage, overlap, config)
    spans = {(h.letter_id, a, b): v for (h, a, b, _), v in zip(candidates, vectors, strict=True)}
    # a question asking for the letter's fields (its 文号, date, proposer) is answered by its header and formulae
    quoted = tuple(sentences) if asked else _without_furniture(question, sentences, source, letters, config)
    return SentenceEvidence(question, language, hits, quoted, coverage, confidence, terms, absent, unplaced,
                            vectors=spans)


def _field_letters(question: str, source: Sequence[Hit], sentences: Sequence[Sentence], spelled: Sequence[Term],
                   letters: Mapping[str, Letter], config: Config) -> set[str]:
    """The letters whose fields answer a field question: the one asked about (naming the place named, and the names
    spelled in pinyin; else the best hit's: another letter's contact line answers another question) and the letter
    of the sentence most about the question (dense similarity plus term share, no field or figure weight)."""
    naming = _naming_letters(question, source, letters) if config.place_bound_sentences else []
    if config.named_field_letter and spelled:  # "Qiu Youfu's proposal": the letter naming 仇有福
        named = _spelling_letters(spelled, source, letters)
        naming = [lid for lid in naming if lid in named] or naming or named
    about = {naming[0] if naming else source[0].letter_id}
    if config.field_letter_by_sentence:
        pool = [s for s in sentences if s.hit.letter_id in naming] or sentences
        about.add(max(pool, key=lambda s: s.dense + config.overlap_weight * s.overlap).hit.letter_id)
    return about


def _terms(question: str, hits: Sequence[Hit], analyzer: Analyzer, statistics: TermStatistics,
           letters: Mapping[str, Letter], config: Config,
           ) -> tuple[tuple[Term, ...], tuple[Term, ...], tuple[Term, ...]]:
    """The question's terms that judge the evidence, those that rank its sentences (equal without the bridge), and
    the names among them it spells in pinyin."""
    if not hits:
        return (), (), ()
    terms = question_terms(question, analyzer, statistics)
    # words only the bridge knows help pick the sentence, as the best letter renders them; they do not judge the
    # evidence (a dictionary sense found in some letter says little about whether it answers)
    best = letters.get(hits[0].letter_id)
    grounded = grounded_terms(question, analyzer, statistics, best.text if best else hits[0].text, terms,
                              config.bridge_term_share) if config.bridge_terms else ()
    ranking = terms + grounded if grounded else terms
    spelled: tuple[Term, ...] = ()
    if config.pinyin_names and question_language(question) == "en":  # "Wacaochong": 瓦草冲 in a retrieved letter
        spelled = spelled_terms(question, letter_texts(hits, letters), analyzer, statistics)
        same = ranking is terms
        terms += spelled
        ranking = terms if same else ranking + spelled
    return terms, ranking, spelled


def _spelling_letters(spelled: Sequence[Term], hits: Sequence[Hit], letters: Mapping[str, Letter]) -> list[str]:
    """The hits' letters, best first, that hold every name the question spells in pinyin."""
    folded = {lid: fold(letters[lid].text) for lid in dict.fromkeys(h.letter_id for h in hits) if lid in letters}
    return [lid for lid, text in folded.items() if all(any(f in text for f in t.forms) for t in spelled)]


def _naming_letters(question: str, hits: Sequence[Hit], letters: Mapping[str, Letter]) -> list[str]:
    """The hits' letters, best first, that name every place ``question`` names (none when it names none): a letter
    naming no place is kept by :func:`placed_hits`, but the Xuanzhou proposal's number is the Xuanzhou letter's."""
    gazetteer = bundled_places()
    named = gazetteer.named(question)
    return [lid for lid in dict.fromkeys(h.letter_id for h in hits)
            if named and lid in letters and all(gazetteer.mentioned(p, [letters[lid].text]) for p in named)]


def unmentioned_places(question: str, hits: Sequence[Hit], letters: Mapping[str, Letter]) -> tuple[str, ...]:
    """The places ``question`` names (as written) that none of the hits' letters mentions, nor any place inside
    (:meth:`Gazetteer.missing`: none when the best hit's letter names no place at all)."""
    return tuple(place.written for place in bundled_places().missing(question, letter_texts(hits, letters)))


_LOCAL_DIVISIONS = "村镇县"


def local_names_found(question: str, hits: Sequence[Hit], letters: Mapping[str, Letter], analyzer: Analyzer) -> bool:
    """Whether a Chinese ``question`` names a village, a town or a county (two or three characters before 村, 镇, 县,
    not a word such as 农村 or 城镇) that one of the hits' letters names too: the gazetteer lists provinces, cities
    and districts, a letter knows its own villages."""
    question = unicodedata.normalize("NFKC", question)
    names = [question[at - n:at + 1] for at, c in enumerate(question) if c in _LOCAL_DIVISIONS
             and not analyzer.knows(question[at - 1:at + 1]) for n in (2, 3) if at >= n]
    names = [n for n in names if all("\u4e00" <= c <= "\u9fff" for c in n)]
    return bool(names) and any(name in text for text in letter_texts(hits, letters) for name in names)


def letter_texts(hits: Sequence[Hit], letters: Mapping[str, Letter]) -> list[str]:
    """The texts of the hits' letters, each once, in the hits' order."""
    return [letters[lid].text for lid in dict.fromkeys(h.letter_id for h in hits) if lid in letters]


def placed_hits(question: str, hits: Sequence[Hit], letters: Mapping[str, Letter]) -> tuple[Hit, ...]:
    """The hits whose letter is not about somewhere else than a place ``question`` names (:meth:`Gazetteer.elsewhere`);
    all of them when the question names none, or when every letter is (the place gate judges that case).

    "How much central budget money did the Laiwu park receive?" is not answered by a Haikou letter's sum, however
    alike the wording: the sentences answering a question about a place come from letters about that place.
    """
    gazetteer = bundled_places()
    named = gazetteer.named(question)
    if not named:
        return tuple(hits)
    away = {lid: any(gazetteer.elsewhere(place, letters[lid].text) for place in named)
            for lid in {h.letter_id for h in hits} if lid in letters}
    placed = tuple(h for h in hits if not away.get(h.letter_id, False))
    return placed or tuple(hits)


def _field_lines(candidates: Sequence[tuple[Hit, int, int, str]], values: Mapping[str, tuple[str, ...]],
                 letters: Mapping[str, Letter], rank: int) -> list[tuple[Hit, int, int, str]]:
    """For each letter asked about whose candidates state none of its field values, the letter's line stating one
    (:func:`~rag.answer.fields.field_line_hit`): (hit, start, end, text)."""
    out: list[tuple[Hit, int, int, str]] = []
    for lid, folded in values.items():
        if folded and not any(h.letter_id == lid and states_field(fold(t), folded) for h, _, _, t in candidates):
            hit = field_line_hit(letters.get(lid), folded, rank + len(out))
            if hit is not None:
                out.append((hit, hit.start, hit.end, hit.text))
    return out


def _without_furniture(question: str, sentences: Sequence[Sentence], hits: Sequence[Hit],
                       letters: Mapping[str, Letter], config: Config) -> tuple[Sentence, ...]:
    """``sentences`` without the letter furniture: a sentence in the letter's header or its greeting
    (before :func:`~rag.parse.reply_start`), the letter's title, or an opening or closing formula ("…收悉，现答复如下",
    "感谢您对…的关心", "此复"). It names the letter or restates the question: it weighs in the evidence's
    confidence (the letter is about the question) but is never quoted (a question asking for the letter's fields
    quotes them all). A formula is evidence only of the proposal it restates: a question
    about the proposal keeps it, and so does one asking which departments when it lists several
    (``lists_answers``)."""
    starts = {lid: reply_start(letters[lid].text) for lid in dict.fromkeys(h.letter_id for h in hits) if lid in letters}
    about_proposal = bool(_PROPOSAL.search(question))

    def furniture(s: Sentence) -> bool:
        if s.start < starts.get(s.hit.letter_id, 0) or s.hit.title and s.text.strip() == s.hit.title.strip():
            return True
        return (not about_proposal and bool(_FORMULA.search(s.text))
                and not (config.spare_listing_sentences and lists_answers(question, s.text)))

    return tuple(s for s in sentences if not furniture(s))


def _candidates(hits: Sequence[Hit]) -> list[tuple[Hit, int, int, str]]:
    """Each distinct sentence of the hits that holds Chinese text or a figure and is no instruction to the reader
    (:mod:`.instructions`): (hit, start, end, text)."""
    candidates: list[tuple[Hit, int, int, str]] = []
    seen: set[tuple[str, int, int]] = set()
    for hit in hits:
        for start, end in split_sentences(hit.text, hit.start):
            key = (hit.letter_id, start, end)
            text = hit.text[start - hit.start:end - hit.start]
            if key in seen or not _CJK.search(text) and not any(c.isdigit() for c in text) or addresses_reader(text):
                continue
            seen.add(key)
            candidates.append((hit, start, end, text))
    return candidates


def _scored(question: str, candidates: Sequence[tuple[Hit, int, int, str]], similarities: Sequence[float],
            terms: Sequence[Term], config: Config, fields: Mapping[str, tuple[str, ...]]) -> list[Sentence]:
    """The candidates scored (see the module docstring), best first; ``fields`` are the folded values, per
    letter id, of the letter fields the question asks for (a sentence stating one gains ``field_weight``)."""
    wanted = wanted_figures(question)
    cue_weight = config.exact_cue_weight if wanted and wanted[0] in EXACT_CUES else config.cue_weight
    total = sum(t.weight for t in terms) or 1.0
    sentences: list[Sentence] = []
    previous: Sentence | None = None
    for (hit, start, end, text), similarity in zip(candidates, similarities, strict=True):
        folded = fold(text)
        overlap = sentence_overlap(folded, hit, terms, total, config)
        if previous is not None and previous.hit is hit and CONTINUES.match(text):
            overlap = max(overlap, config.continuation_share * previous.overlap)
        cue = sum(1.0 for p in wanted if p.search(text)) / len(wanted) if wanted else 0.0
        # a sentence listing the departments asked for is no mere courtesy, whatever its opening ("经与甲局、乙委研究，
        # 现答复如下")
        listing = config.spare_listing_sentences and lists_answers(question, text)
        penalty = config.boilerplate_penalty if _BOILERPLATE.search(text) and not listing else 0.0
        if len(_CJK.findall(text)) < config.fragment_chars and not cue:
            penalty += config.fragment_penalty  # a heading or a fragment
        field = config.field_weight if states_field(folded, fields.get(hit.letter_id, ())) else 0.0
        score = (similarity + config.overlap_weight * overlap + cue_weight * cue + field
                 + config.rank_bonus / (1 + hit.rank) - penalty)
        previous = Sentence(hit, start, end, text, float(similarity), overlap, cue, float(score), field > 0)
        sentences.append(previous)
    return sorted(sentences, key=lambda s: -s.score)


def sentence_overlap(folded: str, hit: Hit, terms: Sequence[Term], total: float, config: Config) -> float:
    """The weighted share of ``terms`` a (folded) sentence holds; a term only in its passage's heading or
    letter's title still ties the sentence to the question, less so."""
    context = fold(" ".join(x for x in (hit.section, hit.title, hit.agency, hit.doc_number) if x))
    return sum(t.weight * (1.0 if any(f in folded for f in t.forms) else
                           config.heading_term_share if any(f in context for f in t.forms) else 0.0)
               for t in terms) / total


def evidence_confidence(dense: float, coverage: float, overlap: float, config: Config) -> float:
    """Evidence strength in [0, 1] from the best sentence similarity, the share of the question the
    answering letter mentions and the share the best sentence mentions; 1 at ``confidence_full_similarity``
    with the whole question found in both (weights calibrated with the threshold, see eval/answers.py)."""
    full = (config.confidence_dense_weight * config.confidence_full_similarity
            + config.confidence_coverage_weight + config.confidence_overlap_weight)
    raw = (config.confidence_dense_weight * dense + config.confidence_coverage_weight * coverage
           + config.confidence_overlap_weight * overlap) / full
    return float(min(1.0, max(0.0, raw)))
