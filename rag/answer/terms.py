"""A question's content terms, as Chinese forms weighted by how rare they are among the indexed chunks."""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from ..analyze import EN_QUESTION_WORDS, EN_STOPWORDS, Analyzer, SpelledVocabulary, TermStatistics, spelled_words
from .pinyin import spelled_names
from .types import question_language

_CJK_RUN = re.compile(r"[\u3400-\u9fff]+")
_NUMBER = re.compile(r"\d+(?:\.\d+)?")
_THOUSANDS = re.compile(r"(?<=\d)[,，](?=\d{3})")
_EN_WORD = re.compile(r"[a-z]+\d+[a-z\d]*|\d+(?:\.\d+)?%?|[a-z]+")
# Interrogatives and filler that a question adds but no answer repeats.
_ZH_QUESTION_WORDS = re.compile(
    r"多少|多大|多快|多久|多长|多高|几[个家项张所次期年位名条批类款种人户月天]?|哪[一些几个家里年位所条批类种儿天]*|"
    r"什么时候|什么样|什么|怎么样|怎么|怎样|如何|为什么|是否|有没有|能不能|可不可以|能否|吗|呢|吧|现在|目前|大概|大约|"
    r"接下来|请问|分别|具体|打算|需要|才能|拿到|各有|叫什么名字|叫什么|名字|[搞弄]个|一块儿?|一起|叫啥|为啥|干啥|啥|咋|"
    # demonstratives pointing at the letter or the thing asked about ("那份会办意见", "这个项目")
    r"[这那该此][份封个项](?=[\u4e00-\u9fff])"
)
# Verbs a question is phrased with ("想", "叫", "做"), left after segmentation.
_ZH_QUESTION_TOKENS = frozenset("想 要 叫 做 能 会 后 让 给 用 来 去 搞 弄 算 有".split())


@dataclass(frozen=True)
class Term:
    """A question term: present in a text when any of its Chinese ``forms`` is."""

    forms: tuple[str, ...]
    weight: float


def question_terms(question: str, analyzer: Analyzer, statistics: TermStatistics) -> tuple[Term, ...]:
    """The content terms of a question, as Chinese forms weighted by rarity (IDF) across the index.

    A form's document frequency is that of its rarest word in ``statistics`` (the lexical store's
    vocabulary), so the cost does not grow with the corpus.

    Chinese questions give their words (interrogatives removed), each also as the glossary's abbreviations of it or
    long forms (:attr:`~rag.analyze.Glossary.aliases`); English ones give, per content word,
    its glossary renderings, so "subsidies" is found as 补助 or 补贴. English words the glossary does
    not know cannot be checked against Chinese text and are left out (:func:`grounded_terms` finds them in the
    letter answering). Numbers are kept as written.
    """
    lowered = unicodedata.normalize("NFKC", question).lower()
    forms: list[tuple[str, ...]]
    if question_language(question) == "zh":
        aliases = analyzer.glossary.aliases  # 发改委 is found as 发展和改革委员会 too
        forms = [(token, *aliases.get(token, ())) for token in analyzer.tokens(_ZH_QUESTION_WORDS.sub(" ", lowered))
                 if token not in _ZH_QUESTION_TOKENS]
    else:
        forms = _english_forms(lowered, analyzer)
    terms: dict[tuple[str, ...], Term] = {}
    n = statistics.documents
    for group in forms:
        if not group or group in terms:
            continue
        df = min(n, max(_document_frequency(form, analyzer, statistics) for form in group))
        terms[group] = Term(group, math.log(1 + (n - df + 0.5) / (df + 0.5)))
    return tuple(terms.values())


def grounded_terms(question: str, analyzer: Analyzer, statistics: TermStatistics, text: str,
                   taken: Iterable[Term] = (), share: float = 1.0) -> tuple[Term, ...]:
    """The English words of ``question`` that the glossary lacks, as the Chinese words of CC-CEDICT's
    renderings that ``text`` (the letter answering) holds, each a term weighted ``share`` × its rarity.

    A dictionary gives every sense of a word ("awareness": 意识, 认识, 认知…); the letter answering tells which
    one it uses, the way a translation is chosen by the text it is read in. Forms of ``taken`` terms and
    one-character renderings (too ambiguous) are left out.

    Example:
        "who handles public awareness of AEDs?" read with a letter saying 提高大众对AED的认知程度: 认知.
    """
    if question_language(question) != "en":
        return ()
    folded = fold(text)
    known = {form for term in taken for form in term.forms}
    n = statistics.documents
    terms: dict[tuple[str, ...], Term] = {}
    for found in analyzer.bridged(question, statistics, 0):
        group = tuple(sorted({fold(c) for c in found.known if len(c) > 1 and fold(c) in folded} - known))
        if group and group not in terms:
            df = min(n, max(_document_frequency(form, analyzer, statistics) for form in group))
            terms[group] = Term(group, share * math.log(1 + (n - df + 0.5) / (df + 0.5)))
    return tuple(terms.values())


def spelled_terms(question: str, texts: Iterable[str], analyzer: Analyzer,
                  statistics: TermStatistics) -> tuple[Term, ...]:
    """The names an English question spells in pinyin that no glossary or dictionary knows ("Wacaochong"), as found
    in ``texts`` (瓦草冲, :mod:`.pinyin`), and the index's words it spells (:func:`rag.analyze.spelled_words`) that
    ``texts`` hold, each a term weighted by its rarity like :func:`question_terms`' (a name and its longer form, 大姚
    and 大姚县, one term)."""
    def known(word: str) -> bool:
        return (word in EN_STOPWORDS or word in EN_QUESTION_WORDS or bool(analyzer.glossary.translate(word))
                or bool(analyzer.bridge.lookup(word)))

    texts = list(texts)
    groups = [tuple(names) for names in spelled_names(question, texts, known, analyzer.cache).values()]
    if isinstance(statistics, SpelledVocabulary):  # the index's own words the question spells (闽西 of "Minxi")
        for word in spelled_words(question, statistics, analyzer.glossary, knows=analyzer.dictionary_knows):
            if not any(word in text for text in texts):
                continue
            at = next((i for i, group in enumerate(groups) if any(word in f or f in word for f in group)), None)
            if at is None:
                groups.append((word,))
            elif word not in groups[at]:
                groups[at] = (*groups[at], word)
    n = statistics.documents
    terms = []
    for names in groups:
        forms = tuple(sorted({fold(name) for name in names}))
        df = min(n, max(_document_frequency(form, analyzer, statistics) for form in forms))
        terms.append(Term(forms, math.log(1 + (n - df + 0.5) / (df + 0.5))))
    return tuple(terms)


def absent_share(question: str, analyzer: Analyzer, statistics: TermStatistics, bridge_candidates: int,
                 passages: Sequence[str] = ()) -> float:
    """The share of a question's content words that no indexed chunk contains, in any of their Chinese forms.

    Chinese questions count their words of two or more characters (interrogatives, numbers and absent fragments
    that are no dictionary word left out); English ones their words
    with glossary renderings, and with ``bridge_candidates`` > 0 the words the bridge (CC-CEDICT) knows: a
    bridged word is absent when none of its translations is in the index. Words neither knows are not
    counted either way. "What is the capital of France?": 法国 is in no reply letter, so one word in two. A Chinese
    word one character away from what one of ``passages`` (those retrieved) says is a typo of it (医疗机械 for
    医疗器械), not a word no letter has.
    """
    lowered = unicodedata.normalize("NFKC", question).lower()
    absent: list[bool]
    if question_language(question) == "zh":
        words = [t for t in analyzer.tokens(_ZH_QUESTION_WORDS.sub(" ", lowered), search_mode=False)
                 if t not in _ZH_QUESTION_TOKENS and len(t) > 1 and not any(c.isdigit() for c in t)]
        # a fragment segmentation guessed (卡到) says nothing of the letters: absent, it is not counted
        found = [statistics.document_frequency(t) > 0 or _one_off(t, passages) for t in words]
        absent = [not seen for seen, t in zip(found, words, strict=True) if seen or analyzer.knows(t)]
    else:
        groups = [g for g in _english_forms(lowered, analyzer) if not any(c.isdigit() for c in g[0])]
        absent = [all(_document_frequency(f, analyzer, statistics) == 0 for f in g) for g in groups]
        if bridge_candidates > 0:
            absent += [not found.candidates for found in analyzer.bridged(question, statistics, bridge_candidates)]
    return sum(absent) / len(absent) if absent else 0.0


def _one_off(word: str, passages: Sequence[str]) -> bool:
    """Whether one of ``passages`` holds ``word`` (two or more characters) with one of its characters changed."""
    if len(word) < 2 or not passages:
        return False
    pattern = re.compile("|".join(re.escape(word[:i]) + "[\u4e00-\u9fff]" + re.escape(word[i + 1:])
                                  for i in range(len(word))))
    return any(pattern.search(text) for text in passages)


def claim_terms(text: str, analyzer: Analyzer | None = None) -> tuple[tuple[str, ...], ...]:
    """The content terms of a sentence to check against the passage it cites, each as its Chinese forms.

    Chinese text gives its words of two or more characters (single characters are mostly particles);
    English text gives the glossary renderings of its content words, as for a question. Numbers are
    left out: :func:`claim_numbers` checks them exactly. Without an analyzer, the terms are the
    character bigrams of the Chinese runs.
    """
    lowered = unicodedata.normalize("NFKC", text).lower()
    if analyzer is None:
        return tuple(dict.fromkeys((a + b,) for run in _CJK_RUN.findall(lowered)
                                   for a, b in zip(run, run[1:], strict=False)))
    if question_language(text) == "zh":
        forms: list[tuple[str, ...]] = [(token,) for token in analyzer.tokens(lowered, search_mode=False)
                                        if len(token) >= 2 and not any(c.isdigit() for c in token)]
    else:
        forms = [group for group in _english_forms(lowered, analyzer) if not any(c.isdigit() for c in group[0])]
    return tuple(dict.fromkeys(forms))


def claim_numbers(text: str) -> tuple[str, ...]:
    """The numbers a sentence states (thousands separators removed): each must be in the cited text."""
    return tuple(dict.fromkeys(_NUMBER.findall(_THOUSANDS.sub("", unicodedata.normalize("NFKC", text)))))


def _english_forms(lowered: str, analyzer: Analyzer) -> list[tuple[str, ...]]:
    """Per content word of an English question, the Chinese renderings of it and of phrases it is part of."""
    words = _EN_WORD.findall(lowered)
    glossary = analyzer.glossary
    single = [set(glossary.translate(w)) for w in words]
    # renderings of a span that none of its shorter spans yields belong to a phrase entry ("class ii")
    spans: dict[tuple[int, int], set[str]] = {(i, i + 1): own for i, own in enumerate(single)}
    phrase_forms: list[set[str]] = [set() for _ in words]
    for size in (2, 3, 4):
        for i in range(len(words) - size + 1):
            inner: set[str] = set().union(*(spans[(a, b)] for a in range(i, i + size)
                                            for b in range(a + 1, i + size + 1) if (a, b) != (i, i + size)))
            spans[(i, i + size)] = set(glossary.translate(" ".join(words[i:i + size])))
            for j in range(i, i + size):
                phrase_forms[j] |= spans[(i, i + size)] - inner
    forms: list[tuple[str, ...]] = []
    for word, own, phrase in zip(words, single, phrase_forms, strict=True):
        if any(c.isdigit() for c in word):
            forms.append((word,))
        elif word not in EN_STOPWORDS and word not in EN_QUESTION_WORDS and (own or phrase):
            forms.append(tuple(sorted({fold(f) for f in own | phrase})))
    return forms


def _document_frequency(text: str, analyzer: Analyzer, statistics: TermStatistics) -> int:
    """About how many chunks contain ``text``: the smallest chunk count among its words."""
    tokens = analyzer.tokens(text, search_mode=False)
    return min((statistics.document_frequency(t) for t in tokens), default=0)


def fold(text: str) -> str:
    """Text compared for containment: NFKC, blanks removed, lower case."""
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", text)).lower()


def fold_figures(text: str) -> str:
    """:func:`fold`, with thousands separators removed too, so "1,000" and "1000" compare equal."""
    return _THOUSANDS.sub("", fold(text))

