"""Export a reply and its citations as Markdown, escaping letter and user text so links and HTML stay text."""

from __future__ import annotations

import html
import re
from collections.abc import Iterable
from pathlib import Path

from .conversation import CitedPassage, Conversation, Span, Turn
from .labels import t
from .render import group_by_passage, merge_spans

# What Markdown (CommonMark, GFM tables) reads as syntax, and only that: code, emphasis, links and images,
# strikethrough, table cells; an underscore only at a word's edge (004_dce… is no emphasis); and at a line's start
# a heading or a list item. HTML's own characters become entities, which every renderer shows as text.
_MARKDOWN_SPECIAL = re.compile(r"([\\`*\[\]~|])|(?<![0-9A-Za-z])_|_(?![0-9A-Za-z])")
_LINE_START = re.compile(r"^([ \t]*)(?:(#{1,6}|[-+=])|(\d{1,9})([.)]))(?=[ \t]|$)", re.M)
_SUPPORT_COLUMNS = ("what", "amount", "cap", "condition", "agency")


def escape_markdown(text: object) -> str:
    """Text that Markdown shows literally: no links, images, HTML, emphasis or code."""
    if text is None:
        return ""
    escaped = _MARKDOWN_SPECIAL.sub(lambda m: "\\" + m.group(), html.escape(str(text), quote=False))
    return _LINE_START.sub(lambda m: m.group(1) + (f"\\{m.group(2)}" if m.group(2) else f"{m.group(3)}\\{m.group(4)}"),
                           escaped)


def conversation_markdown(conversation: Conversation, lang: str = "zh", when: str = "") -> str:
    """Every reply of a conversation, oldest first, as one Markdown document (each reply as :func:`turn_markdown`
    writes it, one heading level down)."""
    lines = [f"# {escape_markdown(t(lang, 'conversation'))}", ""]
    if when:
        lines += [f"{escape_markdown(t(lang, 'exported'))}: {escape_markdown(when)}", ""]
    body = [turn_markdown(turn, lang, level=2) for turn in conversation.turns]
    return "\n".join(lines) + "\n" + "\n".join(body)


def turn_markdown(turn: Turn, lang: str = "zh", when: str = "", level: int = 1) -> str:
    """A reply and its citations as a Markdown document.

    Args:
        turn: the reply.
        lang: interface language of the headings and labels.
        when: the export time to print under the question ("" leaves it out).
        level: the heading level of the question (its sections are one level below).

    Returns:
        The document, ending with one newline. A reply that is no answer lists its closest passages under
        a heading that says they are not an answer.
    """
    top, section = "#" * level, "#" * (level + 1)
    lines = [f"{top} {escape_markdown(turn.question)}", ""]
    if turn.query != turn.question:
        lines += [f"_{escape_markdown(t(lang, 'searched_as'))}{escape_markdown(turn.query)}_", ""]
    if when:
        lines += [f"{escape_markdown(t(lang, 'exported'))}: {escape_markdown(when)}", ""]
    lines += [f"{section} {escape_markdown(t(lang, 'answer'))}", "", *_answer(turn, lang), *_support(turn, lang)]
    if turn.evidence:
        heading = "citations" if turn.mode == "answer" else "closest_list"
        lines += [f"{section} {escape_markdown(t(lang, heading))}", ""]
    for group in group_by_passage(turn.evidence):
        lines += _citation(group, lang, "#" * (level + 2))
    return "\n".join(lines).rstrip() + "\n"


def _answer(turn: Turn, lang: str) -> list[str]:
    if turn.mode == "answer":
        return [escape_markdown(turn.text), ""]
    if turn.mode == "error":
        return [escape_markdown(t(lang, "error") + turn.text), ""]
    if turn.mode in ("empty", "filtered"):
        return [escape_markdown(turn.text or t(lang, turn.mode)), ""]
    lines = [escape_markdown(turn.text), ""] if turn.text else []
    return [*lines, escape_markdown(t(lang, "abstained" if turn.mode == "abstained" else "passages")), ""]


def _support(turn: Turn, lang: str) -> list[str]:
    """The support measures as a Markdown table (nothing when there are none)."""
    if not turn.support:
        return []
    head = [escape_markdown(t(lang, c)) for c in (*_SUPPORT_COLUMNS, "source")]
    lines = [f"### {escape_markdown(t(lang, 'support'))}", "", "| " + " | ".join(head) + " |",
             "|" + "---|" * len(head)]
    for item in turn.support:
        cells = [escape_markdown(getattr(item, c, None) or "").replace("\n", " ") for c in _SUPPORT_COLUMNS]
        n = getattr(item, "citation_n", None)
        lines.append("| " + " | ".join(cells) + f" | {'[' + str(n) + ']' if n is not None else ''} |")
    return [*lines, ""]


def _citation(group: list[CitedPassage], lang: str, heading: str = "###") -> list[str]:
    """One cited passage: its numbers and citation, its letter's details, the passage quoted with the cites bold."""
    hit = group[0].hit
    numbers = " ".join(f"\\[{item.n}\\]" for item in group)
    lines = [f"{heading} {numbers} {escape_markdown(hit.citation)}", ""]
    for key, value in (("doc_number", hit.doc_number), ("title", hit.title), ("agency", hit.agency),
                       ("date", hit.date), ("section", hit.section), ("file", Path(hit.path).name)):
        if value:
            lines.append(f"- {escape_markdown(t(lang, key))}: {escape_markdown(value)}")
    lines.append("")
    quoted = _highlight(hit.text, [span for item in group for span in item.spans], hit.start)
    lines += ["> " + line if line else ">" for line in quoted.split("\n")]
    return [*lines, ""]


def _highlight(text: str, spans: Iterable[Span], offset: int) -> str:
    """``text`` escaped, with the spans (letter offsets; ``offset`` is ``text[0]``'s) in bold."""
    out: list[str] = []
    position = 0
    for s, e in merge_spans(((s - offset, e - offset) for s, e in spans), 0, len(text)):
        out.append(escape_markdown(text[position:s]))
        segment = text[s:e]
        inner = segment.strip()
        if inner:  # Markdown emphasis may not start or end with a blank
            left, right = segment[:len(segment) - len(segment.lstrip())], segment[len(segment.rstrip()):]
            out.append(f"{escape_markdown(left)}**{escape_markdown(inner)}**{escape_markdown(right)}")
        else:
            out.append(escape_markdown(segment))
        position = e
    out.append(escape_markdown(text[position:]))
    return "".join(out)


__all__ = ["conversation_markdown", "escape_markdown", "turn_markdown"]
