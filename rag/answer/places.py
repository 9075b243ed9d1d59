"""Places a question names, and whether the letters retrieved for it are about them.

Reply letters are local: a bureau answers for its own city or county. A question about a place that none of
the retrieved letters mentions (Guangzhou's canteens, asked of an index without a Guangzhou letter) is not
answered by them, however close their wording. The places come from the bundled gazetteer
(``rag/data/places.tsv``: English names → Chinese short names, grouped under the division that holds them), so
a letter counts as mentioning a province or city when it names one of the places inside it.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from importlib import resources

from ..glossary import english_words, longest_first

_HEADER = re.compile(r"^#.*?:\s*([\u3400-\u9fff]+)\s*$")
_SUFFIX = "省市县区州盟旗镇乡"
# zones a city names before their own suffix: 西安高新区, 成都经开区, 天津滨海新区 is 滨海's
_ZONE = ("高新区", "高新技术产业开发区", "经开区", "经济技术开发区", "开发区", "新区", "自贸区")
# a government body's short name after a place's (海口发改委, 河北工信厅, 渝中区政府): the place stands as one
_BODY = re.compile(r"[\u4e00-\u9fff]{0,3}?(?:局|委|厅|政府)")
# English words capitalised in a question: a run of them may name a place ("Inner Mongolia", "Jing'an").
_CAPITALISED = re.compile(r"[A-Z][A-Za-z]*(?:['’\-][A-Za-z]+)*(?:\s+[A-Z][A-Za-z]*(?:['’\-][A-Za-z]+)*)*")
_CJK = re.compile(r"[\u3400-\u9fff]")


@dataclass(frozen=True)
class NamedPlace:
    """A place a question names: how it was written, and the Chinese names any of which means it."""

    written: str
    names: tuple[str, ...]


class Gazetteer:
    """Place names, English and Chinese, with the divisions each lies in.

    Example:
        >>> g = Gazetteer({"ningbo": ("宁波",), "cixi": ("慈溪",)}, {"慈溪": "宁波"})
        >>> [p.names for p in g.named("Does Ningbo fund clinical trials?")]
        [('宁波',)]
        >>> g.mentioned(g.named("宁波市有没有补贴？")[0], ["慈溪市卫生健康局关于……的答复"])
        True
    """

    def __init__(self, english: Mapping[str, Sequence[str]], parents: Mapping[str, str],
                 standalone: Iterable[str] = ()) -> None:
        self._english = {" ".join(english_words(k)): tuple(v) for k, v in english.items()}
        self._longest = max((k.count(" ") + 1 for k in self._english), default=1)
        self._chinese = sorted({name for names in self._english.values() for name in names}, key=len, reverse=True)
        self.standalone = frozenset(standalone)  # names that mean the place without a suffix (法国)
        self._within: dict[str, set[str]] = {}  # a place → every place inside it, at any depth
        for child in parents:
            seen: set[str] = set()
            parent = parents.get(child)
            while parent is not None and parent not in seen:
                seen.add(parent)
                self._within.setdefault(parent, set()).add(child)
                parent = parents.get(parent)

    @classmethod
    def load(cls, text: str | None = None) -> Gazetteer:
        """Read ``english<TAB>中文|…`` lines grouped under ``# …: 上级名称`` headers (default: the bundled file)."""
        if text is None:
            text = resources.files("rag").joinpath("data", "places.tsv").read_text(encoding="utf-8")
        english: dict[str, list[str]] = {}
        parents: dict[str, str] = {}
        standalone: set[str] = set()
        parent: str | None = None
        countries = opening = False  # a block of comment lines opens a section: a division's, or the countries'
        for line in text.splitlines():
            if line.startswith("#"):
                header = _HEADER.match(line)
                if not opening:
                    parent, countries = None, line.startswith("# countries")
                parent = header.group(1) if header else parent
                opening = True
                continue
            opening = False
            if "\t" not in line:
                continue
            key, chinese = line.split("\t", 1)
            names = [c.strip() for c in chinese.split("|") if c.strip()]
            english.setdefault(key.strip(), []).extend(n for n in names if n not in english.get(key.strip(), []))
            for name in names:
                if parent is not None:
                    parents.setdefault(name, parent)
                if countries:
                    standalone.add(name)
        short = {name for names in english.values() for name in names}
        # headers give full names (浙江省); entries give short ones (浙江): a header is the short name it starts with
        longest = sorted(short, key=len, reverse=True)
        short_of = {full: next((s for s in longest if full.startswith(s)), full) for full in set(parents.values())}
        return cls(english, {c: short_of[p] for c, p in parents.items() if c != short_of[p]}, standalone)

    def named(self, question: str) -> tuple[NamedPlace, ...]:
        """The places ``question`` names: capitalised English names, or Chinese names standing as a place."""
        question = unicodedata.normalize("NFKC", question)
        return _english_places(self, question) if not _CJK.search(question) else _chinese_places(self, question)

    def mentioned(self, place: NamedPlace, texts: Iterable[str]) -> bool:
        """Whether one of ``texts`` names ``place`` or a place inside it."""
        names = set(place.names).union(*(self._within.get(n, set()) for n in place.names))
        return any(name in text for text in texts for name in names)

    def elsewhere(self, place: NamedPlace, text: str) -> bool:
        """Whether ``text`` is about somewhere else: it names neither ``place`` nor a place inside it, and the first
        place it names (its agency's, as a rule) is not one ``place`` lies in (a letter opening with 上海 may be about
        普陀; one opening with 海口 is not about 莱芜; a letter naming no place may be from anywhere)."""
        if self.mentioned(place, [text]):
            return False
        first = _chinese_places(self, unicodedata.normalize("NFKC", text), first=True)
        return bool(first) and not set(place.names) & self._within.get(first[0].written, set())

    def missing(self, question: str, texts: Sequence[str]) -> tuple[NamedPlace, ...]:
        """The places ``question`` names that none of ``texts`` (letters, best first) mentions, nor any place inside;
        none when the first names no place at all (an excerpt without its header may be from anywhere)."""
        named = self.named(question)
        if not named or not texts or not self.locates(texts[0]):
            return ()
        return tuple(place for place in named if not self.mentioned(place, texts))

    def locates(self, text: str) -> bool:
        """Whether ``text`` names any place (as :meth:`named` finds them in Chinese): a letter that names none
        may be from anywhere, so it never rules a place out."""
        return bool(_chinese_places(self, unicodedata.normalize("NFKC", text), first=True))

    def english(self, phrase: str) -> tuple[str, ...]:
        return self._english.get(phrase, ())

    @property
    def longest(self) -> int:
        return self._longest

    @functools.cached_property
    def pattern(self) -> re.Pattern[str]:
        """Any Chinese name, longest first (overlapping matches are found: a lookahead)."""
        return re.compile("(?=(" + "|".join(map(re.escape, self._chinese)) + "))")


def _english_places(gazetteer: Gazetteer, question: str) -> tuple[NamedPlace, ...]:
    found = [NamedPlace(_as_written(run, phrase), names) for run in _CAPITALISED.findall(question)
             for phrase, names in longest_first(english_words(run), gazetteer.english, gazetteer.longest) if names]
    return tuple(dict.fromkeys(found))


def _as_written(run: str, phrase: str) -> str:
    """``phrase`` (lower-cased words) as ``run`` writes it: "France", not "france"."""
    match = re.search(r"\W+".join(map(re.escape, phrase.split())), run, re.IGNORECASE)
    return match.group(0) if match else phrase


def _chinese_places(gazetteer: Gazetteer, text: str, first: bool = False) -> tuple[NamedPlace, ...]:
    """Chinese names followed by a division suffix (宁波市) or a government body (海口发改委), of three or more
    characters (西双版纳), or countries."""
    found: list[NamedPlace] = []
    taken = [False] * len(text)
    for match in gazetteer.pattern.finditer(text):
        name = match.group(1)
        start, end = match.span(1)
        if any(taken[start:end]):
            continue
        if ((end < len(text) and text[end] in _SUFFIX) or text.startswith(_ZONE, end) or len(name) >= 3
                or name in gazetteer.standalone or _BODY.match(text, end)):
            found.append(NamedPlace(name, (name,)))
            taken[start:end] = [True] * (end - start)
            if first:
                break
    return tuple(dict.fromkeys(found))


@functools.cache
def bundled() -> Gazetteer:
    """The bundled gazetteer, read once per process."""
    return Gazetteer.load()
