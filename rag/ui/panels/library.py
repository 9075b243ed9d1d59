"""The library panel: what is indexed, uploading letters and removing them."""

from __future__ import annotations

import json
from dataclasses import dataclass

import gradio as gr

from rag import Index

from .. import render
from ..labels import LANGUAGES, t
from . import Updates

# Removing cannot be undone: the browser asks first, and a "no" sends no letter (the handler then removes nothing).
CONFIRM_REMOVAL_JS = (
    "(doomed, language) => [doomed && window.confirm("
    f"({json.dumps({lang: t(lang, 'remove_confirm') for lang in LANGUAGES}, ensure_ascii=False)})[language] "
    "+ doomed) ? doomed : null, language]")


@dataclass(frozen=True)
class LibraryPanel:
    """The library's size, the upload button and its report, the removal picker, the table of letters."""

    summary: gr.HTML
    files: gr.UploadButton
    report: gr.HTML
    doomed: gr.Dropdown
    remove: gr.Button
    table: gr.HTML

    def relabel(self, language: str, index: Index) -> Updates:
        """The panel in ``language``."""
        return {
            self.files: gr.update(label=t(language, "upload")),
            self.doomed: gr.update(label=t(language, "remove_pick")),
            self.remove: gr.update(value=t(language, "remove")),
            self.table: render.letters_table_html(index.letters, language),
            self.summary: summary_html(index, language),
        }

    def refresh(self, index: Index, language: str) -> Updates:
        """The library as it is now: its size, its table and the letters that can be removed (none chosen)."""
        letters = index.letters
        return {
            self.doomed: gr.update(choices=render.letter_choices(letters), value=None),
            self.table: render.letters_table_html(letters, language),
            self.summary: summary_html(index, language),
        }


def build_library_panel(lang: str, index: Index) -> LibraryPanel:
    """Create the library panel's components in the current layout."""
    letters = index.letters
    summary = gr.HTML(summary_html(index, lang), elem_id="library-summary", js_on_load=None)
    # a button whose text is ours in both languages (a gr.File drop zone shows Gradio's own "Drop File Here",
    # in the browser's language rather than the interface's)
    files = gr.UploadButton(t(lang, "upload"), file_count="multiple", type="filepath", elem_id="upload",
                            variant="secondary")
    report = gr.HTML("", elem_id="upload-report", js_on_load=None)
    with gr.Row():
        doomed = gr.Dropdown(render.letter_choices(letters), value=None, label=t(lang, "remove_pick"),
                             elem_id="remove-pick", scale=4)
        remove = gr.Button(t(lang, "remove"), variant="stop", elem_id="remove", scale=1)
    table = gr.HTML(render.letters_table_html(letters, lang), elem_id="letters-table", js_on_load=None)
    return LibraryPanel(summary, files, report, doomed, remove, table)


def summary_html(index: Index, language: str) -> str:
    """The library's size ("Library: 2 letters, 40 passages") as a paragraph."""
    return f"<p>{render.library_summary(len(index.letters), len(index), language)}</p>"


__all__ = ["CONFIRM_REMOVAL_JS", "LibraryPanel", "build_library_panel", "summary_html"]
