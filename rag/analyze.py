"""Text → lexical tokens: Chinese word segmentation (jieba), English words, English→Chinese glossary expansion."""

from __future__ import annotations

import re
import threading
import unicodedata
from importlib import resources
from pathlib import Path
from typing import Any, Protocol

_WORD = re.compile(r"[a-z0-9]+(?:[.\-][a-z0-9]+)*|[\u3400-\u9fff]+")
_ENGLISH = re.compile(r"[a-z]+(?:['\-][a-z]+)*|\d+(?:\.\d+)?%?")
BUNDLED_GLOSSARIES = ("glossary.tsv", "places.tsv")
_POSSESSIVE = re.compile(r"(?<=[a-z])['’]s\b")
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


def _stem(word: str) -> str:
    """A light English stemmer: enough to meet a glossary key in singular form."""
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 4 and word.endswith(("ses", "xes", "ches", "shes")):
        return word[:-2]
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


def _words(text: str) -> list[str]:
    """English words as the glossary compares them: lower case, possessives dropped, hyphenated parts
    split ("hearing-aid" meets "hearing aid"), curly apostrophes straightened ("Xi’an" meets "xi'an"), stemmed."""
    text = unicodedata.normalize("NFKC", text).lower().replace("\u2019", "'").replace("\u2018", "'")
    return [_stem(w) for w in _ENGLISH.findall(_POSSESSIVE.sub("", text).replace("-", " "))]


class Glossary:
    """English domain terms → Chinese renderings, matched longest phrase first.

    Example:
        >>> Glossary({"class ii": ["二类"], "subsidy": ["补助", "补贴"]}).translate("Class II subsidies?")
        ['二类', '补助', '补贴']
    """

    def __init__(self, entries: dict[str, list[str]]) -> None:
        self._entries: dict[str, list[str]] = {}
        for phrase, renderings in entries.items():
            merged = self._entries.setdefault(" ".join(_words(phrase)), [])
            merged.extend(r for r in renderings if r not in merged)
        self._longest = max((k.count(" ") + 1 for k in self._entries), default=1)

    @classmethod
    def load(cls, *paths: str | Path) -> Glossary:
        """Read TSV glossaries (``english<TAB>中文1|中文2``; ``#`` comments).

        With no paths, the bundled domain glossary and place-name gazetteer are read.
        """
        if paths:
            texts = [Path(p).read_text(encoding="utf-8") for p in paths]
        else:
            data = resources.files("rag").joinpath("data")
            texts = [data.joinpath(name).read_text(encoding="utf-8") for name in BUNDLED_GLOSSARIES
                     if data.joinpath(name).is_file()]
        entries: dict[str, list[str]] = {}
        for text in texts:
            for line in text.splitlines():
                if not line.strip() or line.startswith("#") or "\t" not in line:
                    continue
                english, chinese = line.split("\t", 1)
                renderings = [c.strip() for c in chinese.split("|") if c.strip()]
                entries.setdefault(english.strip(), []).extend(renderings)
        return cls(entries)

    def __len__(self) -> int:
        return len(self._entries)

    def translate(self, text: str) -> list[str]:
        """Chinese renderings of the English terms in ``text``, longest phrases first, in order."""
        words = _words(text)
        out: list[str] = []
        i = 0
        while i < len(words):
            for n in range(min(self._longest, len(words) - i), 0, -1):
                renderings = self._entries.get(" ".join(words[i:i + n]))
                if renderings:
                    out.extend(renderings)
                    i += n
                    break
            else:
                i += 1
        return out


class Analyzer:
    """Turns passages and questions into BM25 tokens.

    Chinese is segmented with jieba; English and digits are lower-cased, lightly stemmed words.
    Questions with English in them are also expanded through the glossary.
    """

    def __init__(self, glossary: Glossary | None = None) -> None:
        self.glossary = glossary if glossary is not None else Glossary.load()
        self._jieba: Any = None
        self._lock = threading.Lock()

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
                    import logging

                    import jieba

                    logging.getLogger("jieba").setLevel(logging.WARNING)
                    tokenizer = jieba.Tokenizer()
                    tokenizer.initialize()
                    self._jieba = tokenizer
        return self._jieba

    def tokens(self, text: str, search_mode: bool = True) -> list[str]:
        """Tokens of a passage: jieba's search mode adds the sub-words of long words (医疗器械 → 医疗, 器械)."""
        text = _POSSESSIVE.sub("", unicodedata.normalize("NFKC", text).lower())
        out: list[str] = []
        for run in _WORD.findall(text):
            if run[0].isascii():
                if run not in EN_STOPWORDS and (len(run) > 1 or run.isdigit()):
                    out.append(_stem(run))
                continue
            jieba = self._segmenter()
            words = jieba.cut_for_search(run) if search_mode else jieba.cut(run)
            out.extend(w for w in words if w not in ZH_STOPWORDS)
        return out

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


class TermStatistics(Protocol):
    """How common words are among the indexed chunks (a lexical store answers this from its vocabulary)."""

    @property
    def documents(self) -> int:
        """How many documents (chunks) the counts are over."""
        ...

    def document_frequency(self, token: str) -> int:
        """How many documents contain ``token``."""
        ...
