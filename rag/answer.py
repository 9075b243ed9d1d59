"""Answer a question from retrieved passages: quoted sentences with verified citations, or an abstention.

The default answer is extractive and offline: the top passages are split into sentences, each sentence
is scored against the question (dense similarity, glossary-aware term overlap, and number cues for
"how much / how many / when" questions), and the best few are quoted in reading order, each followed
by its citation ``[n]``. Every citation's ``quote`` is exactly ``letter.text[start:end]`` and lies
inside the cited passage. When the evidence is weak (its confidence is below
``config.abstain_threshold``, calibrated by ``eval/answers.py``) the answer abstains and the passages
are kept as the closest, non-answering ones. Questions about subsidies, rewards, fees or support also
get a table of :class:`SupportItem`. With an ``llm`` (:class:`rag.generate.LLM`) the answer is written
by a chat model instead and checked sentence by sentence (see :mod:`rag.generate`).

Example:
    >>> answer = index.ask("二类医疗器械注册有哪些补助或支持？")
    >>> print(format_answer(answer))
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import numpy as np

from .chunk import split_sentences
from .lexical import EN_STOPWORDS
from .search import Filters, Hit

if TYPE_CHECKING:
    from .generate import LLM
    from .index import Index
    from .lexical import Analyzer

ABSTAIN_ZH = "现有答复函未涉及该问题。"
ABSTAIN_EN = "The indexed letters do not address this."
LEAD_EN = "The reply letters say (quoted in the original Chinese):"
CLOSEST_ZH = "最接近的段落（但并未回答该问题）："
CLOSEST_EN = "Closest passages, but not an answer:"

_CJK = re.compile(r"[\u3400-\u9fff]")
_EN_WORD = re.compile(r"[a-z]+\d+[a-z\d]*|\d+(?:\.\d+)?%?|[a-z]+")
# Interrogatives and filler that a question adds but no answer repeats.
_ZH_QUESTION_WORDS = re.compile(
    r"多少|多大|多快|多久|多长|多高|几[个家项张所次期年位名条批类款种人户月天]?|哪[一些几个家里年位所条批类种儿天]*|"
    r"什么时候|什么样|什么|怎么样|怎么|怎样|如何|为什么|是否|有没有|能不能|可不可以|能否|吗|呢|吧|现在|目前|大概|大约|"
    r"接下来|请问|分别|具体|打算|需要|才能|拿到|各有"
)
# Verbs a question is phrased with ("想", "叫", "做"), left after segmentation.
_ZH_QUESTION_TOKENS = frozenset("想 要 叫 做 能 会 后 让 给 用 来 去 搞 弄 算 有".split())
_EN_QUESTION_WORDS = frozenset(
    "which what who when where why how much many does did do is are was were can could will would should there "
    "any kind sort type way large big long often far fast".split()
)
# Numbers worth highlighting: amounts, rates, counts with a classifier, dates, durations.
_NUMBER = re.compile(
    r"(?:(?:19|20)\d{2}\s*年(?:\s*\d{1,2}\s*月(?:\s*\d{1,2}\s*日)?)?|\d{1,2}\s*月\s*\d{1,2}\s*日)"
    r"|(?:最高|最多|不超过|不低于|超过|近|逾|约)?\d+(?:[.,]\d+)*\s*(?:%|％|万亿|亿|万|千)?\s*"
    r"(?:元|美元|人次|个工作日|工作日|个月|小时|平方米|亩|张|家|个|项|所|款|户|名|人|次|批|类|期|套|台|件|年|天|周|倍|折|余|多)?"
)
_AMOUNT = re.compile(r"\d+(?:[.,]\d+)*\s*(?:万亿|亿|万|千)?\s*元|\d+(?:\.\d+)?\s*(?:万亿|亿|万)")
_RATE = re.compile(r"\d+(?:\.\d+)?\s*[%％]|\d+(?:\.\d+)?\s*折|百分之|[一二三四五六七八九]成")
_COUNT = re.compile(r"(?:\d+(?:\.\d+)?|[两二三四五六七八九十百千]+)\s*(?:余|多)?\s*(?:万|亿)?\s*"
                    r"(?:个|家|项|张|所|款|户|名|人|次|批|类|期|套|台|件|种|条|座|床|位)|逾\s*\d+|\d+\s*[余多]")
_DATE = re.compile(r"(?:19|20)\d{2}\s*年|\d{1,2}\s*月\s*\d{1,2}\s*日|年底|月底|年内|前完成|前开行")
_DURATION = re.compile(r"\d+\s*(?:个)?(?:工作日|天|日|个月|月|年|小时|周)|半年")
# Acknowledgements and courtesy: they restate the question, never answer it.
_BOILERPLATE = re.compile(r"收悉|答复如下|回复如下|函告如下|感谢您|感谢你|您提出的|你提出的|提出的《|办理情况征询")
# A sentence opening with these continues the one before it and inherits some of its relevance.
_CONTINUES = re.compile(r"^(?:例如|比如|譬如|其中|具体(?:来说|而言)?|但是|但|不过|然而|因此|所以|对此)")

_ASKS = (  # question pattern → the kind of number or name a good answer sentence carries
    (re.compile(r"电话|phone|call\b|contact", re.I), re.compile(r"\d{7,8}|\d{3,4}-\d{7,8}")),
    (re.compile(r"文号|发文字号|document number|reference number", re.I),
     re.compile(r"[〔\[［]\s*(?:19|20)\d{2}\s*[〕\]］]")),
    (re.compile(r"多少钱|金额|资金|多少万|多少元|how much (?:money|funding|public money|central)|budget|amount|"
                r"how large|fund", re.I), _AMOUNT),
    (re.compile(r"比例|比率|百分|增长多|增幅|降幅|降了多少|多快|rate|share|proportion|percent|discount|grow|fall|"
                r"faster", re.I), _RATE),
    (re.compile(r"何时|什么时候|哪一?年|哪天|几月|日期|时间|when\b|what year|what date", re.I), _DATE),
    (re.compile(r"多久|多长时间|几个工作日|多少(?:个)?工作日|how long|how soon|how fast|how often", re.I), _DURATION),
    (re.compile(r"多少|几|how many|number of|how much", re.I), _COUNT),
    (re.compile(r"哪些?(?:本地|家)?(?:企业|公司)|which (?:local )?(?:compan|firm|enterprise|maker)", re.I),
     re.compile(r"有限公司|集团|股份|[\u4e00-\u9fff]{2,}(?:公司|医疗|科技)")),
    (re.compile(r"接下来|下一步|今后|未来|计划|打算|将来|\bwill\b|\bplan", re.I),
     re.compile(r"下一步|下阶段|今后|将|拟|计划|力争")),
)
_EXACT_CUES = (_ASKS[0][1], _ASKS[1][1])  # a phone or document number: its pattern nearly is the answer
_SUPPORT_QUESTION = re.compile(
    r"补助|补贴|奖励|奖补|资助|扶持|支持|费用|收费|减免|优惠|贴息|创新券|资金|政策|"
    r"subsid|reward|fee|support|grant|fund|incentive|voucher|allowance|discount|award|bonus|loan", re.I)
_SUPPORT_WORD = re.compile(r"补助|补贴|奖励|奖补|资助|扶持|专项支持|给予支持|贴息|减免|优惠|创新券|专项资金|以奖代补")
_CAP = re.compile(r"(?:最高|最多|上限为?|封顶|不超过)\s*(?:\d+(?:[.,]\d+)*\s*(?:%|％|万亿|亿|万|千)?\s*元?)")
_CAP_FIRM = re.compile(r"(?:最高|最多|上限为?|封顶)\s*\d+(?:[.,]\d+)*\s*(?:%|％|万亿|亿|万|千)?\s*元?")
_MONEY = re.compile(r"(?:不超过|不低于|按)?\s*\d+(?:[.,]\d+)*\s*(?:[%％]|(?:万亿|亿|万|千)\s*元?|元)"
                    r"|\d+(?:\.\d+)?\s*折")
_TARGET = re.compile(r"对([^，。；：]{2,50}?)(?:，[^，。；]{0,20})?(?:给予|予以|实行|进行|按)")
_AGENCY = re.compile(r"((?:[省市区县镇]级?)?[\u4e00-\u9fff]{1,8}?(?:部门|局|委员会|委|厅|办公室|政府))"
                     r"(?=对|将|已|按|给予|会同|联合|牵头|负责|积极|在|为|还|也|，)")
_KIND = re.compile(r"(?:给予|予以)([^，。；]{0,20}?(?:补助|补贴|奖励|支持|资助|扶持|贴息|减免|优惠))")
_RULE = re.compile(r"((?:按|依据|根据)[^，。；]{2,30}?)(?:给予|予以|发放)"
                   r"|^((?:经过?|通过)[^，。；]{1,12}?(?:验收|认定|审核|评审|备案|批准)后?)")
_CLAUSE = re.compile(r"[^，,：:；;。！？!?]+")
_LEADING_FILLER = re.compile(r"^(?:同时|此外|另外|并且|并|还|明确|积极|其中|目前|今年|近年来|下一步)[，,]?")


@dataclass(frozen=True)
class Citation:
    """One quoted sentence: ``quote == letter.text[start:end]``, inside ``hit.start..hit.end``.

    Attributes:
        n: the number shown as ``[n]`` in the answer text.
        hit: the passage the sentence comes from.
        quote: the exact sentence.
        start: offset of the sentence in the letter's text.
        end: offset just past the sentence.
    """

    n: int
    hit: Hit
    quote: str
    start: int
    end: int

    @property
    def letter_id(self) -> str:
        return self.hit.letter_id

    @property
    def citation(self) -> str:
        return self.hit.citation


@dataclass(frozen=True)
class SupportItem:
    """One support measure found in the letters (a row of the support table); any field may be ``None``.

    Attributes:
        what: what is supported (the measure and its object).
        amount: the amount or rate (``30%``, ``不超过8%``, ``50万元``).
        cap: the ceiling (``最高400万``).
        condition: who qualifies or on what terms.
        agency: the department granting it, or the letter's agency.
        citation_n: the :class:`Citation` (its ``n``) quoting the sentence.
    """

    what: str | None
    amount: str | None
    cap: str | None
    condition: str | None
    agency: str | None
    citation_n: int


@dataclass(frozen=True)
class Answer:
    """The answer to one question.

    ``text`` carries ``[n]`` markers that refer to ``citations``; when ``abstained`` it says so plainly
    and ``hits`` are the closest passages, shown as "closest, but not an answer".

    Example:
        >>> answer.text
        '经信部门对企业取得二类、三类医疗器械产品相关资质给予专项支持；[1]'
        >>> answer.citations[0].quote == index.letter(answer.citations[0].letter_id).text[
        ...     answer.citations[0].start:answer.citations[0].end]
        True
    """

    question: str
    text: str
    citations: tuple[Citation, ...]
    confidence: float
    abstained: bool
    hits: tuple[Hit, ...]
    support: tuple[SupportItem, ...] = ()
    notes: tuple[str, ...] = ()
    mode: str = "extractive"
    language: str = "zh"


@dataclass(frozen=True)
class _Term:
    """A question term: present in a text when any of its Chinese ``forms`` is."""

    forms: tuple[str, ...]
    weight: float


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


@dataclass(frozen=True)
class Evidence:
    """Scored sentences of the retrieved passages and how well they cover the question."""

    question: str
    language: str
    hits: tuple[Hit, ...]
    sentences: tuple[Sentence, ...] = ()  # best first
    coverage: float = 0.0  # weighted share of the question's terms found in the best sentence's letter
    confidence: float = 0.0
    terms: tuple[_Term, ...] = field(default=(), repr=False)


def question_language(question: str) -> str:
    """``zh`` when the question is written in Chinese (any CJK character), else ``en``."""
    return "zh" if _CJK.search(question) else "en"


def number_spans(text: str) -> list[tuple[int, int]]:
    """Spans of amounts, percentages, counts, caps and dates in ``text``, for highlighting."""
    return [(m.start(), m.end()) for m in _NUMBER.finditer(text) if any(c.isdigit() for c in m.group())]


def answer(index: Index, question: str, k: int = 8, filters: Filters | None = None,
           llm: LLM | None = None) -> Answer:
    """Answer a question from the index with cited sentences, or abstain.

    Args:
        index: the index to search.
        question: free text, Chinese or English.
        k: number of passages to read.
        filters: restrict the search to letters, an agency or dates.
        llm: a chat endpoint for a generative answer; ``None`` answers extractively (offline).

    Returns:
        The :class:`Answer`. A generative answer that cannot reach its endpoint falls back to the
        extractive one with a note saying so.

    Raises:
        BadQuery: empty question or ``k < 1``.
    """
    final: Answer | None = None
    for piece in answer_stream(index, question, k=k, filters=filters, llm=llm):
        if isinstance(piece, Answer):
            final = piece
    assert final is not None  # answer_stream always ends with an Answer
    return final


def answer_stream(index: Index, question: str, k: int = 8, filters: Filters | None = None,
                  llm: LLM | None = None) -> Iterator[str | Answer]:
    """:func:`answer`, streamed: with an ``llm``, the model's text deltas first; always a final :class:`Answer`.

    The language model is asked only when the extractive evidence clears the abstention threshold:
    weak evidence abstains either way, and a model handed passages that do not answer the question
    is the likeliest to invent one.
    """
    hits = index.search(question, k=k, filters=filters)
    extractive = answer_from_hits(index, question, hits)
    if llm is None:
        yield extractive
        return
    if extractive.abstained:
        yield replace(extractive, notes=(*extractive.notes, "the evidence is too weak to ask the language model"))
        return
    from .generate import stream_answer

    yield from stream_answer(question, hits, llm, fallback=extractive, encoder=index.encoder)


def answer_from_hits(index: Index, question: str, hits: Sequence[Hit]) -> Answer:
    """The extractive answer to ``question`` from already retrieved ``hits``."""
    evidence = gather_evidence(index, question, hits)
    return compose(evidence, index.config.abstain_threshold, index.config.max_answer_sentences,
                   index.config.answer_keep_ratio, index.config.max_support_items)


def gather_evidence(index: Index, question: str, hits: Sequence[Hit]) -> Evidence:
    """Split the hits into sentences and score each against the question.

    The confidence mixes the best sentence's dense similarity with how much of the question (its
    rarer terms weigh more) the best sentence's letter mentions at all: a question about a city,
    product or scheme that letter never names is not answered by it, however similar the wording.
    """
    language = question_language(question)
    hits = tuple(hits)
    if not hits:
        return Evidence(question, language, hits)
    terms = question_terms(question, index.analyzer, index.document_frequency, len(index))
    candidates: list[tuple[Hit, int, int, str]] = []
    seen: set[tuple[str, int, int]] = set()
    for hit in hits:
        letter = index.letter(hit.letter_id)
        for start, end in split_sentences(hit.text, hit.start):
            key = (hit.letter_id, start, end)
            text = letter.text[start:end]
            if key in seen or not _CJK.search(text) and not any(c.isdigit() for c in text):
                continue
            seen.add(key)
            candidates.append((hit, start, end, text))
    if not candidates:
        return Evidence(question, language, hits, terms=terms)
    vectors = index.encoder.encode_passages([text for *_, text in candidates])
    query = index.encoder.encode_queries([question])[0]
    dense = np.asarray(vectors @ query, dtype=np.float64)
    wanted = _wanted_numbers(question)
    total = sum(t.weight for t in terms) or 1.0
    sentences: list[Sentence] = []
    previous: Sentence | None = None
    for (hit, start, end, text), similarity in zip(candidates, dense, strict=True):
        folded = _fold(text)
        context = _fold(" ".join(x for x in (hit.section, hit.title, hit.agency, hit.doc_number) if x))
        # a term in the passage's heading or letter's title still ties the sentence to the question, half as much
        overlap = sum(t.weight * (1.0 if any(f in folded for f in t.forms) else
                                  0.5 if any(f in context for f in t.forms) else 0.0) for t in terms) / total
        if previous is not None and previous.hit is hit and _CONTINUES.match(text):
            overlap = max(overlap, 0.8 * previous.overlap)
        cue = sum(1.0 for p in wanted if p.search(text)) / len(wanted) if wanted else 0.0
        cue_weight = 0.25 if wanted and wanted[0] in _EXACT_CUES else 0.08
        penalty = 0.15 if _BOILERPLATE.search(text) else 0.0
        if len(_CJK.findall(text)) < 12 and not cue:
            penalty += 0.1  # a heading or a fragment
        score = similarity + 0.35 * overlap + cue_weight * cue + 0.05 / (1 + hit.rank) - penalty
        previous = Sentence(hit, start, end, text, float(similarity), overlap, cue, float(score))
        sentences.append(previous)
    sentences.sort(key=lambda s: -s.score)
    # the question's coverage by the letters of the leading sentences: the best one may come from a neighbour
    leading = {lid: _fold(index.letter(lid).text) for lid in dict.fromkeys(s.hit.letter_id for s in sentences[:3])}
    coverage = max(sum(t.weight for t in terms if any(f in text for f in t.forms)) / total
                   for text in leading.values()) if terms else 0.0
    confidence = _confidence(max(s.dense for s in sentences), coverage, sentences[0].overlap)
    return Evidence(question, language, hits, tuple(sentences), coverage, confidence, terms)


def _confidence(dense: float, coverage: float, overlap: float) -> float:
    """Evidence strength in [0, 1] from the best sentence similarity, the share of the question the
    answering letter mentions and the share the best sentence mentions; 1 at similarity 0.6 with the
    whole question found in both (weights chosen on the dev set, see eval/answers.py)."""
    return float(min(1.0, max(0.0, (2.0 * dense + coverage + 0.5 * overlap) / 2.7)))


def compose(evidence: Evidence, threshold: float, max_sentences: int = 4, keep_ratio: float = 0.75,
            max_support: int = 8) -> Answer:
    """Turn scored evidence into an :class:`Answer`: the best sentences quoted, or an abstention."""
    zh = evidence.language == "zh"
    if not evidence.sentences or evidence.confidence < threshold:
        return Answer(evidence.question, ABSTAIN_ZH if zh else ABSTAIN_EN, (), evidence.confidence, True,
                      evidence.hits, language=evidence.language,
                      notes=("no passage matched",) if not evidence.hits else ())
    best = evidence.sentences[0].score
    chosen = [s for s in evidence.sentences if s.score >= keep_ratio * best][:max_sentences]
    letter_rank = {}
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
    if _SUPPORT_QUESTION.search(evidence.question):
        support, citations = support_table(evidence, citations, max_support)
    text = "\n".join(paragraphs) if zh else "\n".join([LEAD_EN, *paragraphs])
    return Answer(evidence.question, text, tuple(citations), evidence.confidence, False, evidence.hits,
                  support=support, language=evidence.language)


def support_table(evidence: Evidence, citations: list[Citation],
                  limit: int = 8) -> tuple[tuple[SupportItem, ...], list[Citation]]:
    """Support measures (what, amount or rate, cap, condition, agency) in the passages the answer quotes.

    Every sentence naming a subsidy, reward, voucher or support in a cited passage becomes a row, as long
    as it shares a term with the question; sentences already quoted keep their citation, others are cited
    after them.

    Returns:
        The items and the citations extended with the new ones.
    """
    citations = list(citations)
    passages = {c.hit.chunk_id for c in citations}
    items: list[SupportItem] = []
    for sentence in sorted(evidence.sentences, key=lambda s: (s.hit.letter_id, s.start)):
        if len(items) >= limit:
            break
        if sentence.hit.chunk_id not in passages or sentence.overlap <= 0 or not _SUPPORT_WORD.search(sentence.text):
            continue
        cited = next((c for c in citations if (c.hit.letter_id, c.start, c.end) ==
                      (sentence.hit.letter_id, sentence.start, sentence.end)), None)
        if cited is None:
            cited = Citation(len(citations) + 1, sentence.hit, sentence.text, sentence.start, sentence.end)
            citations.append(cited)
        items.append(support_item(sentence.text, sentence.hit.agency, cited.n))
    return tuple(sorted(items, key=lambda item: item.citation_n)), citations


def support_item(sentence: str, letter_agency: str | None, citation_n: int) -> SupportItem:
    """Read one support measure out of a sentence (best effort: fields it cannot find are ``None``).

    Example:
        >>> support_item("按其设备投入给予不超过8%，最高400万进行奖励。", "慈溪市卫生健康局", 1).cap
        '最高400万'
    """
    text = sentence.strip().rstrip("。；;")
    parenthetical = re.search(r"[（(]([^）)]*\d[^）)]*)[）)]", text)
    bare = text.replace(parenthetical.group(), "") if parenthetical else text  # a threshold, not the amount
    cap_match = _CAP_FIRM.search(bare) or _CAP.search(bare)
    cap = cap_match.group().strip() if cap_match else None
    amount = next((m.group().strip() for m in _MONEY.finditer(bare)
                   if not (cap_match and cap_match.start() <= m.start() < cap_match.end())), None)
    target = _TARGET.search(text)
    clauses = [c.strip() for c in _CLAUSE.findall(bare) if c.strip()]
    conditions: list[str] = []
    if target:  # "对 X 给予 Y": Y for X
        conditions.append(target.group(1))
        kind = _KIND.search(bare)
        what = kind.group(1) if kind else next((c for c in clauses if _SUPPORT_WORD.search(c)), None)
    else:
        what = next((c for c in clauses if _SUPPORT_WORD.search(c)), clauses[0] if clauses else None)
    if what:
        what = _MONEY.sub("", _LEADING_FILLER.sub("", what)).strip() or what
    if parenthetical:
        conditions.append(parenthetical.group(1))
    rule = _RULE.search(text)
    if rule:
        conditions.append(rule.group(1) or rule.group(2))
    agency_match = _AGENCY.match(text)
    agency = agency_match.group(1) if agency_match else letter_agency
    return SupportItem(what=what or None, amount=amount, cap=cap,
                       condition="；".join(dict.fromkeys(conditions)) or None, agency=agency, citation_n=citation_n)


def question_terms(question: str, analyzer: Analyzer, document_frequency: Callable[[str], int],
                   n_documents: int) -> tuple[_Term, ...]:
    """The content terms of a question, as Chinese forms weighted by rarity (IDF) across the index.

    ``document_frequency(form)`` counts the documents (chunks) holding a form, out of ``n_documents``:
    the index answers it from its BM25 vocabulary, so the cost does not grow with the corpus.

    Chinese questions give their words (interrogatives removed); English ones give, per content word,
    its glossary renderings, so "subsidies" is found as 补助 or 补贴. English words the glossary does
    not know cannot be checked against Chinese text and are left out; numbers are kept as written.
    """
    lowered = unicodedata.normalize("NFKC", question).lower()
    forms: list[tuple[str, ...]] = []
    if question_language(question) == "zh":
        forms = [(token,) for token in analyzer.tokens(_ZH_QUESTION_WORDS.sub(" ", lowered))
                 if token not in _ZH_QUESTION_TOKENS]
    else:
        words = _EN_WORD.findall(lowered)
        glossary = analyzer.glossary
        single = [set(glossary.translate(w)) for w in words]
        # renderings of a span that none of its shorter spans yields belong to a phrase entry ("class ii")
        spans: dict[tuple[int, int], set[str]] = {(i, i + 1): own for i, own in enumerate(single)}
        phrase_forms: list[set[str]] = [set() for _ in words]
        for size in (2, 3, 4):
            for i in range(len(words) - size + 1):
                inner = set().union(*(spans[(a, b)] for a in range(i, i + size) for b in range(a + 1, i + size + 1)
                                      if (a, b) != (i, i + size)))
                spans[(i, i + size)] = set(glossary.translate(" ".join(words[i:i + size])))
                for j in range(i, i + size):
                    phrase_forms[j] |= spans[(i, i + size)] - inner
        for word, own, phrase in zip(words, single, phrase_forms, strict=True):
            if any(c.isdigit() for c in word):
                forms.append((word,))
            elif word not in EN_STOPWORDS and word not in _EN_QUESTION_WORDS and (own or phrase):
                forms.append(tuple(sorted({_fold(f) for f in own | phrase})))
    terms: dict[tuple[str, ...], _Term] = {}
    n = n_documents
    for group in forms:
        if not group or group in terms:
            continue
        df = min(n, max(document_frequency(form) for form in group))
        terms[group] = _Term(group, math.log(1 + (n - df + 0.5) / (df + 0.5)))
    return tuple(terms.values())


def _wanted_numbers(question: str) -> list[re.Pattern[str]]:
    """What an answering sentence should carry: the first matching kind of number or name, and a support
    measure when the question asks about subsidies, rewards, fees or support."""
    wanted = [next((pattern for ask, pattern in _ASKS if ask.search(question)), None)]
    if _SUPPORT_QUESTION.search(question):
        wanted.append(_SUPPORT_WORD)
    return [p for p in wanted if p is not None]


def _fold(text: str) -> str:
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", text)).lower()


# ---- output -------------------------------------------------------------------------------------------
def answer_to_dict(answer: Answer) -> dict[str, Any]:
    """The answer as a JSON-ready dict: text, abstained, confidence, citations, support, hits, notes, mode."""
    return {
        "question": answer.question,
        "text": answer.text,
        "abstained": answer.abstained,
        "confidence": round(answer.confidence, 4),
        "mode": answer.mode,
        "language": answer.language,
        "citations": [
            {"n": c.n, "quote": c.quote, "citation": c.hit.citation, "letter_id": c.hit.letter_id,
             "start": c.start, "end": c.end, "chunk_id": c.hit.chunk_id, "section": c.hit.section,
             "doc_number": c.hit.doc_number, "agency": c.hit.agency, "date": c.hit.date, "path": c.hit.path}
            for c in answer.citations
        ],
        "support": [
            {"what": s.what, "amount": s.amount, "cap": s.cap, "condition": s.condition, "agency": s.agency,
             "citation_n": s.citation_n}
            for s in answer.support
        ],
        "hits": [h.to_dict() for h in answer.hits],
        "notes": list(answer.notes),
    }


def format_answer(answer: Answer) -> str:
    """The answer as terminal text: the answer, its sources, the support table and any notes."""
    zh = answer.language == "zh"
    lines = [answer.text, ""]
    if answer.abstained:
        if answer.hits:
            lines.append(CLOSEST_ZH if zh else CLOSEST_EN)
            for hit in answer.hits[:3]:
                lines.append(f"  · {hit.citation}  {hit.text[:80].replace(chr(10), ' ')}…")
    else:
        for c in answer.citations:
            who = " ".join(x for x in (c.hit.agency, c.hit.date) if x)
            lines.append(f"[{c.n}] {c.hit.citation}{f'  ({who})' if who else ''}  @{c.start}-{c.end}")
    if answer.support:
        lines += ["", "补助/支持一览：" if zh else "Support found in the letters:"]
        for s in answer.support:
            cells = [s.what or "-", s.amount or "-", s.cap or "-", s.condition or "-", s.agency or "-"]
            lines.append(f"  [{s.citation_n}] " + " | ".join(cells))
    lines += [f"({'置信度' if zh else 'confidence'} {answer.confidence:.2f}, {answer.mode})"]
    lines += [f"note: {note}" for note in answer.notes]
    return "\n".join(lines).strip()
