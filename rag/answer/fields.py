"""Questions about a letter's own particulars: its contact, document number, signer, date, addressee, and (each
with its switch) the proposal's number, the handling result, the replying office and the departments the reply was
settled with (经商…，现答复如下).

Their answers are lines of the letter's header or signature block ("联系人及电话：梁 沛 0311-87801895"), which
share few words with the question and little meaning, so sentence scoring alone ranks them low. The parser
already reads these fields (:class:`~rag.parse.Letter`); a sentence that states the field a question asks for,
of its own letter, is preferred.

Two kinds are asked in many wordings: who proposed what the letter answers (its addressee, "李佳代表："), asked
"Which CPPCC member wrote…", "Who suggested…", "Whose proposal…", "是谁提的"; and the letter's own date, asked
"When did the bureau send its reply…", "这份复函是哪天发的" (a date the letter reports, "When did the State
Council issue…", is not its own). ``broad`` adds those wordings (``Config.broad_field_cues``) and ``dated`` the
date field (``Config.letter_date_field``).
"""

from __future__ import annotations

import re

from ..chunk import split_sentences
from ..parse import Letter
from ..retrieve.hits import Hit, citation
from .terms import fold

# field → (what a Chinese question asks it with, what an English one does)
FIELD_QUESTIONS: dict[str, tuple[re.Pattern[str], re.Pattern[str]]] = {
    "contact": (re.compile(r"联系人|联系电话|联系方式|联系谁|找谁|电话|咨询"),
                # "Who can I call…", "call the bureau", not "What did Hebei call its scheme?" (a name)
                re.compile(r"\bcontact|\bphone|\btelephone|\bwho (?:should|can|do) (?:i|we) (?:ask|call)|"
                           r"\b(?:i|we|you|one|to) (?:can |could |should |may )?call\b|\bcall (?:about|for|at|on|them|"
                           r"him|her|someone|somebody|the (?:office|bureau|department|hotline|commission))\b", re.I)),
    "doc_number": (re.compile(r"文号|发文字号|函号"),
                   re.compile(r"\b(?:document|reference|file|letter) (?:number|no\b)", re.I)),
    # "Who approved the bureau's reply…", "Which official reviewed and approved it" (…经杨军局长审定)
    "signer": (re.compile(r"签发|签批|谁签|(?:谁|哪位(?:领导)?)[^，。？?]{0,4}(?:审定|审签|批准)|审定人"),
               # signing or approving the reply itself: not "Who had to sign off on adding buses", "signed up online"
               re.compile(r"\bsigner\b|\bsigned by\b|\b(?:sign(?:ed|s)?|approv(?:ed|es?)|review(?:ed|s)?|"
                          r"okay(?:ed)?|clear(?:ed)?)\b(?: (?:off|and approved|and signed))?(?: on)? "
                          r"(?:the |this |that |its |their |his |her )?(?:[\w'’-]+ ){0,6}?"
                          r"(?:reply|replies|letter|response|answer|comments|document)\b|\b(?:reply|letter|response|answer|comments)\b[^?]{0,60}\bsigned\b|"
                          r"\b(?:which|what) (?:official|leader|person|director|head|officer)\b[^?]{0,40}"
                          r"\b(?:approv|review|clear|okay|sign)", re.I)),
    "addressee": (re.compile(r"哪位代表|哪位委员|哪个代表|哪个委员|代表是谁|委员是谁|谁提出|谁提的"),
                  re.compile(r"\bwhich (?:deputy|member|delegate)|\bwho (?:proposed|raised|submitted|asked)", re.I)),
}
# the further wordings of Config.broad_field_cues: who proposed it in any words (the addressee, when a deputy or a
# member: a letter addressed to a department passes on another's proposal), and whom the letter is written to
_BROAD_QUESTIONS: dict[str, tuple[re.Pattern[str], re.Pattern[str]]] = {
    "proposer": (
        re.compile(r"哪位(?!领导)|哪几位|谁(?:提|建议|写)|提案人|建议人|提出人"),
        re.compile(r"\bwhich (?:\w+ ){0,3}(?:deput(?:y|ies)|members?|delegates?)\b"
                   r"|\bwho (?:\w+ ){0,2}(?:proposed|suggested|raised|submitted|asked|wrote|made|put forward|"
                   r"brought|called for|is the (?:deputy|member|delegate))|\bwhose (?:proposal|suggestion|motion)",
                   re.I)),
    "addressee": (re.compile(r"写给|发给|答复给|回复给|主送|致哪"),
                  re.compile(r"\b(?:sent|addressed|written|replied) to\b", re.I)),
}
_DEPUTY = re.compile(r"\S{2,}(?:代表|委员)们?$")  # a name before it: "代表：" alone names nobody
# a line opening with who proposed what the letter answers: "王宇伟提出的关于…", "程漫等3位代表提出的《…》"
_PROPOSED_BY = re.compile(r"^[ \t\u3000]*([^\s:：，,。、《“\"]{2,12}?)(?:等\d+位)?(?:代表|委员)?提出", re.M)
_PRONOUNS = frozenset({"你们", "您们", "你们在", "您在", "你在"})
# the letter's own date: the question names the letter (its reply, its comments) and asks when
_DATE_QUESTIONS = (
    re.compile(r"落款|成文日期|发文日期|(?:答复|复函|回函|回复|会办意见|这份|该函|此函)[^，。？?]*?"
               r"(?:哪天|哪一天|哪日|什么时候|何时|日期|几月几[日号])"),
    re.compile(r"\b(?:when|what date|which date|what day)\b[^?]*?\b(?:reply|replied|response|responded|letter|"
               r"comments?|answer(?:ed)?)\b|\bdated\b|\bdate (?:is )?on\b", re.I),
)
# the number of the proposal or suggestion answered (第200号建议, 151086号提案): "What number was the suggestion…"
_PROPOSAL_QUESTIONS = (
    re.compile(r"第几号|几号(?:提案|建议|议案)|(?:提案|建议|议案)[^，。？?]{0,4}(?:编号|号码|多少号)|多少号"),
    re.compile(r"\bwhat (?:number|no\.?) (?:was|is|did|does|has) (?:the |this |that |his |her |their )?"
               r"(?:[\w'’-]+ ){0,4}(?:suggestion|proposal|motion)s?\b|"
               r"\b(?:suggestion|proposal|motion)(?:'s)? (?:number|no\b)|"
               r"\bnumber (?:of|was|is) the (?:[\w'’-]+ ){0,3}(?:suggestion|proposal|motion)\b", re.I))
# the replying office: "Which Laiwu district office wrote back…", "Which government office in Anning dealt with…",
# "这份答复是哪个部门发的"
_AGENCY_QUESTIONS = (
    re.compile(r"哪个(?:部门|单位|机构|局|委|政府)[^，。？?]{0,8}(?:答复|回复|回的|复函|发的|发布|办理的|写的)|"
               r"谁(?:答复|回复|回|写|发)的|(?:答复|回复|复函|发文|发布)(?:单位|部门|机关|机构)"),
    re.compile(r"\bwhich (?:[\w'’-]+ ){0,4}(?:office|department|bureau|agency|government|authority|body|commission)\b"
               r"[^?]{0,60}?\b(?:wrote|replied|answered|responded|issued|put out|published|dealt with|handled|"
               r"signed)\b|"
               r"\bwho (?:wrote|replied to|answered|responded to|issued|sent) (?:the |this |that )?(?:reply|response|"
               r"letter|answer|comments|suggestion|proposal)", re.I))
# how the proposal was handled, a page label ("办理结果:部分采纳", "办理结果:B"): "was it adopted?", "采纳了吗"
_RESULT_QUESTIONS = (re.compile(r"办理结果|采纳|答复类别|办理类别"),
                     re.compile(r"\badopt(?:ed|ion)?\b|\b(?:handling|processing) result|\boutcome of\b|"
                                # "did they take up / accept / act on the suggestion"
                                r"\b(?:take|took|taken|accept(?:ed)?|act(?:ed)? on)\b(?: up)?\s+"
                                r"(?:the |his |her |their |this |that |my |our )?(?:[\w-]+ ){0,3}"
                                r"(?:suggestion|proposal|idea|recommendation|motion)s?\b",
                                re.I))
_RESULT = re.compile(r"(?:办\s*理\s*结\s*果|答\s*复\s*类\s*别|办\s*理\s*类\s*别)\s*[:：]?\s*\|?\s*"
                     r"(?:[A-Da-d](?![A-Za-z])|[\u4e00-\u9fff]{2,8})")
# the departments the reply was settled with ("经商人社部、财政部，现答复如下", "经与市财政局、南岸区政府共同研究"):
# "Which district government helped handle the suggestion…", "Which funding body did the ministry talk to before
# answering…", "这件建议还会同了哪些部门"
_CONSULTED_QUESTIONS = (
    re.compile(r"会同|会办|协办|商请|一起(?:研究|办理|商量|答复|回复)|共同(?:研究|办理|答复|回复)|"
               r"(?:跟|和|与|同)哪(?:些|几|个)?(?:部门|单位|机构)[^，。？?]{0,8}(?:商量|研究|办理|沟通|协商|一起|共同)|"
               r"征求了?哪|商了?哪"),
    re.compile(r"\b(?:help(?:ed|s)?|assist(?:ed|s)?)\b (?:to )?(?:\w+ )?(?:handle|answer|deal with|reply|respond|"
               r"process|study|look into|draft)\b|\bconsult(?:ed|ing|s)?\b|\bco-?handl|\bjointly\b|"
               r"\btogether with\b|\b(?:talk(?:ed|s)?|spoke|speak|check(?:ed|s)?|confer(?:red|s)?|discuss(?:ed|es)?|"
               r"coordinat(?:e|ed|es)|work(?:ed|s)?)\b[^?]{0,30}\b(?:with|to)\b[^?]{0,60}\b(?:before|when|while|in) "
               r"(?:answering|replying|writing|responding|drafting)\b|\bwhich (?:other )?(?:[\w-]+ ){0,2}"
               r"(?:departments|offices|bodies|agencies|bureaus|units|governments)\b[^?]{0,30}\b(?:involved|"
               r"consulted|took part|joined|helped|worked on)\b", re.I))
# what the letter says of them: the verb, the departments, and the studying or replying that followed
_CONSULTED = re.compile(r"(?:经商|经与|会同|商请|经征求|征求了?)[^，。；,;:：\n]{2,80}?(?:等(?:相关|有关|会办|协办)?"
                        r"(?:部门|单位)?)?(?:的?意见)?(?:[^，。；,;\n]{0,14}?(?:研究|办理|讨论|商议)|"
                        r"[,，]\s*现(?:将|就)?[^，。；\n]{0,10}?(?:答复|回复)如下)")
# the fields asked only with their switch, in the order they are listed when asked
_OPTIONAL_QUESTIONS = (("consulted", _CONSULTED_QUESTIONS), ("date", _DATE_QUESTIONS), ("result", _RESULT_QUESTIONS),
                       ("proposal", _PROPOSAL_QUESTIONS), ("agency", _AGENCY_QUESTIONS))
# the fields read from the letter's text, not from the parser: (pattern, at most this many of its matches)
_TEXT_FIELDS = {"result": (_RESULT, 1), "consulted": (_CONSULTED, None)}
_FIELDS_OF = {"contact": ("contact", "phone"), "doc_number": ("doc_number",), "signer": ("signer",),
              "proposal": ("proposal_number",), "agency": ("agency",),
              "addressee": ("addressee",), "proposer": ("addressee",), "date": ("date",)}
_ISO = re.compile(r"((?:19|20)\d{2})-(\d{2})-(\d{2})")
_CN_DIGITS = "〇一二三四五六七八九"


def asked_fields(question: str, language: str, *, broad: bool = False, dated: bool = False,
                 result: bool = False, numbered: bool = False, replying: bool = False,
                 consulted: bool = False) -> tuple[str, ...]:
    """The letter fields ``question`` asks for (``language``: ``zh`` or ``en``); ``broad``: in the further wordings
    too, ``dated``: the letter's own date as well, ``result``: how the proposal was handled (办理结果), ``numbered``:
    the number of the proposal answered (第200号), ``replying``: the office that replied, ``consulted``: the
    departments the reply was settled with (经商…、经与…共同研究)."""
    pick = 0 if language == "zh" else 1
    asked = [name for name, patterns in FIELD_QUESTIONS.items() if patterns[pick].search(question)]
    if broad:
        asked += [name for name, patterns in _BROAD_QUESTIONS.items()
                  if name not in asked and patterns[pick].search(question)]
    on = {"consulted": consulted, "date": dated, "result": result, "proposal": numbered, "agency": replying}
    for name, patterns in _OPTIONAL_QUESTIONS:
        if on[name] and patterns[pick].search(question):
            asked.append(name)
    return tuple(asked)


def field_values(letter: Letter | None, fields: tuple[str, ...]) -> tuple[str, ...]:
    """The folded values ``letter`` states for ``fields`` (as :func:`~rag.answer.terms.fold` gives them); a date
    in each way a letter writes it (2021-06-30, 2021年6月30日, 二〇二一年六月三十日…)."""
    if letter is None:
        return ()
    values = [(name, getattr(letter, attribute)) for name in fields for attribute in _FIELDS_OF.get(name, ())]
    for name, (pattern, most) in _TEXT_FIELDS.items():
        if name in fields:
            values += [(name, match.group().strip()) for match in pattern.finditer(letter.text)][:most]
    out: list[str] = []
    for name, value in values:
        if value and (name != "proposer" or _DEPUTY.search(value)):
            out += date_forms(value) if name == "date" else [value + "号"] if name == "proposal" else [value]
        elif name == "proposer":  # addressed to a department: the proposer is named where the body opens
            out += [match.group(1) for match in _PROPOSED_BY.finditer(letter.text)
                    if match.group(1) not in _PRONOUNS][:1]
    return tuple(folded for value in out if len(folded := fold(value)) >= 2)


def date_forms(iso: str) -> list[str]:
    """The ways a letter writes the date ``iso`` (YYYY-MM-DD); empty for anything else."""
    match = _ISO.fullmatch(iso)
    if not match:
        return []
    year, month, day = match.groups()
    m, d = int(month), int(day)
    return [iso, f"{year}年{m}月{d}日", f"{year}年{month}月{day}日", f"{year}/{month}/{day}", f"{year}.{month}.{day}",
            f"{year}-{m}-{d}", "".join(_CN_DIGITS[int(c)] for c in year) + f"年{_cn_number(m)}月{_cn_number(d)}日"]


def _cn_number(n: int) -> str:
    tens, ones = divmod(n, 10)
    return (("" if tens == 1 else _CN_DIGITS[tens]) + "十" if tens else "") + (_CN_DIGITS[ones] if ones else "")


def states_field(folded_sentence: str, values: tuple[str, ...]) -> bool:
    """Whether a sentence (folded) states one of the values."""
    return any(value in folded_sentence for value in values)


def line_fields(asked: tuple[str, ...]) -> tuple[str, ...]:
    """The fields asked that only the letter's own line can answer: whom it answers and when it is dated, who signed
    it, its contact (the labelled 联系人 line the parser read). A document number asked for may be another's the letter
    cites (慈市监管〔2020〕3号)."""
    return tuple(name for name in asked if name in ("addressee", "proposer", "date", "signer", "result", "proposal",
                                                         "agency", "contact"))


def field_line_hit(letter: Letter | None, values: tuple[str, ...], rank: int, max_chars: int = 80) -> Hit | None:
    """The line of ``letter`` stating one of the (folded) field ``values``, as a passage of its own, when it is short
    (a header or signature line: "田群代表:", "2023年4月21日"); ``None`` when no such line exists.

    A letter's addressee or date line may sit in a chunk that retrieval did not return: the question names the
    letter's topic, not its header. The line is a whole sentence of the letter, so it is quoted and cited as one.
    """
    if letter is None or not values:
        return None
    position = 0
    for line in letter.text.split("\n"):
        start, end = position, position + len(line)
        position = end + 1
        spans = split_sentences(line, start)
        if len(spans) == 1 and spans[0][1] - spans[0][0] <= max_chars and states_field(fold(line), values):
            s, e = spans[0]
            return Hit(text=letter.text[s:e], score=0.0, letter_id=letter.letter_id, doc_number=letter.doc_number,
                       title=letter.title, agency=letter.agency, date=letter.date, section="", start=s, end=e,
                       citation=citation(letter, ""), chunk_id=f"{letter.letter_id}:{s}-{e}", rank=rank,
                       dense_score=None, lexical_score=None, path=letter.path, region=letter.region)
    return None
