"""Figures in letters and what kind of figure a question asks for: amounts, rates, counts, dates, durations."""

from __future__ import annotations

import re

# Numbers worth highlighting: amounts, rates, counts with a classifier, dates, durations.
NUMBER = re.compile(
    r"(?:(?:19|20)\d{2}\s*年(?:\s*\d{1,2}\s*月(?:\s*\d{1,2}\s*日)?)?|\d{1,2}\s*月\s*\d{1,2}\s*日)"
    r"|(?:最高|最多|不超过|不低于|超过|近|逾|约)?\d+(?:[.,]\d+)*\s*(?:%|％|万亿|亿|万|千)?\s*"
    r"(?:元|美元|人次|个工作日|工作日|个月|小时|平方米|亩|张|家|个|项|所|款|户|名|人|次|批|类|期|套|台|件|年|天|周|倍|折|余|多)?"
)
AMOUNT = re.compile(r"\d+(?:[.,]\d+)*\s*(?:万亿|亿|万|千)?\s*元|\d+(?:\.\d+)?\s*(?:万亿|亿|万)")
RATE = re.compile(r"\d+(?:\.\d+)?\s*[%％]|\d+(?:\.\d+)?\s*折|百分之|[一二三四五六七八九]成")
COUNT = re.compile(r"(?:\d+(?:\.\d+)?|[两二三四五六七八九十百千]+)\s*(?:余|多)?\s*(?:万|亿)?\s*"
                    r"(?:个|家|项|张|所|款|户|名|人|次|批|类|期|套|台|件|种|条|座|床|位)|逾\s*\d+|\d+\s*[余多]")
DATE = re.compile(r"(?:19|20)\d{2}\s*年|\d{1,2}\s*月\s*\d{1,2}\s*日|年底|月底|年内|前完成|前开行")
DURATION = re.compile(r"\d+\s*(?:个)?(?:工作日|天|日|个月|月|年|小时|周)|半年")

ASKS = (  # question pattern → the kind of number or name a good answer sentence carries
    (re.compile(r"电话|phone|call\b|contact", re.I), re.compile(r"\d{7,8}|\d{3,4}-\d{7,8}")),
    (re.compile(r"文号|发文字号|document number|reference number", re.I),
     re.compile(r"[〔\[［]\s*(?:19|20)\d{2}\s*[〕\]］]")),
    (re.compile(r"多少钱|金额|资金|多少万|多少元|how much (?:money|funding|public money|central)|budget|amount|"
                r"how large|fund", re.I), AMOUNT),
    (re.compile(r"比例|比率|百分|增长多|增幅|降幅|降了多少|多快|rate|share|proportion|percent|discount|grow|fall|"
                r"faster", re.I), RATE),
    (re.compile(r"何时|什么时候|哪一?年|哪天|几月|日期|时间|when\b|what year|what date", re.I), DATE),
    (re.compile(r"多久|多长时间|几个工作日|多少(?:个)?工作日|how long|how soon|how fast|how often", re.I), DURATION),
    (re.compile(r"多少|几|how many|number of|how much", re.I), COUNT),
    (re.compile(r"哪些?(?:本地|家)?(?:企业|公司)|which (?:local )?(?:compan|firm|enterprise|maker)", re.I),
     re.compile(r"有限公司|集团|股份|[\u4e00-\u9fff]{2,}(?:公司|医疗|科技)")),
    (re.compile(r"接下来|下一步|今后|未来|计划|打算|将来|\bwill\b|\bplan", re.I),
     re.compile(r"下一步|下阶段|今后|将|拟|计划|力争")),
)
EXACT_CUES = (ASKS[0][1], ASKS[1][1])  # a phone or document number: its pattern nearly is the answer
SUPPORT_QUESTION = re.compile(
    r"补助|补贴|奖励|奖补|资助|扶持|支持|费用|收费|减免|优惠|贴息|创新券|资金|政策|"
    r"subsid|reward|fee|support|grant|fund|incentive|voucher|allowance|discount|award|bonus|loan", re.I)
SUPPORT_WORD = re.compile(r"补助|补贴|奖励|奖补|资助|扶持|专项支持|给予支持|贴息|减免|优惠|创新券|专项资金|以奖代补")


def number_spans(text: str) -> list[tuple[int, int]]:
    """Spans of amounts, percentages, counts, caps and dates in ``text``, for highlighting."""
    return [(m.start(), m.end()) for m in NUMBER.finditer(text) if any(c.isdigit() for c in m.group())]



def wanted_figures(question: str) -> list[re.Pattern[str]]:
    """What an answering sentence should carry: the first matching kind of number or name, and a support
    measure when the question asks about subsidies, rewards, fees or support."""
    wanted = [next((pattern for ask, pattern in ASKS if ask.search(question)), None)]
    if SUPPORT_QUESTION.search(question):
        wanted.append(SUPPORT_WORD)
    return [p for p in wanted if p is not None]

