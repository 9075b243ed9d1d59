"""The evidence panel: the cited passages of the selected reply, as cards whose citations open the letter."""

from __future__ import annotations

from dataclasses import dataclass

import gradio as gr

from .. import render
from ..conversation import Conversation
from . import Updates

# Clicks on a citation button inside the cards, or on an [n] in a chat reply, send its (turn, number) back to
# Python through this component's click event (the numbers are read from the button's classes: the chat's
# sanitiser drops data attributes). The letter of that citation may be on show already (clicked before): then
# its value will not change and the letter view's watcher not fire, so bring the span back into view here.
CITE_JS = """
const cite = (button) => {
  const number = (name) => Number((button.className.match(new RegExp('rag-' + name + '-([0-9]+)')) || [])[1]);
  const turn = number('turn'), n = number('n');
  const shown = document.querySelector(`#letter .rag-letter[data-opened="${turn}:${n}"] #cited-span`);
  if (shown) shown.scrollIntoView({block: 'center', behavior: 'instant'});
  trigger('click', {turn: turn, n: n});
};
element.addEventListener('click', (event) => {
  const button = event.target.closest('button.rag-cite');
  if (button && element.contains(button)) cite(button);
});
window.__ragChatCite = cite;  // one listener for the page's chat markers, calling the latest cards' handler
if (!window.__ragChatListener) {
  window.__ragChatListener = true;
  document.addEventListener('click', (event) => {
    const button = event.target.closest('#chat button.rag-cite');
    if (button) window.__ragChatCite(button);
  });
}
"""


@dataclass(frozen=True)
class EvidencePanel:
    """The cards of one reply (``cards.click`` carries the clicked citation's turn and number)."""

    cards: gr.HTML

    def relabel(self, language: str, conversation: Conversation, selected: int) -> Updates:
        """The cards of reply number ``selected`` (none when out of range) in ``language``."""
        turn = conversation.turns[selected] if 0 <= selected < len(conversation.turns) else None
        return {self.cards: render.evidence_html(turn, selected, language)}


def build_evidence_panel(lang: str) -> EvidencePanel:
    """Create the evidence panel's component in the current layout."""
    # no height limit: the cards must show without scrolling an inner panel
    cards = gr.HTML(render.evidence_html(None, lang=lang), elem_id="evidence", js_on_load=CITE_JS)
    return EvidencePanel(cards)


__all__ = ["CITE_JS", "EvidencePanel", "build_evidence_panel"]
