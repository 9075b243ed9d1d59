"""Text → lexical tokens: Chinese word segmentation (jieba), English words, English→Chinese glossary expansion,
for English words the glossary lacks a general dictionary (CC-CEDICT) reverse-indexed English → Chinese (both in
:mod:`rag.glossary`), and for names written in pinyin the index's own words by their pinyin."""

from __future__ import annotations

import math
import re
import threading
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from .glossary import (
    CJK_WORD,
    POSSESSIVE,
    Bridge,
    Glossary,
    dictionary_knows,
    english_words,
    stem,
)

_WORD = re.compile(r"[a-z0-9]+(?:[.\-][a-z0-9]+)*|[\u3400-\u9fff]+")
ZH_STOPWORDS = frozenset(
    "的 了 和 与 及 或 是 在 对 为 有 等 把 被 将 也 都 并 而 其 之 于 以 由 从 向 到 给 让 这 那 个 各 该 此 "
    "我 我们 您 你 他 她 它 他们 啊 吗 呢 吧 么 什么 哪些 哪个 哪 多少 几 怎么 怎样 如何 为什么 能不能 能否 "
    "可以 可不可以 是否 是不是 有没有 没有 有无 请问 一下 会 要 能 还 就 又 再 已 已经 一些 哪里 哪儿 谁 "
    "具体 情况 相关 方面 问题 里 中".split()
)
EN_STOPWORDS = frozenset(
    "a an the of to in on at for by with from about as and or but if is are was were be been being do does did "
    "done have has had can could will would shall should may might must what which who whom whose when where why "
    "how there their they them it its this that these those i we you he she our your my me us any some all "
    "much many more most get got give given up out into than then so not no yes also just only very such per "
    "whether".split()
)

# Words an English question is phrased with that no answer repeats.
EN_QUESTION_WORDS = frozenset(
    "which what who when where why how much many does did do is are was were can could will would should there "
    "any kind sort type way large big long often far fast "
    # fillers of a spoken question: "what did they actually do", "known for", "tell me", "anything about"
    "actually really exactly currently already still ever even now please tell know known according specifically "
    "basically officially anything something someone somebody thing things stuff lot lots able".split()
)

EN_NUMBER_WORDS = frozenset("one two three four five six seven eight nine ten first second third".split())



class Analyzer:
    """Turns passages and questions into BM25 tokens.

    Chinese is segmented with jieba; English and digits are lower-cased, lightly stemmed words.
    Questions with English in them are also expanded through the glossary.
    """

    def __init__(self, glossary: Glossary | None = None, bridge: Bridge | None = None, *,
                 cache: Path | None = None) -> None:
        """``cache``: a folder where jieba's word frequencies, CC-CEDICT's reverse index and pypinyin's readings are
        kept between processes (:mod:`rag.jieba_words`, :meth:`Bridge.cedict`, :func:`rag.answer.pinyin.readings`);
        None: loaded or derived in each process."""
        self.glossary = glossary if glossary is not None else Glossary.load()
        self._bridge = bridge
        self.cache = cache
        self._jieba: Any = None
        self._lock = threading.Lock()

    @property
    def bridge(self) -> Bridge:
        """The general dictionary for English words the glossary lacks (default: CC-CEDICT, read on first use)."""
        if self._bridge is None:
            with self._lock:
                if self._bridge is None:
                    self._bridge = Bridge.cedict(self.cache)
        return self._bridge

    def dictionary_knows(self, word: str) -> bool:
        """Whether CC-CEDICT (whatever the bridge is) translates into the English ``word``: see
        :func:`~rag.glossary.dictionary_knows`."""
        return dictionary_knows(word, self.cache)

    @property
    def loaded(self) -> bool:
        """Whether jieba's dictionary is loaded (it is, from the first segmented text on)."""
        return self._jieba is not None

    def _segmenter(self) -> Any:
        """jieba's tokenizer, its dictionary loaded on first use (about 1 s): listing or removing letters
        needs no segmentation."""
        if self._jieba is None:
            with self._lock:
                if self._jieba is None:
                    from .jieba_words import cached_tokenizer

                    self._jieba = cached_tokenizer(self.cache)
        return self._jieba

    def tokens(self, text: str, search_mode: bool = True) -> list[str]:
        """Tokens of a passage: jieba's search mode adds the sub-words of long words (医疗器械 → 医疗, 器械)."""
        text = POSSESSIVE.sub("", unicodedata.normalize("NFKC", text).lower())
        out: list[str] = []
        for run in _WORD.findall(text):
            if run[0].isascii():
                if run not in EN_STOPWORDS and (len(run) > 1 or run.isdigit()):
                    out.append(stem(run))
                continue
            jieba = self._segmenter()
            words = jieba.cut_for_search(run) if search_mode else jieba.cut(run)
            out.extend(w for w in words if w not in ZH_STOPWORDS)
        return out

    def knows(self, word: str) -> bool:
        """Whether ``word`` is in the segmenter's dictionary (not a fragment its HMM guessed, like 卡到 in 卡到现在)."""
        return bool(self._segmenter().FREQ.get(word))

    def query_tokens(self, question: str) -> list[str]:
        """Tokens of a question, plus the glossary renderings of its English terms, de-duplicated.

        The question itself is cut precisely (its sub-words would dilute the ranking: measured on
        the dev set, zh MRR@10 0.95 → 0.98); glossary renderings are context-free phrases, so their
        sub-words are kept to meet the passages' own segmentation.
        """
        tokens = self.tokens(question, search_mode=False)
        for rendering in self.glossary.translate(question):
            tokens.extend(self.tokens(rendering))
        return list(dict.fromkeys(tokens))

    def query_weights(self, question: str, statistics: TermStatistics, *, bridge_weight: float,
                      max_candidates: int, spelled: bool = True) -> dict[str, float]:
        """:meth:`query_tokens` (weight 1 each), the indexed words an English question spells in pinyin (weight 1
        each, as the glossary's; see :func:`spelled_words`) and the bridge's Chinese words for the English words the
        glossary lacks: each such word shares ``bridge_weight`` among its candidates (see :meth:`bridged`)."""
        weights = dict.fromkeys(self.query_tokens(question), 1.0)
        if spelled and isinstance(statistics, SpelledVocabulary):
            for word in spelled_words(question, statistics, self.glossary, knows=self.dictionary_knows):
                weights.setdefault(word, 1.0)
        if bridge_weight <= 0:
            return weights
        for found in self.bridged(question, statistics, max_candidates):
            for candidate, share in zip(found.candidates, found.shares, strict=True):
                for token in self.tokens(candidate, search_mode=False):
                    weights[token] = max(weights.get(token, 0.0), bridge_weight * share)
        return weights

    def bridged(self, question: str, statistics: TermStatistics, max_candidates: int) -> list[Bridged]:
        """The English content words and phrases of ``question`` that the glossary leaves untranslated, through
        the bridge (the glossary takes precedence).

        A word's candidates are the dictionary's Chinese words found in the index vocabulary, weighted by
        rarity (IDF) over how many senses each has, so that "capital" leans to 资本 over 京都 only as far as
        the index says; the best ``max_candidates`` are kept and share 1.
        """
        out: list[Bridged] = []
        run: list[str] = []
        for phrase, renderings in [*self.glossary.match(english_words(question)), ("", ("",))]:
            if not renderings:
                run.append(phrase)
                continue
            if any(_is_content_word(w) for w in run):
                out.extend(self._bridge_run(run, statistics, max_candidates))
            run = []
        return out

    def _bridge_run(self, words: list[str], statistics: TermStatistics, max_candidates: int) -> list[Bridged]:
        out = []
        n = statistics.documents
        for phrase, chinese in self.bridge.match(words):
            ends = phrase.split(" ")
            if not chinese or not (_is_content_word(ends[0]) and _is_content_word(ends[-1])):  # not "how many year"
                continue
            scored = []
            for candidate in chinese:
                tokens = self.tokens(candidate, search_mode=False)
                df = min((statistics.document_frequency(t) for t in tokens), default=0)
                if df > 0:
                    idf = math.log(1 + (n - df + 0.5) / (df + 0.5))
                    scored.append((idf / self.bridge.senses(candidate), candidate))
            kept = sorted(scored, reverse=True)[:max(0, max_candidates)]
            total = sum(score for score, _ in kept) or 1.0
            out.append(Bridged(phrase, tuple(c for _, c in kept), tuple(score / total for score, _ in kept), chinese))
        return out


@dataclass(frozen=True)
class Bridged:
    """An English word or phrase the glossary lacks, and the bridge's Chinese words for it.

    Attributes:
        english: the word or phrase, as :func:`english_words` gives it.
        candidates: the Chinese words found in the index vocabulary, best first.
        shares: each candidate's share of the word's weight (they sum to 1).
        known: every Chinese word the dictionary gives, found in the index or not.
    """

    english: str
    candidates: tuple[str, ...]
    shares: tuple[float, ...]
    known: tuple[str, ...]


def _is_content_word(word: str) -> bool:
    """A word that says what a question is about: not a stop word, an interrogative or a number."""
    return (len(word) > 2 and word.isalpha() and word not in EN_NUMBER_WORDS
            and not {word, word + "s"} & (EN_STOPWORDS | EN_QUESTION_WORDS))  # "does" is stemmed to "doe"


_SPELLED_WORD = re.compile(r"[a-z]+(?:'[a-z]+)*")
# what an English question says after a name in pinyin, and what a letter writes after it
DIVISIONS = {"province": "省", "city": "市", "prefecture": "州", "county": "县", "district": "区", "town": "镇",
             "township": "乡", "village": "村", "community": "社区", "street": "街道", "road": "路"}
_MAX_SPELLED_WORDS = 4  # "Xin Qiao Zhen": a name's syllables written apart


def spelling(word: str) -> str:
    """The toneless pinyin of a Chinese word of two or more characters, syllables run together (北仑 → ``beilun``,
    ü as ``u``); "" for anything else."""
    return spellings([word])[0]


def _syllables(text: str) -> str:
    from pypinyin import Style, lazy_pinyin

    return "".join(lazy_pinyin(text, style=Style.NORMAL, v_to_u=True)).replace("ü", "u")


def spellings(words: Sequence[str]) -> list[str]:
    """:func:`spelling` of each word (pypinyin, loaded once: about 1 s)."""
    return [_syllables(w) if CJK_WORD.fullmatch(w) else "" for w in words]


def spelled_words(question: str, vocabulary: SpelledVocabulary, glossary: Glossary | None = None, *,
                  knows: Callable[[str], bool] = dictionary_knows) -> list[str]:
    """The indexed words an English ``question`` spells in pinyin: a word or a run of words ("Yuyao", "Yu Yao",
    "Xi'an") whose letters are those of an indexed Chinese word's toneless pinyin, and with the division it names
    after it ("Beilun district" → 北仑区, as well as 北仑). Words an English dictionary knows count only capitalised
    ("Change" may be a name, "change" is not), and a word the glossary translates is left to the glossary.

    Example:
        >>> class Words:
        ...     documents = 10
        ...     def document_frequency(self, token): return 1
        ...     def spelled(self, key): return {"beilun": ["北仑"], "beilunqu": ["北仑区"]}.get(key, [])
        >>> spelled_words("Which roads in Ningbo's Beilun district?", Words())
        ['北仑', '北仑区']
    """
    text = POSSESSIVE.sub("", unicodedata.normalize("NFKC", question).replace("\u2019", "'"))
    raw = [m.group(0) for m in re.finditer(r"[A-Za-z]+(?:'[A-Za-z]+)*", text)]
    words = [w.lower() for w in raw]
    named = [not (w in EN_STOPWORDS or w in EN_QUESTION_WORDS or w in DIVISIONS or
                  (glossary is not None and glossary.match([stem(w)])[0][1]))
             and (r[0].isupper() or not knows(w)) for w, r in zip(words, raw, strict=True)]
    out: list[str] = []
    for start in range(len(words)):
        for end in range(start + 1, min(len(words), start + _MAX_SPELLED_WORDS) + 1):
            if not all(named[start:end]):
                break
            key = "".join(words[start:end]).replace("'", "")
            if len(key) < 4:
                continue
            after = DIVISIONS.get(words[end], "") if end < len(words) else ""
            named_alone = vocabulary.spelled(key)
            found = [*named_alone, *(vocabulary.spelled(key + _syllables(after)) if after else ()),
                     *(w + after for w in named_alone if after)]  # 李家 + 村: jieba may keep 李家村 whole or not
            out.extend(w for w in found if w not in out and vocabulary.document_frequency(w) > 0)
    return out



class TermStatistics(Protocol):
    """How common words are among the indexed chunks (a lexical store answers this from its vocabulary)."""

    @property
    def documents(self) -> int:
        """How many documents (chunks) the counts are over."""
        ...

    def document_frequency(self, token: str) -> int:
        """How many documents contain ``token``."""
        ...


@runtime_checkable
class SpelledVocabulary(TermStatistics, Protocol):
    """Term statistics that also find the indexed words by their pinyin (a lexical store, from its vocabulary)."""

    def spelled(self, key: str) -> list[str]:
        """The indexed Chinese words whose toneless pinyin, syllables run together, is ``key``."""
        ...


__all__ = [  # Bridge, Glossary and english_words live in rag.glossary; imported from here too
    "DIVISIONS", "EN_NUMBER_WORDS", "EN_QUESTION_WORDS", "EN_STOPWORDS", "ZH_STOPWORDS", "Analyzer", "Bridge",
    "Bridged", "Glossary", "SpelledVocabulary", "TermStatistics", "english_words", "spelled_words", "spelling",
    "spellings",
]
