"""What an answer is: the answer text, its citations (exact quotes at letter offsets) and a support table."""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..retrieve.hits import Hit
from .answer_type import KIND_WORDS

ABSTAIN_ZH = "现有答复函未涉及该问题。"
ABSTAIN_EN = "The indexed letters do not address this."
LEAD_EN = "The reply letters say (quoted in the original Chinese):"
CLOSEST_ZH = "最接近的段落（但并未回答该问题）："
CLOSEST_EN = "Closest passages, but not an answer:"

_CJK = re.compile(r"[\u3400-\u9fff]")
_LATIN_WORD = re.compile(r"[A-Za-z]{2,}")


@dataclass(frozen=True)
class Citation:
    """One quoted sentence: ``quote == letter.text[start:end]``, inside ``hit.start..hit.end``.

    Attributes:
        n: the number shown as ``[n]`` in the answer text.
        hit: the passage the sentence comes from.
        quote: the exact sentence.
        start: offset of the sentence in the letter's text.
        end: offset just past the sentence.
    """

    n: int
    hit: Hit
    quote: str
    start: int
    end: int

    @property
    def letter_id(self) -> str:
        return self.hit.letter_id

    @property
    def citation(self) -> str:
        return self.hit.citation


@dataclass(frozen=True)
class SupportItem:
    """One support measure found in the letters (a row of the support table); any field may be ``None``.

    Attributes:
        what: what is supported (the measure and its object).
        amount: the amount or rate (``30%``, ``不超过8%``, ``50万元``).
        cap: the ceiling (``最高400万``).
        condition: who qualifies or on what terms.
        agency: the department granting it, or the letter's agency.
        citation_n: the :class:`Citation` (its ``n``) quoting the sentence.
    """

    what: str | None
    amount: str | None
    cap: str | None
    condition: str | None
    agency: str | None
    citation_n: int


# why an answer declines, in English for the CLI and the API; the UI words each kind in its own language (labels.py)
_NOTES_EN = {
    "no_passage": "no passage matched",
    "absent_words": "{0}% of the question's words are in none of the letters",
    "unplaced": "none of the letters found mentions {places}",
    "missing_kind": "the letter found states no {kind}, which the question asks for",
    "too_weak_for_model": "the evidence is too weak to ask the language model",
}


@dataclass(frozen=True)
class Note:
    """A note on an answer, structured so that an interface can word it in its own language: a ``kind`` from
    ``NOTE_KINDS`` and its ``values`` as the user wrote them (a place) or as figures (a share in percent).

    ``str(note)`` is the English sentence the CLI and the API print:

    >>> str(Note("unplaced", ("France",)))
    'none of the letters found mentions France'
    """

    kind: str
    values: tuple[str, ...] = ()

    def __str__(self) -> str:
        return _NOTES_EN[self.kind].format(*self.values, places=", ".join(self.values),
                                           kind=KIND_WORDS.get(self.values[0], self.values[0]) if self.values else "")


NOTE_KINDS = tuple(_NOTES_EN)


@dataclass(frozen=True)
class Answer:
    """The answer to one question.

    ``text`` carries ``[n]`` markers that refer to ``citations``; when ``abstained`` it says so plainly
    and ``hits`` are the closest passages, shown as "closest, but not an answer".

    Example:
        >>> answer.text
        '经信部门对企业取得二类、三类医疗器械产品相关资质给予专项支持；[1]'
        >>> answer.citations[0].quote == index.letter(answer.citations[0].letter_id).text[
        ...     answer.citations[0].start:answer.citations[0].end]
        True
    """

    question: str
    text: str
    citations: tuple[Citation, ...]
    confidence: float
    abstained: bool
    hits: tuple[Hit, ...]
    support: tuple[SupportItem, ...] = ()
    notes: tuple[Note | str, ...] = ()  # a Note the interface words in its language, or an English sentence
    mode: str = "extractive"
    language: str = "zh"
    absent_share: float = 0.0  # share of the question's content words that no indexed passage contains
    unplaced: tuple[str, ...] = ()  # places the question names that none of the retrieved letters mentions
    # the kind of answer the question asks for (amount, count, rate, date…, see answer_type.py) when none of the
    # sentences quoted from the best letter states one; "" when it asks for none or one is stated
    missing_kind: str = ""



def question_language(question: str) -> str:
    """``zh`` when the question is written in Chinese, else ``en``.

    An English question may name a Chinese term or document ("Can 创新券 pay for clinical trials?"): it is
    Chinese when its Chinese characters, about two to a word, outnumber its English words.

    Example:
        >>> question_language("Can 创新券 pay for clinical trials?"), question_language("二类 device 补助？")
        ('en', 'zh')
    """
    chinese = len(_CJK.findall(question))
    return "zh" if chinese and chinese >= 2 * len(_LATIN_WORD.findall(question)) else "en"

