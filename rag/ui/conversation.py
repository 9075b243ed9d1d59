"""One chat turn: resolve a follow-up against earlier questions, answer it (or find passages), keep the evidence."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from rag import BadQuery, Filters, Hit, Letter
from rag.chunk import split_sentences

if TYPE_CHECKING:
    from rag import LLM, Answer, Index, SupportItem
    from rag.answer import Note

Span = tuple[int, int]

_CJK = re.compile(r"[\u3400-\u9fff]")
_WORDS = re.compile(r"[A-Za-z0-9]+(?:[.\-'][A-Za-z0-9]+)*")
# Openers and closers that mark an elliptical follow-up ("那三类呢？", "what about Class III?").
_ZH_LEAD = re.compile(
    r"^(?:那么|那个|那些|那|还有|另外|此外|至于|如果是|换成|同样地?|其中|它们?的?|这个|这些|该)[，,\s]*")
_ZH_TAIL = re.compile(r"(?:的情况|的话|怎么样|如何|呢|吗|么)?[\s？?！!。.，,~～]*$")
_EN_LEAD = re.compile(r"^(?:and\s+)?(?:what|how)\s+about\s+|^what\s+of\s+|^and\s+(?:for\s+)?|^same\s+for\s+|^also\s+",
                      re.IGNORECASE)
_EN_TAIL = re.compile(r"(?:\s+(?:then|too|instead))?[\s?？!.。]*$", re.IGNORECASE)
_EN_PRONOUNS = frozenset("it its they them their those these that this ones one".split())


def is_follow_up(question: str) -> bool:
    """Whether a question leans on the previous one (an opener like 那/what about, a 呢 ending, or very short)."""
    text = unicodedata.normalize("NFKC", question).strip()
    if not text:
        return False
    if _CJK.search(text):
        if _ZH_LEAD.match(text) or re.search(r"呢[\s?？!！。]*$", text):
            return True
        return len(_CJK.findall(text)) <= 3 and not _WORDS.search(text)
    words = [w.lower() for w in _WORDS.findall(text)]
    if _EN_LEAD.match(text):
        return True
    return len(words) <= 2 or (len(words) <= 6 and any(w in _EN_PRONOUNS for w in words))


def _core(question: str) -> str:
    """The follow-up without its openers and closers: "那三类呢？" → "三类"."""
    text = unicodedata.normalize("NFKC", question).strip()
    for _ in range(2):
        text = _ZH_LEAD.sub("", text)
        text = _EN_LEAD.sub("", text)
    text = _ZH_TAIL.sub("", text)
    return _EN_TAIL.sub("", text).strip()


def _substitute(previous: str, core: str) -> str | None:
    """``previous`` with the part that plays the role of ``core`` replaced by it, or None if no part does.

    A part plays the role when it has the same length and agrees with ``core`` in at least half its
    positions without being identical: "二类" for "三类", "Class II" for "Class III".
    """
    matches: list[re.Match[str]] = []
    if _CJK.search(core) and not _WORDS.search(core):
        units, sequence, joiner = list(core), list(previous), ""
    elif not _CJK.search(core):
        units = _WORDS.findall(core)
        matches = list(_WORDS.finditer(previous))
        sequence, joiner = [m.group() for m in matches], " "
    else:
        return None
    size = len(units)
    if not size or size > len(sequence):
        return None
    best, best_at = 0, -1
    for at in range(len(sequence) - size + 1):
        window = sequence[at:at + size]
        same = sum(a.lower() == b.lower() for a, b in zip(window, units, strict=True))
        if same == size:
            return None  # the previous question already says it
        if same > best and same * 2 >= size:
            best, best_at = same, at
    if best_at < 0:
        return None
    if joiner == "":
        return previous[:best_at] + core + previous[best_at + size:]
    start, end = matches[best_at].start(), matches[best_at + size - 1].end()
    return previous[:start] + joiner.join(units) + previous[end:]


def contextualize(question: str, history: Sequence[str]) -> str:
    """The question to search for, using the earlier questions of the conversation as context.

    A follow-up such as "那三类呢？" after "二类医疗器械注册有哪些补助？" becomes
    "三类医疗器械注册有哪些补助？"; one that cannot be merged that way is searched together with
    the previous question. A standalone question is returned unchanged.

    Args:
        question: what the user typed.
        history: the earlier questions as searched (contextualized), oldest first.

    Returns:
        The question to search for.
    """
    question = question.strip()
    previous = next((h.strip() for h in reversed(history) if h and h.strip()), "")
    if not previous or not is_follow_up(question):
        return question
    core = _core(question)
    if not core:
        return previous
    merged = _substitute(previous, core)
    return merged if merged is not None else f"{previous} {question}"


def matching_sentences(hit: Hit, terms: Sequence[str], most: int = 3) -> tuple[Span, ...]:
    """The sentences of a passage that share the most question terms, as letter offsets.

    Args:
        hit: the passage.
        terms: question terms (e.g. ``index.analyzer.query_tokens(question)``, which adds Chinese
            renderings of English terms); single Chinese characters and very short words are ignored.
        most: at most this many sentences.

    Returns:
        Spans in the letter's text, in reading order; empty when no sentence shares a term.
    """
    useful = {t.lower() for t in terms if (len(t) >= 2 and _CJK.search(t)) or (len(t) >= 3 and t.isascii())}
    if not useful:
        return ()
    scored = []
    for start, end in split_sentences(hit.text, hit.start):
        sentence = hit.text[start - hit.start:end - hit.start].lower()
        score = sum(1 for t in useful if t in sentence)
        if score:
            scored.append((score, start, end))
    if not scored:
        return ()
    best = max(s for s, _, _ in scored)
    chosen = sorted(scored, key=lambda item: (-item[0], item[1]))
    chosen = [item for item in chosen if item[0] * 5 >= best * 3][:most]
    return tuple(sorted((start, end) for _, start, end in chosen))


@dataclass(frozen=True)
class CitedPassage:
    """A numbered passage shown with a reply; ``spans`` (letter offsets) are highlighted."""

    n: int
    hit: Hit
    spans: tuple[Span, ...] = ()


@dataclass(frozen=True)
class Turn:
    """One question and its reply, as the UI shows it.

    ``mode`` is ``answer`` (``text`` cites ``evidence`` by number), ``abstained`` (no answer; the
    evidence is the closest passages), ``passages`` (no answerer installed: the top passages),
    ``empty`` (nothing matched), ``filtered`` (the filters leave no letter to search) or ``error``
    (``text`` says what was wrong with the question).
    """

    question: str
    query: str
    mode: str
    text: str = ""
    evidence: tuple[CitedPassage, ...] = ()
    confidence: float | None = None
    support: tuple[SupportItem, ...] = ()
    notes: tuple[Note | str, ...] = ()  # rendered in the interface's language (labels.note_text)
    language: str = ""  # the question's ("zh" or "en"): the reply's own words follow it, not the interface

    def evidence_for(self, n: int) -> CitedPassage:
        """The evidence numbered ``n``. Raises ``KeyError`` naming the number."""
        for item in self.evidence:
            if item.n == n:
                return item
        raise KeyError(f"no citation [{n}] in this reply")


@dataclass(frozen=True)
class Conversation:
    """The turns of one chat session, oldest first (immutable: :meth:`with_turn` returns a new one)."""

    turns: tuple[Turn, ...] = field(default=())

    def queries(self) -> list[str]:
        """The questions a follow-up may lean on, as searched, oldest first (the history for :func:`contextualize`).

        None after a question the letters did not answer: a short question then is a new try, not a refinement
        of the declined one ("补贴" after a declined "医疗器戒注册有什么补贴" is asked as it is).
        """
        asked = [t for t in self.turns if t.mode != "error"]
        if asked and asked[-1].mode not in ("answer", "passages"):
            return []
        return [t.query for t in asked]

    def with_turn(self, turn: Turn) -> Conversation:
        """This conversation with ``turn`` added at the end."""
        return Conversation((*self.turns, turn))


def cited_spans(turn: Turn, item: CitedPassage, letter: Letter) -> tuple[Span, ...]:
    """Where a citation sits in ``letter`` as it is now: the quote for an answer, else the whole passage.

    The letter may have been updated since the reply; the passage is then looked up again, and
    nothing is highlighted if it is gone.
    """
    hit = item.hit
    spans = item.spans if turn.mode == "answer" and item.spans else ((hit.start, hit.end),)
    if letter.text[hit.start:hit.end] == hit.text:
        return spans
    at = letter.text.find(hit.text)
    if at < 0:
        return ()
    return tuple((s + at - hit.start, e + at - hit.start) for s, e in spans)


def make_filters(agency: str | None = None, year_from: int | str | None = None, year_to: int | str | None = None,
                 letters: Sequence[str] = (), region: str | None = None) -> Filters | None:
    """Filters from the UI's choices (empty choices do not filter; a reversed year range is put right)."""
    years = [int(y) for y in (year_from, year_to) if y not in (None, "")]
    low = high = None
    if len(years) == 2:
        low, high = min(years), max(years)
    elif years:
        low, high = (years[0], None) if year_from not in (None, "") else (None, years[0])
    filters = Filters(letters=tuple(letters or ()), agency=agency or None, region=region or None,
                      date_from=f"{low:04d}-01-01" if low is not None else None,
                      date_to=f"{high:04d}-12-31" if high is not None else None)
    return filters or None


def reply(index: Index, question: str, history: Sequence[str] = (), *, k: int | None = None,
          filters: Filters | None = None, answer: bool = True) -> Turn:
    """Answer one chat message.

    Args:
        index: the index to search.
        question: what the user typed (Chinese or English).
        history: earlier questions as searched (:meth:`Conversation.queries`), for follow-ups.
        k: passages to consider (default: ``index.config.answer_passages``, as ``index.ask``).
        filters: restrict to letters, an agency or dates.
        answer: compose an answer (``index.ask``); False shows the top passages.

    Returns:
        The :class:`Turn`; a bad question gives ``mode="error"`` with the reason, never an exception.
    """
    query = contextualize(question, history)
    try:
        if answer:
            return _from_answer(index, question, query, index.ask(query, k=k, filters=filters), filters)
        hits = index.search(query, k=index.config.answer_passages if k is None else k, filters=filters)
    except BadQuery as exc:
        return Turn(question=question, query=query, mode="error", text=str(exc))
    if not hits:
        return Turn(question=question, query=query, mode=_nothing_found(index, filters))
    terms = index.analyzer.query_tokens(query)
    evidence = tuple(CitedPassage(n, hit, matching_sentences(hit, terms)) for n, hit in enumerate(hits, start=1))
    return Turn(question=question, query=query, mode="passages", evidence=evidence)


def reply_stream(index: Index, question: str, history: Sequence[str] = (), *, k: int | None = None,
                 filters: Filters | None = None, llm: LLM | None = None) -> Iterator[str | Turn]:
    """:func:`reply`, streamed: with an ``llm``, the model's text deltas while it writes, then the :class:`Turn`.

    Takes :func:`reply`'s arguments, plus ``llm``: a chat endpoint for a generative answer (``None``
    yields just :func:`reply`'s turn).

    Yields:
        Draft text deltas (``str``), then exactly one :class:`Turn`, built from the checked answer (an
        endpoint that cannot be reached gives the extractive answer, with a note saying so).
    """
    if llm is None:
        yield reply(index, question, history, k=k, filters=filters)
        return
    query = contextualize(question, history)
    final: Answer | None = None
    try:
        for piece in index.ask_stream(query, k=k, filters=filters, llm=llm):
            if isinstance(piece, str):
                yield piece
            else:
                final = piece
    except BadQuery as exc:
        yield Turn(question=question, query=query, mode="error", text=str(exc))
        return
    if final is None:
        raise RuntimeError("index.ask_stream ended without an Answer")
    yield _from_answer(index, question, query, final, filters)


def _nothing_found(index: Index, filters: Filters | None) -> str:
    """``filtered`` when the filters leave no letter to search (so the reply can say so), else ``empty``."""
    if filters and not any(filters.accepts(letter) for letter in index.letters):
        return "filtered"
    return "empty"


def _from_answer(index: Index, question: str, query: str, answer: Answer, filters: Filters | None = None) -> Turn:
    """The turn that shows ``answer``: its citations, or the closest passages when it has none."""
    turn = Turn(question=question, query=query, mode="answer", text=answer.text or "", confidence=answer.confidence,
                support=tuple(answer.support or ()), notes=tuple(answer.notes or ()),
                language=answer.language)
    if answer.abstained or not answer.citations:
        terms = index.analyzer.query_tokens(query)
        hits = list(answer.hits or ())
        if not hits and _nothing_found(index, filters) == "filtered":
            return replace(turn, mode="filtered", text="", confidence=None, support=(), notes=())
        evidence = tuple(CitedPassage(n, hit, matching_sentences(hit, terms)) for n, hit in enumerate(hits, start=1))
        return replace(turn, mode="abstained" if hits or answer.abstained else "empty", evidence=evidence)
    return replace(turn, evidence=tuple(CitedPassage(c.n, c.hit, ((c.start, c.end),)) for c in answer.citations))


__all__ = ["CitedPassage", "Conversation", "Turn", "cited_spans", "contextualize", "is_follow_up", "make_filters",
           "matching_sentences", "reply", "reply_stream"]
