"""Names an English question spells in pinyin ("Wacaochong", "Huashan"), found in the letters as written (瓦草冲, 花山).

A village, a town or a road that no glossary or gazetteer knows is named in English by its pinyin, which the letters
write in characters. The word's possible syllables (wa·cao·chong) each allow the characters read that way
(:mod:`pypinyin`'s table, tones ignored); a run of such characters in a retrieved letter, followed by what ends a
place name (村, 镇, 区, 路…), is the name. It is a question term like the glossary's: it ties the sentences and the
letter that name the place to the question.

Example:
    >>> spelled_names("How many households live in Wacaochong village?", ["瓦草冲村民小组共75户。"], lambda w: False)
    {'wacaochong': ('瓦草冲',)}
"""

from __future__ import annotations

import functools
import importlib.util
import re
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from ..derived import derivation_key, read_derived, write_derived

# what follows a place's name in a letter: a division, a settlement, a road, a water, a park
_AFTER = "省市县区州盟旗镇乡村街社组路道桥湖河江港湾岛山园"
_WORD = re.compile(r"(?<![A-Za-z])([A-Z][a-z]{3,})(?![A-Za-z])")
_MAX_SYLLABLES = 4


READINGS_CACHE = "pinyin-readings.json"  # :func:`readings`' table, in a cache folder


@dataclass(frozen=True, eq=False)
class Readings:
    """Toneless pinyin syllable → the characters read that way (common CJK block), from pypinyin's table; one per
    process and cache folder (see :func:`readings`), compared by identity."""

    by_syllable: dict[str, str]


@functools.cache
def readings(cache: Path | None = None) -> Readings:
    """pypinyin's readings by syllable, read from ``cache`` (a folder) when an earlier process left them there
    (importing pypinyin's tables takes longer), else derived (once per process) and left there. None: derived."""
    if cache is None:
        return _derived_readings()
    spec = importlib.util.find_spec("pypinyin")  # its folder, without importing it
    table = sorted(Path(spec.origin).parent.glob("pinyin_dict*")) if spec is not None and spec.origin else []
    key = derivation_key([*table, Path(__file__)]) if table else None
    data = read_derived(cache / READINGS_CACHE, key) if key is not None else None
    if isinstance(data, dict) and all(isinstance(k, str) and isinstance(v, str) for k, v in data.items()):
        lines = "".join(f"{k}\t{v}\n" for k, v in data.items())  # checked: they go into regular expressions
        if _CACHED_TABLE.fullmatch(lines) and lines.count("\n") == len(data):
            return Readings(data)
    found = _derived_readings()
    if key is not None:
        write_derived(cache / READINGS_CACHE, key, found.by_syllable)
    return found


_CACHED_TABLE = re.compile(r"(?:[a-z]+\t[\u4e00-\u9fff]+\n)*")  # a cached table, a syllable a line


@functools.cache
def _derived_readings() -> Readings:
    from pypinyin.pinyin_dict import pinyin_dict

    out: dict[str, list[str]] = {}
    for code, spelled in pinyin_dict.items():
        if not 0x4E00 <= code <= 0x9FFF:
            continue
        for reading in spelled.split(","):
            plain = "".join(c for c in unicodedata.normalize("NFKD", reading) if c.isascii()).lower()
            if plain.isalpha():
                out.setdefault(plain, []).append(chr(code))
    return Readings({syllable: "".join(dict.fromkeys(chars)) for syllable, chars in out.items()})


def syllables(word: str, table: Readings | None = None) -> list[tuple[str, ...]]:
    """Every way ``word`` (lower case) splits into two to four pinyin syllables (``table``: default
    :func:`readings`)."""
    known = (table or readings()).by_syllable

    @functools.cache
    def split(rest: str, budget: int) -> list[tuple[str, ...]]:  # at most ``budget`` syllables: no blow-up
        if not rest:
            return [()]
        if budget == 0 or len(rest) > 6 * budget:
            return []
        return [(rest[:n], *tail) for n in range(1, min(6, len(rest)) + 1) if rest[:n] in known
                for tail in split(rest[n:], budget - 1)]

    return [s for s in split(word, _MAX_SYLLABLES) if len(s) >= 2]


@functools.cache
def _pattern(word: str, table: Readings) -> re.Pattern[str] | None:
    ways = ["".join(f"[{table.by_syllable[s]}]" for s in way) for way in syllables(word, table)]
    return re.compile(f"((?:{'|'.join(ways)}))(?=[{_AFTER}])") if ways else None


def spelled_names(question: str, texts: Iterable[str], known: Callable[[str], bool],
                  cache: Path | None = None) -> dict[str, tuple[str, ...]]:
    """For each capitalised word of an English ``question`` that ``known`` does not know (a glossary's, a
    dictionary's, a gazetteer's word), the names in ``texts`` it spells in pinyin, by word (lower case); and for a
    person's name written as two or three capitalised words ("Qiu Youfu", "Yue Lin"), the name as a letter writes it
    before a title or a list's comma (仇有福委员, 岳林代表), by the words joined (``qiuyoufu``). ``cache``: as
    :func:`readings`."""
    question = unicodedata.normalize("NFKC", question)
    words = [w.lower() for w in _WORD.findall(question)]
    words = [w for w in dict.fromkeys(words) if not known(w)]
    table = readings(cache)
    people = [run for run in dict.fromkeys(_person_runs(question, table)) if not any(known(w) for w in run.split())]
    if not words and not people:
        return {}
    texts = list(texts)
    out: dict[str, tuple[str, ...]] = {}
    for key, pattern in [*((w, _pattern(w, table)) for w in words),
                         *((p.replace(" ", ""), _person(p, table)) for p in people)]:
        found = dict.fromkeys(m.group(1) for text in texts for m in pattern.finditer(text)) if pattern else {}
        if found:
            out[key] = tuple(found)
    return out


# a person's name in English: two or three capitalised words, each one syllable or two ("Qiu Youfu", "Tian Qun")
_RUN = re.compile(r"(?<![A-Za-z])([A-Z][a-z]{1,5}(?: [A-Z][a-z]{1,5}){1,2})(?![A-Za-z])")
# what follows a person's name in a letter: a title, a list's comma, the colon of a greeting
_TITLES = r"代表|委员|同志|先生|女士|局长|主任|厅长|部长|书记|处长|科长|院长|[、，,:：]"


def _person_runs(question: str, table: Readings) -> list[str]:
    return [run.lower() for run in _RUN.findall(question)
            if run.split()[0].lower() in table.by_syllable and all(syllables_of(w.lower(), table)
                                                                  for w in run.split()[1:])]


def syllables_of(word: str, table: Readings | None = None) -> bool:
    """Whether ``word`` (lower case) is one pinyin syllable or two (``table``: default :func:`readings`)."""
    known = (table or readings()).by_syllable
    return word in known or any(word[:n] in known and word[n:] in known for n in range(1, len(word)))


@functools.cache
def _person(run: str, table: Readings) -> re.Pattern[str] | None:
    """The characters spelling ``run`` (its words' syllables in order, a surname of one syllable), then a title."""
    ways = ["".join(f"[{table.by_syllable[s]}]" for s in way) for way in syllables(run.replace(" ", ""), table)
            if 2 <= len(way) <= 3 and way[0] == run.split()[0]]
    return re.compile(f"(?<![\u4e00-\u9fff])((?:{'|'.join(ways)}))(?={_TITLES})") if ways else None
