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
# A letter opened by a click is brought into view (the page scrolls to it); one that follows a new reply
# (data-follow) only scrolls its own box to the span, leaving the page where the reader is.
SCROLL_JS = """
const reveal = () => {
  const mark = element.querySelector('#cited-span');
  if (!mark) return;
  const box = mark.closest('.rag-letter');
  if (element.querySelector('.rag-letter[data-follow]')) {
    if (box) box.scrollTop += mark.getBoundingClientRect().top - box.getBoundingClientRect().top - box.clientHeight / 3;
  } else {
    mark.scrollIntoView({block: 'center', behavior: 'instant'});
  }
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
        """The letter on show, with its labels in ``language``: marked to follow (``SCROLL_JS`` scrolls its own box
        to the span, not the page), as switching the language is no click asking to be taken to the letter."""
        return {self.view: letter_view(index, conversation, opened, language, follow=True)}


def build_letter_panel(lang: str) -> LetterPanel:
    """Create the letter view in the current layout (empty until a citation is clicked)."""
    return LetterPanel(gr.HTML(render.letter_html(None, lang=lang), elem_id="letter", js_on_load=SCROLL_JS))


def letter_view(index: Index, conversation: Conversation, opened: Opened | None, language: str,
                follow: bool = False) -> str:
    """The letter that citation ``opened`` of ``conversation`` cites, as the index holds it now (HTML).

    ``follow``: opened for a new reply rather than by a click (the page is not scrolled to it).

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
    return render.letter_html(letter, cited_spans(turn, item, letter), language, caption=caption, opened=opened,
                              follow=follow)


__all__ = ["SCROLL_JS", "LetterPanel", "Opened", "build_letter_panel", "letter_view"]
