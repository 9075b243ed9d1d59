"""Render replies, cited passages, letters and the library as HTML, escaping every string from a letter or a user."""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from rag.answer import number_spans

from .conversation import CitedPassage, Span, Turn
from .labels import note_text, t

if TYPE_CHECKING:
    from rag import BuildReport, Hit, Letter, Skipped

MARK_ID = "cited-span"
_NAME_PART = re.compile(r"[\u3400-\u9fff〕\]]")  # after bare digits: a name or number, not a unit (units are matched)


def escape(text: object) -> str:
    """HTML-escape anything for text or attribute context (``None`` becomes an empty string)."""
    return "" if text is None else html.escape(str(text), quote=True)


def merge_spans(spans: Iterable[Span], start: int, end: int) -> list[Span]:
    """Spans clipped to ``[start, end)``, sorted, with overlapping or touching ones merged."""
    clipped = sorted((max(s, start), min(e, end)) for s, e in spans if min(e, end) > max(s, start))
    merged: list[Span] = []
    for s, e in clipped:
        if merged and s <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(e, merged[-1][1]))
        else:
            merged.append((s, e))
    return merged


def highlight(text: str, spans: Iterable[Span], offset: int = 0, mark_id: str | None = None,
              numbers: bool = False) -> str:
    """Escape ``text`` and wrap the given spans in ``<mark>`` (and, optionally, numbers in a ``<span>``).

    Args:
        text: the passage (or whole letter).
        spans: ``(start, end)`` offsets in the same coordinates as ``offset`` (letter offsets for a hit).
        offset: the coordinate of ``text[0]`` (``hit.start`` for a passage, 0 for a letter).
        mark_id: id given to the first ``<mark>`` (to scroll it into view).
        numbers: also wrap amounts, rates, counts and dates in ``<span class="rag-num">``.

    Returns:
        HTML with every character of ``text`` escaped.
    """
    found = [(s, e) for s, e in number_spans(text) if _is_figure(text, s, e)] if numbers else []
    out: list[str] = []
    position = 0
    for number, (s, e) in enumerate(merge_spans(((s - offset, e - offset) for s, e in spans), 0, len(text))):
        attrs = f' id="{escape(mark_id)}"' if mark_id and number == 0 else ""
        out.append(_escaped(text, position, s, found))
        out.append(f"<mark{attrs}>{_escaped(text, s, e, found)}</mark>")
        position = e
    out.append(_escaped(text, position, len(text), found))
    return "".join(out)


def _is_figure(text: str, start: int, end: int) -> bool:
    """A number worth pointing out: with a unit or sign (30%, 12家, 400万元, 2021年) or of three or more
    digits; not a citation marker such as [1], a lone digit, nor digits inside a document number or a name."""
    if text[start - 1:start] == "[" and text[end:end + 1] == "]":
        return False
    span = text[start:end]
    if span.isdigit() and (text[start - 1:start] in ("〔", "[", "第") or _NAME_PART.match(text[end:end + 1])):
        return False  # a document number (〔2021〕15号), a proposal number (第0315号), a name (民企100强)
    return not span.isdigit() or len(span) >= 3


def _escaped(text: str, start: int, end: int, numbers: Sequence[Span]) -> str:
    """``text[start:end]`` escaped, with the parts inside ``numbers`` wrapped in ``<span class="rag-num">``."""
    out: list[str] = []
    position = start
    for s, e in merge_spans(numbers, start, end):
        out.append(escape(text[position:s]))
        out.append(f'<span class="rag-num">{escape(text[s:e])}</span>')
        position = e
    out.append(escape(text[position:end]))
    return "".join(out)


def _first_sentence(item: CitedPassage, limit: int = 80) -> str:
    hit = item.hit
    if item.spans:
        s, e = item.spans[0]
        snippet = hit.text[max(s - hit.start, 0):max(e - hit.start, 0)]
    else:
        snippet = hit.text
    snippet = " ".join(snippet.split())
    return snippet if len(snippet) <= limit else snippet[:limit] + "…"


def chat_message(turn: Turn, lang: str = "zh", number: int | None = None) -> str:
    """The assistant's chat bubble as HTML: the answer with [n] markers (or the passage list), all escaped.

    The bubble's own words are in the question's language (``turn.language``), whatever the interface's.
    A decline is one short sentence with the closest passages' citations folded away under it. Given the
    reply's ``number`` in the conversation, each [n] of an answer is a button that opens the letter at
    that citation, as the cards' buttons do.
    """
    lang = turn.language or lang
    parts: list[str] = []
    if turn.query != turn.question and turn.mode != "error":
        parts.append(f'<p class="rag-notice">{escape(t(lang, "searched_as"))}{escape(turn.query)}</p>')
    if turn.mode == "error":
        return f"<p>{escape(t(lang, 'error'))}{escape(turn.text)}</p>"
    if turn.mode in ("empty", "filtered"):
        parts.append(f"<p>{escape(turn.text or t(lang, turn.mode))}</p>")
        return "".join(parts)
    if turn.mode == "answer":
        text = _paragraphs(turn.text, numbers=True)
        if number is not None:
            numbers = {item.n for item in turn.evidence}
            text = _MARKER.sub(lambda m: _cite_button(number, int(m[1]), m[0], lang) if int(m[1]) in numbers
                               else m[0], text)
        parts.append(text)
        cited = "; ".join("".join(f"[{item.n}]" for item in group) + f" {escape(group[0].hit.citation)}"
                          for group in group_by_passage(turn.evidence))
        parts.append(f"<p>{escape(t(lang, 'cited'))}: {cited}</p>")
        parts.append(_notes(turn, lang))
        return "".join(parts)
    if turn.mode == "abstained":
        parts.append(f"<p>{escape(turn.text or t(lang, 'declined'))}</p>")
        items = "".join(f"<li>[{item.n}] {escape(item.hit.citation)}</li>" for item in turn.evidence)
        parts.append(f'<details class="rag-closest-list"><summary>{escape(t(lang, "closest_list"))} '
                     f"({len(turn.evidence)})</summary><ul>{items}</ul></details>")
        return "".join(parts)
    parts.append(f"<p>{escape(t(lang, 'passages'))}</p>")
    lines = [f"[{item.n}] {escape(item.hit.citation)}: {escape(_first_sentence(item))}" for item in turn.evidence]
    parts.append("<p>" + "<br>".join(lines) + "</p>")
    parts.append(_notes(turn, lang))
    return "".join(parts)


def _notes(turn: Turn, lang: str) -> str:
    """The answer's notes (a dropped sentence, a language model that could not be reached) as a small paragraph."""
    if not turn.notes:
        return ""
    notes = "<br>".join(escape(note_text(lang, n)) for n in turn.notes)
    return f'<p class="rag-notice">{escape(t(lang, "notes"))}: {notes}</p>'


def draft_message(text: str, lang: str = "zh") -> str:
    """The assistant's chat bubble while the language model writes: a label and the draft so far, all escaped."""
    draft = escape(text).replace("\n", "<br>")
    return f'<p class="rag-notice">{escape(t(lang, "writing"))}</p><p>{draft}</p>'


def user_message(question: str) -> str:
    """The user's chat bubble as HTML (escaped)."""
    return _paragraphs(question)


_MARKER = re.compile(r"\[(\d{1,3})\]")


def _paragraphs(text: str, numbers: bool = False) -> str:
    blocks = [b.strip() for b in re.split(r"\n\s*\n", text.strip()) if b.strip()]
    return "".join("<p>" + highlight(b, (), numbers=numbers).replace("\n", "<br>") + "</p>" for b in blocks)


def _meta(hit: Hit, lang: str) -> str:
    fields = [(t(lang, "doc_number"), hit.doc_number), (t(lang, "agency"), hit.agency),
              (t(lang, "region"), hit.region.text()), (t(lang, "date"), hit.date), (t(lang, "section"), hit.section)]
    spans = "".join(f'<span title="{escape(label)}">{escape(value)}</span>' for label, value in fields if value)
    return f'<div class="rag-meta">{spans}</div>'


def _confidence(value: float) -> str:
    """A share as a percentage (0.8 → 80%); a score outside 0..1 as a plain number."""
    return f"{value:.0%}" if 0.0 <= value <= 1.0 else f"{value:.2f}"


def _support_table(turn: Turn, lang: str) -> str:
    if not turn.support:
        return ""
    columns = ("what", "amount", "cap", "condition", "agency")
    head = "".join(f"<th>{escape(t(lang, c))}</th>" for c in columns) + f"<th>{escape(t(lang, 'source'))}</th>"
    rows = []
    for item in turn.support:
        cells = "".join(f"<td>{escape(getattr(item, c, None))}</td>" for c in columns)
        n = getattr(item, "citation_n", None)
        rows.append(f"<tr>{cells}<td>{escape(f'[{n}]' if n is not None else '')}</td></tr>")
    return (f'<details class="rag-support"><summary>{escape(t(lang, "support"))} ({len(rows)})</summary>'
            f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table></details>")


def evidence_html(turn: Turn | None, turn_number: int = 0, lang: str = "zh") -> str:
    """The cited passages of a reply as cards; each card's citation button opens the letter.

    The buttons carry ``data-turn`` and ``data-n`` (numbers only), which the UI sends back to
    look the evidence up on the server. A support table (subsidy questions) follows the cards, folded.
    """
    if turn is None or not turn.evidence:
        message = t(lang, turn.mode) if turn is not None and turn.mode in ("empty", "filtered") else \
            t(lang, "no_evidence")
        return f'<div class="rag-cards"><p class="rag-notice">{escape(message)}</p></div>'
    parts = ['<div class="rag-cards">']
    head = []
    if turn.confidence is not None and turn.mode == "answer":
        head.append(f"<span>{escape(t(lang, 'confidence'))}: {escape(_confidence(turn.confidence))}</span>")
    if turn.mode == "abstained":
        head.append(f"<span>{escape(t(lang, 'closest'))}</span>")
    if head:
        parts.append(f'<div class="rag-meta">{"".join(head)}</div>')
    if turn.notes:
        notes = "".join(f"<li>{escape(note_text(lang, n))}</li>" for n in turn.notes)
        parts.append(f'<div class="rag-notice">{escape(t(lang, "notes"))}<ul>{notes}</ul></div>')
    closest = " rag-closest" if turn.mode == "abstained" else ""
    for group in group_by_passage(turn.evidence):
        hit = group[0].hit
        numbers = " ".join(str(int(item.n)) for item in group)
        buttons = "".join(_cite_button(turn_number, item.n, f"[{int(item.n)}]", lang) for item in group)
        label = _cite_button(turn_number, group[0].n, hit.citation, lang, "rag-cite rag-cite-label")
        spans = [span for item in group for span in item.spans]
        parts.append(
            f'<article class="rag-card{closest}" data-n="{numbers}">'
            f'<div class="rag-card-head">{buttons} {label}</div>'
            f"{_meta(hit, lang)}"
            f'<div class="rag-passage">{highlight(hit.text, spans, hit.start, numbers=True)}</div>'
            "</article>")
    parts.append(_support_table(turn, lang))  # after the cards, folded: the cards are the evidence
    parts.append("</div>")
    return "".join(parts)


def _cite_button(turn_number: int, n: int, text: str, lang: str, css: str = "rag-cite") -> str:
    # the numbers are in the classes too: the chat's sanitiser drops data attributes
    return (f'<button class="{css} rag-turn-{int(turn_number)} rag-n-{int(n)}" type="button" '
            f'data-turn="{int(turn_number)}" data-n="{int(n)}" title="{escape(t(lang, "open"))}">'
            f"{escape(text)}</button>")


def group_by_passage(evidence: Sequence[CitedPassage]) -> list[list[CitedPassage]]:
    """CitedPassage grouped by passage, in order of first citation: several quotes of one passage share a card."""
    groups: dict[str, list[CitedPassage]] = {}
    for item in evidence:
        groups.setdefault(item.hit.chunk_id, []).append(item)
    return list(groups.values())


_LETTER_FIELDS = ("title", "doc_number", "agency", "addressee", "date", "signer", "session", "proposal_number",
                  "kind", "contact", "phone")


def letter_html(letter: Letter | None, spans: Sequence[Span] = (), lang: str = "zh", caption: str = "",
                opened: tuple[int, int] | None = None, follow: bool = False) -> str:
    """A whole letter: its metadata, then its text with ``spans`` highlighted (the first one has id ``cited-span``).

    ``opened`` (turn, citation number) is written as ``data-opened="turn:n"``, so opening the same span
    for another reply changes the HTML (and scrolls again); ``follow`` marks a letter opened for a new
    reply rather than by a click.
    """
    if letter is None:
        return f'<div class="rag-letter"><p class="rag-notice">{escape(t(lang, "no_letter"))}</p></div>'
    rows = [(t(lang, name), getattr(letter, name)) for name in _LETTER_FIELDS]
    rows.insert(3, (t(lang, "region"), letter.region.text()))
    rows.append((t(lang, "file"), Path(letter.path).name))
    details = "".join(f"<dt>{escape(label)}</dt><dd>{escape(value)}</dd>" for label, value in rows if value)
    heading = escape(caption or letter.title or letter.display_name)
    marks = f' data-opened="{int(opened[0])}:{int(opened[1])}"' if opened is not None else ""
    marks += " data-follow" if follow else ""
    # one line that stays in view above the text while it scrolls: which letter this is
    bar = " · ".join(escape(value) for value in (letter.doc_number or letter.display_name, letter.agency, letter.date)
                     if value)
    return (f'<div class="rag-letter" data-letter="{escape(letter.letter_id)}"{marks}>'
            f'<div class="rag-letter-bar">{bar}</div>'
            f'<div class="rag-letter-head"><h3>{heading}</h3><dl>{details}</dl></div>'
            f'<div class="rag-letter-text">{highlight(letter.text, spans, 0, mark_id=MARK_ID)}</div></div>')


def letters_table_html(letters: Sequence[Letter], lang: str = "zh") -> str:
    """The indexed letters with their metadata, as an HTML table."""
    if not letters:
        return f'<div class="rag-table"><p class="rag-notice">{escape(t(lang, "letters_empty"))}</p></div>'
    columns = ("doc_number", "title", "agency", "region", "date", "addressee", "letter_id")
    head = "".join(f"<th>{escape(t(lang, c))}</th>" for c in columns)
    body = []
    for letter in sorted(letters, key=lambda x: (x.date or "", x.letter_id), reverse=True):
        cells = "".join(f'<td class="rag-{c}">{escape(letter.region.text() if c == "region" else getattr(letter, c))}'
                        "</td>" for c in columns)
        body.append(f'<tr data-letter="{escape(letter.letter_id)}">{cells}</tr>')
    return (f'<div class="rag-table"><table><thead><tr>{head}</tr></thead>'
            f"<tbody>{''.join(body)}</tbody></table></div>")


def library_summary(letters: int, chunks: int, lang: str = "zh") -> str:
    """The library's size ("Library: 2 letters, 40 passages"), escaped."""
    return escape(t(lang, "summary").format(letters=letters, chunks=chunks))


def upload_report_html(report: BuildReport | None, rejected: Sequence[Skipped] = (), lang: str = "zh",
                       names: dict[str, str] | None = None, titles: dict[str, str] | None = None) -> str:
    """What an upload did: letters added/updated/unchanged/duplicated, and every rejected file with its reason
    (the library's new size is shown once, above the upload box).

    Args:
        report: the :class:`~rag.index.BuildReport` of ``index.add`` (None when nothing reached the index).
        rejected: files refused before indexing.
        lang: interface language.
        names: stored path → the name the user uploaded, to show the user's own file names.
        titles: letter id → how to call the letter (its document number or title).
    """
    names = names or {}
    titles = titles or {}
    sections: list[str] = []

    def block(key: str, items: list[str], bad: bool = False) -> None:
        if items:
            css = ' class="rag-bad"' if bad else ""
            lis = "".join(f"<li>{escape(i)}</li>" for i in items)
            sections.append(f"<div{css}><strong>{escape(t(lang, key))}</strong><ul>{lis}</ul></div>")

    if report is not None:
        def named(ids: Sequence[str]) -> list[str]:
            return [f"{lid} · {titles[lid]}" if titles.get(lid) else lid for lid in ids]

        block("added", named(report.added))
        block("updated", named(report.updated))
        block("unchanged", named(report.unchanged))
        block("duplicates", [f"{names.get(path, Path(path).name)} = {same}" for path, same in report.duplicates])
    refused = [*rejected, *(report.skipped if report is not None else ())]
    block("rejected", [f"{names.get(s.path, Path(s.path).name)}: {s.reason}" for s in refused], bad=True)
    return f'<div class="rag-report">{"".join(sections)}</div>'


def removal_html(removed: Sequence[str], lang: str = "zh") -> str:
    """What a removal did: the removed letter ids (the library's size is shown once, above the upload box)."""
    items = "".join(f"<li>{escape(r)}</li>" for r in removed)
    return f'<div class="rag-report"><strong>{escape(t(lang, "removed"))}</strong><ul>{items}</ul></div>'


def letter_choices(letters: Sequence[Letter]) -> list[tuple[str, str]]:
    """(label, letter id) pairs for pickers, newest first; the label ends with the id shown in the table."""
    ordered = sorted(letters, key=lambda x: (x.date or "", x.letter_id), reverse=True)
    return [(" · ".join(p for p in (letter.display_name, letter.agency, letter.date, letter.letter_id) if p),
             letter.letter_id) for letter in ordered]


def agencies(letters: Sequence[Letter]) -> list[str]:
    """The letters' agencies, sorted, for the agency filter."""
    return sorted({letter.agency for letter in letters if letter.agency})


def regions(letters: Sequence[Letter]) -> list[str]:
    """The divisions the letters come from, for the region filter: provinces first, then cities, then counties."""
    levels: list[set[str]] = [set(), set(), set()]
    for letter in letters:
        for level, name in enumerate((letter.region.province, letter.region.city, letter.region.county)):
            if name:
                levels[level].add(name)
    seen: list[str] = []
    for names in levels:
        seen += [name for name in sorted(names) if name not in seen]  # a municipality is its own city
    return seen


def years(letters: Sequence[Letter]) -> list[str]:
    """The years the letters are dated, sorted, for the year filters."""
    return sorted({letter.date[:4] for letter in letters if letter.date and letter.date[:4].isdigit()})


__all__ = ["MARK_ID", "agencies", "chat_message", "draft_message", "escape", "evidence_html", "group_by_passage",
           "highlight", "letter_choices", "letter_html", "letters_table_html", "library_summary", "merge_spans",
           "removal_html", "upload_report_html", "user_message", "years"]

