"""The panels of the web UI, one builder each: chat, evidence, letter view, filters, library."""

from __future__ import annotations

from typing import TypeAlias, cast

import gradio as gr
from gradio.blocks import Block

# What a panel's ``relabel`` or ``refresh`` returns: new values or ``gr.update(...)``s keyed by component.
Updates: TypeAlias = dict[Block, object]


def no_change() -> Updates:
    """Leave every output as it is (Gradio's ``skip``, typed as the updates it stands for)."""
    return cast(Updates, gr.skip())


__all__ = ["Updates", "no_change"]
