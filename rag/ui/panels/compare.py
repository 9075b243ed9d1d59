"""The Compare tab: one question across every letter answering it, as a table, a chart and a CSV, each quote opening
its letter at the sentence."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import gradio as gr

from rag import Letter

from .. import render
from ..comparison import compare_chart_html, compare_table_html
from ..labels import t
from . import Updates
from .letter import SCROLL_JS

# A click on a quote sends its letter and offsets back to Python through the table's click event.
COMPARE_CITE_JS = """
element.addEventListener('click', (event) => {
  const button = event.target.closest('button.rag-compare-cite');
  if (!button || !element.contains(button)) return;
  trigger('click', {letter: button.dataset.letter, start: Number(button.dataset.start),
                    end: Number(button.dataset.end)});
});
"""


@dataclass(frozen=True)
class ComparePanel:
    """The question, its region, the table (``table.click`` carries the clicked quote), the chart, the CSV and the
    letter a quote opens."""

    tab: gr.Tab
    question: gr.Textbox
    region: gr.Dropdown
    run: gr.Button
    table: gr.HTML
    chart: gr.HTML
    csv: gr.DownloadButton
    letter: gr.HTML
    comparison: gr.State

    def relabel(self, language: str) -> Updates:
        return {
            self.tab: gr.update(label=t(language, "compare_tab")),
            self.question: gr.update(label=t(language, "compare_question")),
            self.region: gr.update(label=t(language, "region")),
            self.run: gr.update(value=t(language, "compare_run")),
            self.csv: gr.update(label=t(language, "compare_csv")),
        }

    def refresh(self, letters: Sequence[Letter]) -> Updates:
        return {self.region: gr.update(choices=render.regions(letters))}


def build_compare_panel(lang: str, letters: Sequence[Letter]) -> ComparePanel:
    """Create the Compare tab in the current ``gr.Tabs``."""
    with gr.Tab(t(lang, "compare_tab"), id="compare", elem_id="compare-tab") as tab:
        with gr.Row():
            question = gr.Textbox(label=t(lang, "compare_question"), elem_id="compare-question", scale=4)
            region = gr.Dropdown(render.regions(letters), value=None, label=t(lang, "region"),
                                 elem_id="compare-region", allow_custom_value=False, scale=1)
            run = gr.Button(t(lang, "compare_run"), variant="primary", elem_id="compare-run", scale=0)
        with gr.Row():
            with gr.Column(scale=5):
                table = gr.HTML(compare_table_html(None, lang), elem_id="compare-table",
                                js_on_load=COMPARE_CITE_JS)
                csv = gr.DownloadButton(t(lang, "compare_csv"), value=None, interactive=False, elem_id="compare-csv")
            with gr.Column(scale=2):
                chart = gr.HTML(compare_chart_html(None, lang), elem_id="compare-chart")
        letter = gr.HTML(render.letter_html(None, lang=lang), elem_id="compare-letter", js_on_load=SCROLL_JS)
    return ComparePanel(tab, question, region, run, table, chart, csv, letter, gr.State(None))


__all__ = ["ComparePanel", "build_compare_panel"]
