"""The page: a heading and language switch over three tabs: Ask (chat, filters, evidence, letter), Compare and
Library."""

from __future__ import annotations

from dataclasses import dataclass

import gradio as gr

from rag import Index

from .conversation import Conversation
from .labels import t
from .panels import Updates
from .panels.chat import ChatPanel, build_chat_panel
from .panels.compare import ComparePanel, build_compare_panel
from .panels.evidence import EvidencePanel, build_evidence_panel
from .panels.filters import FiltersPanel, build_filters_panel
from .panels.letter import LetterPanel, Opened, build_letter_panel
from .panels.library import LibraryPanel, build_library_panel


@dataclass(frozen=True)
class Layout:
    """Every panel of the page, and the per-session state: the conversation, the selected reply, the open letter."""

    heading: gr.Markdown
    language: gr.Radio
    ask_tab: gr.Tab
    library_tab: gr.Tab
    conversation: gr.State
    selected: gr.State
    opened: gr.State
    chat: ChatPanel
    filters: FiltersPanel
    evidence: EvidencePanel
    letter: LetterPanel
    library: LibraryPanel
    compare: ComparePanel

    def relabel(self, language: str, index: Index, conversation: Conversation, selected: int,
                opened: Opened | None) -> Updates:
        """The whole page in ``language``: labels, the conversation, the cards and the letter on show."""
        return {
            self.heading: gr.update(value=t(language, "heading")),
            self.ask_tab: gr.update(label=t(language, "ask_tab")),
            self.library_tab: gr.update(label=t(language, "library_tab")),
            **self.chat.relabel(language, conversation),
            **self.filters.relabel(language),
            **self.evidence.relabel(language, conversation, selected),
            **self.letter.relabel(language, index, conversation, opened),
            **self.library.relabel(language, index),
            **self.compare.relabel(language),
        }

    def refresh(self, index: Index, language: str) -> Updates:
        """Every choice and view that depends on which letters are indexed."""
        return {**self.filters.refresh(index.letters), **self.library.refresh(index, language),
                **self.compare.refresh(index.letters)}


def build_layout(index: Index, lang: str) -> Layout:
    """Create the page's components inside the current ``gr.Blocks``, labelled in ``lang``."""
    conversation = gr.State(Conversation())
    selected = gr.State(-1)
    opened = gr.State(None)
    with gr.Row(equal_height=True):
        heading = gr.Markdown(t(lang, "heading"), elem_id="heading")
        language = gr.Radio([("中文", "zh"), ("English", "en")], value=lang, label="语言 / Language",
                            elem_id="language", scale=0, min_width=220)
    with gr.Tabs():
        with gr.Tab(t(lang, "ask_tab"), id="ask", elem_id="ask-tab") as ask_tab:
            with gr.Row():
                with gr.Column(scale=5):
                    chat = build_chat_panel(lang)
                    filters = build_filters_panel(lang, index.letters, index.config.answer_passages)
                with gr.Column(scale=4):
                    evidence = build_evidence_panel(lang)
                    letter = build_letter_panel(lang)
        compare = build_compare_panel(lang, index.letters)
        with gr.Tab(t(lang, "library_tab"), id="library", elem_id="library-tab") as library_tab:
            library = build_library_panel(lang, index)
    return Layout(heading, language, ask_tab, library_tab, conversation, selected, opened, chat, filters, evidence,
                  letter, library, compare)


__all__ = ["Layout", "build_layout"]
