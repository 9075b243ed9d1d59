"""The letter view: the whole letter of a clicked citation, with the cited span highlighted and scrolled to."""

from __future__ import annotations

from dataclasses import dataclass

import gradio as gr

from rag import Index

from .. import render
from ..conversation import Conversation, cited_spans
from ..labels import t
from . import Updates

# When a letter opens, bring the cited span into view.
SCROLL_JS = """
const reveal = () => {
  const mark = element.querySelector('#cited-span');
  if (mark) mark.scrollIntoView({block: 'center', behavior: 'instant'});
};
watch('value', reveal);
reveal();
"""

Opened = tuple[int, int]  # (turn number, citation number) of the letter on show


@dataclass(frozen=True)
class LetterPanel:
    """The letter on show."""

    view: gr.HTML

    def relabel(self, language: str, index: Index, conversation: Conversation, opened: Opened | None) -> Updates:
        """The letter on show, with its labels in ``language``."""
        return {self.view: letter_view(index, conversation, opened, language)}


def build_letter_panel(lang: str) -> LetterPanel:
    """Create the letter view in the current layout (empty until a citation is clicked)."""
    return LetterPanel(gr.HTML(render.letter_html(None, lang=lang), elem_id="letter", js_on_load=SCROLL_JS))


def letter_view(index: Index, conversation: Conversation, opened: Opened | None, language: str) -> str:
    """The letter that citation ``opened`` of ``conversation`` cites, as the index holds it now (HTML).

    Raises:
        IndexError, KeyError: ``opened`` names no citation of the conversation.
    """
    if opened is None:
        return render.letter_html(None, lang=language)
    turn = conversation.turns[opened[0]]
    item = turn.evidence_for(opened[1])
    try:
        letter = index.letter(item.hit.letter_id)
    except KeyError:
        return f'<p class="rag-notice">{render.escape(t(language, "stale"))}</p>'
    caption = f"[{item.n}] {item.hit.citation}"
    return render.letter_html(letter, cited_spans(turn, item, letter), language, caption=caption)


__all__ = ["SCROLL_JS", "LetterPanel", "Opened", "build_letter_panel", "letter_view"]
