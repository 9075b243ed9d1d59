"""The chat panel: the conversation, the question box, example questions, export and clear."""

from __future__ import annotations

from dataclasses import dataclass

import gradio as gr

from .. import render
from ..conversation import Conversation
from ..labels import t
from . import Updates

EXAMPLES = (
    "What subsidies exist for Class II device registration?",
    "二类医疗器械注册有哪些补助？",
    "医疗器械临床试验费用能不能用创新券？",
    "How large can the reward for equipment investment in key technical transformation projects be?",
    "河北省如何支持高端医疗器械研发？",
    "Which local companies had new products tried first in public hospitals?",
)


@dataclass(frozen=True)
class ChatPanel:
    """The components of the chat panel."""

    chatbot: gr.Chatbot
    question: gr.Textbox
    send: gr.Button
    examples: gr.Markdown
    chips: tuple[gr.Button, ...]
    download: gr.DownloadButton
    clear: gr.Button

    def relabel(self, language: str, conversation: Conversation) -> Updates:
        """The panel in ``language``, the conversation included."""
        return {
            self.chatbot: gr.update(label=t(language, "chat"), value=messages(conversation, language)),
            self.question: gr.update(label=t(language, "question"), placeholder=t(language, "placeholder")),
            self.send: gr.update(value=t(language, "send")),
            self.examples: gr.update(value=t(language, "examples")),
            self.download: gr.update(label=t(language, "export")),
            self.clear: gr.update(value=t(language, "clear")),
        }


def build_chat_panel(lang: str) -> ChatPanel:
    """Create the chat panel's components in the current layout."""
    # no floating label: it covered the first message once the chat scrolled
    chatbot = gr.Chatbot(label=t(lang, "chat"), show_label=False, elem_id="chat", height=480, render_markdown=False,
                         latex_delimiters=[], feedback_options=None, buttons=["copy"],
                         group_consecutive_messages=False)
    with gr.Row():
        question = gr.Textbox(label=t(lang, "question"), placeholder=t(lang, "placeholder"), elem_id="question",
                              scale=8, max_length=2000)
        send = gr.Button(t(lang, "send"), variant="primary", elem_id="send", scale=1)
    examples = gr.Markdown(t(lang, "examples"), elem_id="examples-label")
    with gr.Row(elem_id="examples"):
        chips = tuple(gr.Button(q, size="sm", elem_classes=["rag-chip"]) for q in EXAMPLES)
    with gr.Row():
        download = gr.DownloadButton(t(lang, "export"), elem_id="export", interactive=False, size="sm")
        clear = gr.Button(t(lang, "clear"), elem_id="clear", size="sm")
    return ChatPanel(chatbot, question, send, examples, chips, download, clear)


def messages(conversation: Conversation, language: str) -> list[dict[str, str]]:
    """The conversation as the chatbot's messages: each question, then its reply, as escaped HTML."""
    out = []
    for number, turn in enumerate(conversation.turns):
        out.append({"role": "user", "content": render.user_message(turn.question)})
        out.append({"role": "assistant", "content": render.chat_message(turn, language, number)})
    return out


__all__ = ["EXAMPLES", "ChatPanel", "build_chat_panel", "messages"]
