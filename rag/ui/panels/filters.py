"""The filters panel: agency, region, years, letters and the number of passages, folded under "Filters and settings"."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import gradio as gr

from rag import Letter

from .. import render
from ..labels import t
from . import Updates

MOST_PASSAGES = 20  # the passages slider's maximum; the server refuses any other k (rag/ui/events.py)


@dataclass(frozen=True)
class FiltersPanel:
    """The search settings; their values go with every question."""

    settings: gr.Accordion
    agency: gr.Dropdown
    region: gr.Dropdown
    year_from: gr.Dropdown
    year_to: gr.Dropdown
    letters: gr.Dropdown
    k: gr.Slider

    def relabel(self, language: str) -> Updates:
        """The panel's labels in ``language``."""
        return {
            self.settings: gr.update(label=t(language, "settings")),
            self.agency: gr.update(label=t(language, "agency")),
            self.region: gr.update(label=t(language, "region")),
            self.year_from: gr.update(label=t(language, "year_from")),
            self.year_to: gr.update(label=t(language, "year_to")),
            self.letters: gr.update(label=t(language, "letters")),
            self.k: gr.update(label=t(language, "k")),
        }

    def refresh(self, letters: Sequence[Letter]) -> Updates:
        """The choices offered by the library as it is now (the chosen values are kept)."""
        years = render.years(letters)
        return {
            self.agency: gr.update(choices=render.agencies(letters)),
            self.region: gr.update(choices=render.regions(letters)),
            self.year_from: gr.update(choices=years),
            self.year_to: gr.update(choices=years),
            self.letters: gr.update(choices=render.letter_choices(letters)),
        }


def build_filters_panel(lang: str, letters: Sequence[Letter], passages: int) -> FiltersPanel:
    """Create the filters, closed, in the current layout, offering the choices of ``letters``.

    The passages slider starts at ``passages`` (the index's ``config.answer_passages``, as ``index.ask``).
    """
    years = render.years(letters)
    with gr.Accordion(t(lang, "settings"), open=False, elem_id="settings") as settings:
        with gr.Row():
            agency = gr.Dropdown(render.agencies(letters), value=None, label=t(lang, "agency"), elem_id="agency",
                                 allow_custom_value=False)
            region = gr.Dropdown(render.regions(letters), value=None, label=t(lang, "region"), elem_id="region",
                                 allow_custom_value=False)
            year_from = gr.Dropdown(years, value=None, label=t(lang, "year_from"), elem_id="year-from")
            year_to = gr.Dropdown(years, value=None, label=t(lang, "year_to"), elem_id="year-to")
        chosen = gr.Dropdown(render.letter_choices(letters), value=[], multiselect=True, label=t(lang, "letters"),
                             elem_id="pick")
        k = gr.Slider(1, MOST_PASSAGES, value=passages, step=1, label=t(lang, "k"), elem_id="k")
    return FiltersPanel(settings, agency, region, year_from, year_to, chosen, k)


__all__ = ["FiltersPanel", "build_filters_panel"]
