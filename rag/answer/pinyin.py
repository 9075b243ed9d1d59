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
import re
import unicodedata
from collections.abc import Callable, Iterable

# what follows a place's name in a letter: a division, a settlement, a road, a water, a park
_AFTER = "省市县区州盟旗镇乡村街社组路道桥湖河江港湾岛山园"
_WORD = re.compile(r"(?<![A-Za-z])([A-Z][a-z]{3,})(?![A-Za-z])")
_MAX_SYLLABLES = 4


@functools.cache
def _readings() -> dict[str, str]:
    """Toneless pinyin syllable → the characters read that way (common CJK block), from pypinyin's table."""
    from pypinyin.pinyin_dict import pinyin_dict

    out: dict[str, list[str]] = {}
    for code, readings in pinyin_dict.items():
        if not 0x4E00 <= code <= 0x9FFF:
            continue
        for reading in readings.split(","):
            plain = "".join(c for c in unicodedata.normalize("NFKD", reading) if c.isascii()).lower()
            if plain.isalpha():
                out.setdefault(plain, []).append(chr(code))
    return {syllable: "".join(dict.fromkeys(chars)) for syllable, chars in out.items()}


def syllables(word: str) -> list[tuple[str, ...]]:
    """Every way ``word`` (lower case) splits into two to four pinyin syllables."""
    readings = _readings()

    @functools.cache
    def split(rest: str, budget: int) -> list[tuple[str, ...]]:  # at most ``budget`` syllables: no blow-up
        if not rest:
            return [()]
        if budget == 0 or len(rest) > 6 * budget:
            return []
        return [(rest[:n], *tail) for n in range(1, min(6, len(rest)) + 1) if rest[:n] in readings
                for tail in split(rest[n:], budget - 1)]

    return [s for s in split(word, _MAX_SYLLABLES) if len(s) >= 2]


@functools.cache
def _pattern(word: str) -> re.Pattern[str] | None:
    readings = _readings()
    ways = ["".join(f"[{readings[s]}]" for s in way) for way in syllables(word)]
    return re.compile(f"((?:{'|'.join(ways)}))(?=[{_AFTER}])") if ways else None


def spelled_names(question: str, texts: Iterable[str], known: Callable[[str], bool]) -> dict[str, tuple[str, ...]]:
    """For each capitalised word of an English ``question`` that ``known`` does not know (a glossary's, a
    dictionary's, a gazetteer's word), the names in ``texts`` it spells in pinyin, by word (lower case); and for a
    person's name written as two or three capitalised words ("Qiu Youfu", "Yue Lin"), the name as a letter writes it
    before a title or a list's comma (仇有福委员, 岳林代表), by the words joined (``qiuyoufu``)."""
    question = unicodedata.normalize("NFKC", question)
    words = [w.lower() for w in _WORD.findall(question)]
    words = [w for w in dict.fromkeys(words) if not known(w)]
    people = [run for run in dict.fromkeys(_person_runs(question)) if not any(known(w) for w in run.split())]
    if not words and not people:
        return {}
    texts = list(texts)
    out: dict[str, tuple[str, ...]] = {}
    for key, pattern in [*((w, _pattern(w)) for w in words), *((p.replace(" ", ""), _person(p)) for p in people)]:
        found = dict.fromkeys(m.group(1) for text in texts for m in pattern.finditer(text)) if pattern else {}
        if found:
            out[key] = tuple(found)
    return out


# a person's name in English: two or three capitalised words, each one syllable or two ("Qiu Youfu", "Tian Qun")
_RUN = re.compile(r"(?<![A-Za-z])([A-Z][a-z]{1,5}(?: [A-Z][a-z]{1,5}){1,2})(?![A-Za-z])")
# what follows a person's name in a letter: a title, a list's comma, the colon of a greeting
_TITLES = r"代表|委员|同志|先生|女士|局长|主任|厅长|部长|书记|处长|科长|院长|[、，,:：]"


def _person_runs(question: str) -> list[str]:
    readings = _readings()
    return [run.lower() for run in _RUN.findall(question)
            if run.split()[0].lower() in readings and all(syllables_of(w.lower()) for w in run.split()[1:])]


def syllables_of(word: str) -> bool:
    """Whether ``word`` (lower case) is one pinyin syllable or two."""
    readings = _readings()
    return word in readings or any(word[:n] in readings and word[n:] in readings for n in range(1, len(word)))


@functools.cache
def _person(run: str) -> re.Pattern[str] | None:
    """The characters spelling ``run`` (its words' syllables in order, a surname of one syllable), then a title."""
    readings = _readings()
    ways = ["".join(f"[{readings[s]}]" for s in way) for way in syllables(run.replace(" ", ""))
            if 2 <= len(way) <= 3 and way[0] == run.split()[0]]
    return re.compile(f"(?<![\u4e00-\u9fff])((?:{'|'.join(ways)}))(?={_TITLES})") if ways else None
