"""The support table: subsidies, rewards, vouchers and other support measures read out of quoted sentences."""

from __future__ import annotations

import re
from collections.abc import Sequence

from .figures import SUPPORT_WORD
from .scoring import Sentence
from .types import SupportItem

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


def support_rows(sentences: Sequence[Sentence], quoted: Sequence[Sentence],
                 limit: int = 8) -> list[tuple[Sentence, SupportItem]]:
    """Support measures (what, amount or rate, cap, condition, agency) in the passages the answer quotes.

    Every sentence of a quoted passage (``quoted``: the sentences the answer quotes) that names a subsidy,
    reward, voucher or support and shares a term with the question becomes a row, as long as it says how
    much, up to what or for whom: a bare "给予支持" is not worth a row. The caller quotes each row's
    sentence in the answer and numbers the rows' ``citation_n`` (0 here).

    Returns:
        ``(sentence, item)`` pairs in reading order, at most ``limit``.
    """
    passages = {s.hit.chunk_id for s in quoted}
    rows: list[tuple[Sentence, SupportItem]] = []
    for sentence in sorted(sentences, key=lambda s: (s.hit.letter_id, s.start)):
        if len(rows) >= limit:
            break
        if sentence.hit.chunk_id not in passages or sentence.overlap <= 0 or not SUPPORT_WORD.search(sentence.text):
            continue
        item = support_item(sentence.text, sentence.hit.agency, 0)
        if item.amount or item.cap or item.condition:
            rows.append((sentence, item))
    return rows


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
        what = kind.group(1) if kind else next((c for c in clauses if SUPPORT_WORD.search(c)), None)
    else:
        what = next((c for c in clauses if SUPPORT_WORD.search(c)), clauses[0] if clauses else None)
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

