"""What kind of answer a question asks for (an amount, a count, a rate, a date…) and whether a sentence holds one.

Classic question answering's answer-type check. A question asking "how much" is answered by a sentence stating
a sum of money, not by one that merely names the project asked about: when the letter about the very project
does not state the figure (a phase's investment, a bed count, a rate), its closest sentences are near the topic
but no answer, and the answer says so (:func:`missing_kind`, used by :mod:`.extractive`).

Example:
    >>> asked_kind("城口县社区医养中心项目总投资是多少万元？"), asked_kind("How many ICU beds are there?")
    ('amount', 'count')
    >>> missing_kind("What is the total investment for phase I?", ["项目总投资1.2亿元。"]) is None
    True
    >>> missing_kind("项目总投资是多少？", ["项目已完成可行性研究。"])
    'amount'
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

# a number in digits or Chinese numerals (一百二十, 两, 12.5, 1,200)
_NUM = r"(?:\d+(?:[.,]\d+)*|[零〇一二两三四五六七八九十百千]+(?:[点.][零〇一二三四五六七八九]+)?)"
_CLASSIFIER = (r"(?:个|家|所|张|台|名|人|位|项|次|批|类|期|套|件|种|户|款|级|处|辆|部|座|条|床|间|栋|层|本|册|只|头|份|"
               r"公里|千米|平方米|平方公里|米|亩|吨|公顷|人次|万人|个工作日|工作日|天|个月|年|小时|分钟|届|场|轮)")
# "30多万元", "2.1亿余元", "近百万元": an approximate sum is money too
_MONEY = re.compile(_NUM + r"\s*(?:余|多)?\s*(?:万亿|亿|万|千|百)?\s*(?:余|多)?\s*(?:元|块钱)|"
                    r"\d+(?:\.\d+)?\s*(?:万|亿)(?![\u4e00-\u9fff])|"
                    r"\d+(?:\.\d+)?\s*(?:万|亿)(?=(?:以上|以下|左右|进行|的|用于|资金|投资|补助|奖励|补贴))")
# a share, a multiple or a figure per so many ("每500户配置1人", "每千人口床位数")
_RATE = re.compile(r"\d+(?:\.\d+)?\s*[%％‰]|百分之|个百分点|每\s*(?:\d|[百千万])|"
                   r"(?<![\u4e00-\u9fff])[一二三四五六七八九]成|"
                   r"\d+(?:\.\d+)?\s*折|" + _NUM + r"\s*倍")
_COUNT = re.compile(_NUM + r"\s*(?:余|多)?\s*(?:万|亿)?\s*" + _CLASSIFIER + r"|逾\s*\d+|\d+\s*(?:余|多)")
_DATE = re.compile(r"(?:19|20)\d{2}\s*(?:年|[-./—–])|\d{1,2}\s*月(?:\s*\d{1,2}\s*日)?|[一二三四五六七八九十]{1,2}月|"
                   r"\d{1,2}\s*日|年底|年初|年末|年内|月底|月初|上半年|下半年|今年|明年|去年|当年")
_DURATION = re.compile(_NUM + r"\s*(?:个)?\s*(?:工作日|天|日|月|年|小时|分钟|周|星期|季度)|半年|半个月|"
                       r"按(?:年|月|季|周)|[每逐](?:年|月|季|周|天|日)|年度|月度|季度|定期")
_PHONE = re.compile(r"\d{3,4}\s*[-－—]\s*\d{7,8}|(?<!\d)\d{7,8}(?!\d)|(?<!\d)1[3-9]\d{9}(?!\d)")
# "how much waste", "how much land": a quantity of a thing, counted in its unit (吨, 亩), not a sum of money. A word
# that is no noun (did, is), a money word or words before one ("how much repair money") keeps "how much" asking
# for money; a comparative ("how much faster") asks for a difference, neither
_GOODS = (r"(?!(?:[a-z-]+ ){0,2}(?:money|funding|funds?|investment|subsid\w*|grants?|budget|capital|spending)\b)"
          r"(?!(?:faster|slower|longer|shorter|more|less|time|of|cheaper|dearer|lower|higher|better|worse|bigger|"
          r"smaller|larger|greater|further|cash|compensation|"
          r"rewards?|allowances?|fees?|pay|salary|income|revenue|tax\w*|financ\w*|support|aid|did|does|do|is|was|are|"
          r"were|will|would|has|have|had|can|could|should|may|might|in|for|from|to|on|at|by|with|each|per|a|an|the|"
          r"this|that|it|they|public|central|local|state|government|extra|additional|new|total|overall|annual|"
          r"yearly|monthly|special|financial|fiscal|provincial|municipal|national|county|city)\b)[a-z]+\b")
_UNIT = re.compile(r"[\u4e00-\u9fff]{2,}(?:局|委员会|管委会|委|厅|办公室|办|部|中心|公司|医院|政府|协会|学会|院|所|"
                   r"站|队|集团|大学|学校|银行|基金会|处|科|室)")


@dataclass(frozen=True)
class AnswerKind:
    """A kind of answer: how Chinese and English questions ask for it, and what a sentence holding one contains."""

    name: str
    zh: re.Pattern[str]
    en: re.Pattern[str]
    holds: tuple[re.Pattern[str], ...]


# First match wins: a rate asked "报销比例是多少" is not an amount, a duration asked "几个工作日" not a count.
# Persons and companies are not kinds: their names (季琪昕, 河北志晟信息技术) have no shape a pattern can check.
KINDS = (
    AnswerKind("phone", re.compile(r"电话|手机号|联系方式|热线"),
               re.compile(r"\b(?:phone|telephone|hotline)\b|\bon what number\b", re.I), (_PHONE,)),
    AnswerKind("duration",
               re.compile(r"多久|多长时间|多长(?:的)?(?:时间|周期|期限)|几个工作日|多少个?工作日|几天|多少天|几分钟|多少分钟|几个月|多少个月|几小时|"
                          r"多少小时|(?<!哪)几年(?!级)|多少年(?!代)"),
               re.compile(r"\bhow (?:long|soon|often)\b|\bhow many (?:working |business |calendar )?"
                          r"(?:days|weeks|months|years|hours|minutes)\b", re.I),
               (_DURATION,)),
    AnswerKind("rate",
               re.compile(r"比例|比率|百分之?几|百分比|占比|多少%|[\u4e00-\u9fff]率[^，,。？?；;]{0,5}多少|"
                          r"降了多少|下降(?:了)?多少|降幅|增幅|增速|增长(?:了)?多少|增长多快|打几折|几折|折扣"),
               # "what rate", "what is the VAT rate", "what is the extra deduction ratio": copula, modifiers between
               re.compile(r"\bpercent|\bpercentage\b|\bwhat (?:share|proportion|fraction)\b|"
                          r"\bwhat (?:(?:is|was|are|were|will be) (?:the |a |an )?)?(?:[\w-]+ ){0,3}(?:rate|ratio)s?\b|"
                          r"\bat what (?:\w+ )?rate\b|\bby how much\b|\bhow (?:fast|quickly)\b.*\bgrow|\bdiscount\b",
                          re.I),
               (_RATE,)),
    AnswerKind("amount",
               re.compile(r"多少钱|多少元|多少万|多少亿|几万元|几千元|金额|总投资|投资(?:了|是|为|额)?多少|花了多少|"
                          r"(?:花费|耗资|价格|售价|票价|收费|费用|预算|资金)(?:是|为|标准)?多少|"
                          r"(?:奖励|补贴|补助|资助|奖补|补偿|报销|支付|给|拨|投入|投|拿到|争取到|安排|获得)(?:了)?"
                          r"多少(?!个|家|所|张|台|名|人|位|项|次|批|类|期|套|件|种|户|款|级|床|天|年|月)|"
                          # a limit or a standard of money asked for: "补贴标准是多少", "上限是多少", "最高能补多少"
                          r"(?:补贴|补助|奖励|资助|收费|价格|费用)的?(?:标准|上限|限额)(?:是|为)?多少|(?:上限|限额)(?:是|为)?多少|"
                          r"最高(?:能|可以?)?(?:补|奖|给|拿|领|报销?|支付)?到?多少"
                          r"(?!个|家|所|张|台|名|人|位|项|次|批|类|期|套|件|种|户|款|级|床|天|年|月)"),
               # "What subsidies exist?" and "Can trial costs be covered?" ask for none: a figure is asked "how
               # much", "what did … cost", "what is the price/total investment", "what monthly subsidy…"
               # "how much cheaper", "how much lower" ask for a difference, often a rate (平均降幅达到44%): no amount
               re.compile(r"\bhow much\b(?! (?:faster|slower|longer|shorter|more|less|time|of|cheaper|dearer|lower|"
                          r"higher)\b)(?! " + _GOODS + r")|"
                          r"^\s*what (?:does|did|do|will|would)\b.{0,80}\bcost\b|"
                          r"\bwhat (?:is|was|are|were|will be) the (?:\w+ ){0,3}(?:cost|price|fee|budget|investment|"
                          r"amount)s?\b|\bhow (?:large|big|high)\b.{0,40}\b(?:reward|subsidy|grant|fund|amount|"
                          r"investment|budget)|\b(?:total|overall) (?:investment|budget|cost)|^\s*(?:what|how)\b.{0,40}"
                          r"\b(?:monthly|annual|yearly|per[- ]\w+)\b.{0,30}\b(?:subsidy|funding|allowance|grant|fee|"
                          r"payment)|"
                          # "what price cap…", "what is the subsidy ceiling", "the maximum grant": a limit is a figure
                          r"\bwhat (?:(?:is|was|are|were|will be) (?:the |a |an )?)?(?:[\w-]+ ){0,2}(?:price|fee|cost|"
                          r"subsid(?:y|ies)|grant|reward|allowance|payment|budget|funding|investment)s? (?:cap|ceiling|"
                          r"limit|standard)s?\b|\bwhat(?:'s| is| was| are| were)? the (?:maximum|minimum|upper limit|"
                          r"cap|ceiling) (?:on |of |for )?(?:the )?(?:[\w-]+ ){0,2}(?:price|fee|subsid(?:y|ies)|grant|"
                          r"reward|allowance|payment)s?\b", re.I),
               (_MONEY,)),
    AnswerKind("date",
               re.compile(r"什么时候|何时|哪一?年(?!级)|哪几年|哪天|哪一天|几月|(?<!第)几号|哪个月|日期|什么时间"),
               # "When Hebei invites…, which firms…?": a clause opening with "when" asks no date
               re.compile(r"^\s*when\b(?![^?]*,\s*(?:which|what|who|whom|how|where)\b)|"
                          r"[,;:]\s*when\b|\bwhen (?:did|will|does|do|is|was|were|are|can|has|have|"
                          r"should|would)\b|\b(?:what|which|in what|in which) (?:year|date|day|month)\b|\bby when\b|"
                          r"\buntil when\b|\bwhat (?:is |was )?the deadline\b",
                          re.I),
               (_DATE,)),
    AnswerKind("count",
               # a length, a width, an area is counted in its unit (1.1万米, 310亩): "多长的标线", "多大面积"
               re.compile(r"(?<![哪第])(?:多少|几)" + _CLASSIFIER + r"|人口(?:数|总数)?(?:是|有|为)?多少|"
                          r"多(?:长|宽|高|远|深)(?!时间)|多大(?:的)?(?:面积|规模)"),
               re.compile(r"\bhow many\b|(?<!document )(?<!reference )(?<!phone )(?<!contact )\bnumber of\b|"
                          r"\bpopulation\b|\bhow much (?=" + _GOODS + r")", re.I),
               (_COUNT,)),
    AnswerKind("unit",
               re.compile(r"哪(?:个|些|家)(?:部门|单位|机构|省直部门|市直部门|科室|处室)|由谁牵头|谁牵头|谁负责|哪个机构"),
               re.compile(r"\bwhich (?:\w+ ){0,3}(?:departments?|agenc(?:y|ies)|offices?|bureaus?|authorit(?:y|ies)|"
                          r"bod(?:y|ies)|units?|organi[sz]ations?)\b", re.I),
               (_UNIT,)),
)
# what a count question counts, when it says (多少台, how many beds): a count of something else does not answer it
_ZH_COUNTED = re.compile(r"(?<![哪第])(?:多少|几)\s*(" + _CLASSIFIER[3:-1] + r")([\u4e00-\u9fff]{1,2})?")
_EN_COUNTED = ((re.compile(r"\bbeds?\b", re.I), "床|张"),
               (re.compile(r"\bsquare met(?:re|er)s?\b", re.I), "平方米"),
               (re.compile(r"\b(?:kilomet(?:re|er)s?|km)\b", re.I), "公里|千米"),
               (re.compile(r"\bmet(?:re|er)s?\b", re.I), "米"),
               (re.compile(r"\b(?:tonnes|tons)\b", re.I), "吨"),
               (re.compile(r"\bhectares?\b", re.I), "公顷"),
               # people are counted in 人, 名, 位 (33700人, 21937名老年人); a count of schools or projects is no answer
               (re.compile(r"\b(?:students?|pupils?|people|persons|residents|patients|population|inhabitants)\b",
                           re.I), "人|名|位|人次|百姓|群众|居民|村民|农民|市民"),
               (re.compile(r"\bhouseholds?\b", re.I), "户"),
               (re.compile(r"\btimes\b", re.I), "次|人次|届|场|轮|期"),
               (re.compile(r"\b(?:companies|firms|enterprises|businesses)\b", re.I), "家|个|户"),
               (re.compile(r"\bschools?\b", re.I), "所|个"),
               (re.compile(r"\bcop(?:y|ies)\b", re.I), "份"))
# classifiers that count the same things: 多少家医院 is answered by 24家, 18所 or 3个
_SAME_COUNT = {"家": "家|所|个", "所": "所|家|个", "个": "个|家|所|项|款|种|位|名", "张": "张|床", "床": "床|张",
               "台": "台|套|件|个", "套": "套|台|件|个", "人": "人|名|位|人次|百姓|群众|居民", "名": "名|人|位",
               "位": "位|名|人",
               "项": "项|个", "款": "款|个|种", "种": "种|个|款", "次": "次|人次"}
# what an English count question counts: the few words after "how many" / "number of" ("How many smart blackboards
# does Wugang plan to buy for its schools?" counts blackboards, not schools)
# ("How many new elderly care beds…": four words, up to the verb or preposition that ends the noun phrase)
_HOW_MANY = re.compile(r"\b(?:how many|number of)\s+((?:(?!(?:does|do|did|is|are|was|were|will|would|have|has|had|"
                       r"can|could|of|in|at|for|on|to|by|from|with|the|a|an)\b)[\w'-]+\s*){1,4})", re.I)
_YEAR = re.compile(r"(?:19|20)\d{2}\s*年")
# "一批龙头企业" is "a number of" firms, no count; "第一批" an ordinal
_VAGUE = re.compile(r"(?<![\d零〇一二两三四五六七八九十百千])一批")
_BARE = re.compile(r"(?:逾|超过?|近|约)\s*\d+(?:[.,]\d+)*(?![\d\u4e00-\u9fff])|"
                   r"\d+(?:[.,]\d+)*\s*(?:余|多)(?![\u4e00-\u9fff])")
_CJK = re.compile(r"[\u3400-\u9fff]")
KIND_WORDS = {"phone": "phone number", "duration": "duration", "rate": "rate or share", "amount": "amount of money",
              "date": "date", "count": "count of what is asked", "unit": "department or body"}


@dataclass(frozen=True)
class AskedAnswer:
    """The kind of answer a question asks for, and the patterns any of which a sentence answering it matches."""

    kind: str
    holds: tuple[re.Pattern[str], ...]

    def held_by(self, text: str) -> bool:
        """Whether ``text`` states an answer of this kind (a sum of money, a count of the things asked…)."""
        text = unicodedata.normalize("NFKC", text)
        if self.kind == "count":
            text = _VAGUE.sub(" ", _YEAR.sub(" ", text))  # 2017年 dates, 一批 is "some": they count nothing
        return any(pattern.search(text) for pattern in self.holds)


def asked_answer(question: str) -> AskedAnswer | None:
    """What ``question`` asks for, or None when it asks for none of :data:`KINDS`."""
    question = unicodedata.normalize("NFKC", question)
    chinese = bool(_CJK.search(question))
    asked: list[AnswerKind] = []  # each part's kind: "投入多少，比上年增长多少" asks an amount and a rate
    taken: list[tuple[int, int]] = []  # where a kind was asked: a later kind's words there are the same ask's
    for kind in KINDS:
        match = (kind.zh if chinese else kind.en).search(question)
        if match and not any(match.start() < end and start < match.end() for start, end in taken):
            asked.append(kind)
            taken.append(match.span())
    if not asked:
        return None
    holds: list[re.Pattern[str]] = []
    for kind in asked:
        counted = _counted(question, chinese) if kind.name == "count" else None
        holds += (_counting(counted), _BARE) if counted else kind.holds
    return AskedAnswer(asked[0].name, tuple(dict.fromkeys(holds)))


# a plural question for departments ("哪些部门", "which agencies") is answered by a list of them: 甲局、乙委和丙公司
_PLURAL_UNITS = (re.compile(r"哪些"), re.compile(r"\bwhich (?:[\w-]+ ){0,3}(?:departments|agencies|offices|bureaus|"
                                                r"authorities|bodies|units|organi[sz]ations)\b", re.I))
_UNIT_LIST = re.compile(_UNIT.pattern + r"\s*(?:、|和|及|以及|与|,|，)\s*" + _UNIT.pattern)


def lists_answers(question: str, text: str) -> bool:
    """Whether ``question`` asks which departments or bodies (several) and ``text`` lists two or more of them."""
    asked = asked_answer(question)
    chinese = bool(_CJK.search(question))
    return (asked is not None and asked.kind == "unit" and bool(_PLURAL_UNITS[0 if chinese else 1].search(question))
            and bool(_UNIT_LIST.search(unicodedata.normalize("NFKC", text))))


def asked_kind(question: str) -> str | None:
    """The name of the kind of answer ``question`` asks for (``amount``, ``count``, ``rate``, ``date``…)."""
    asked = asked_answer(question)
    return asked.kind if asked else None


def missing_kind(question: str, texts: Iterable[str]) -> str | None:
    """The name of the kind of answer ``question`` asks for when none of ``texts`` holds one, else None."""
    asked = asked_answer(question)
    if asked is None:
        return None
    return None if any(asked.held_by(text) for text in texts) else asked.kind


def _counted(question: str, chinese: bool) -> str | None:
    """The classifiers a count question's answer carries, when the question says what it counts."""
    if chinese:
        match = _ZH_COUNTED.search(question)
        if match is None:
            return "人|名|位|人次" if "人口" in question else None
        classifiers = _SAME_COUNT.get(match.group(1), match.group(1))
        # the thing counted may follow the number straight away: 几个部门 by "6部门", 多少条赛道 by "十大赛道"
        return classifiers + (f"|大?{match.group(2)}" if match.group(2) else "")
    asked = _HOW_MANY.search(question)
    # what is counted is the phrase's last word: "school-area road safety hazards" counts hazards, not schools
    counted = asked.group(1).split()[-1] if asked else question
    return next((classifiers for pattern, classifiers in _EN_COUNTED if pattern.search(counted)), None)


@functools.cache
def _counting(classifiers: str) -> re.Pattern[str]:
    return re.compile(_NUM + r"\s*(?:余|多)?\s*(?:万|亿)?\s*(?:" + classifiers + ")")
