"""What the page does: asking, choosing a reply, opening a citation, clearing, uploading, removing, relabelling.

Every handler returns ``{component: new value or gr.update(...)}``; components left out keep their value.
Gradio injects event data and progress by the parameters' types, which it reads with
``typing.get_type_hints``: every name in a handler's signature must exist here at run time.
"""

from __future__ import annotations

import math
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

import gradio as gr

from rag import Filters, Index, IndexFolderError, IndexLocked, Skipped
from rag.answer.compare import Comparison  # at run time: Gradio reads the handlers' hints to find gr.EventData
from rag.embed import MissingDependency
from rag.ingest import printable

from . import render
from .comparison import compare_chart_html, compare_csv, compare_table_html
from .conversation import Conversation, Turn, make_filters, reply, reply_stream
from .labels import t
from .layout import Layout
from .markdown import turn_markdown
from .panels import Updates, no_change
from .panels.chat import messages
from .panels.filters import MOST_PASSAGES
from .panels.letter import Opened, letter_view
from .panels.library import CONFIRM_REMOVAL_JS
from .slots import ClientSlots
from .uploads import FOLDER, discard, store_uploads

if TYPE_CHECKING:
    from rag import LLM
    from rag.retrieve.filters import Filters

_MODEL = "model"  # the key of the language model's slots in Events.writers
_TRACKER = gr.Progress()  # Gradio finds the progress tracker by this default; it reports per event


class Events:
    """The handlers of one app, over one index; per-session data arrives in ``gr.State`` inputs.

    Args:
        index: the index to search and to add letters to.
        layout: the page's components.
        exports: a folder for Markdown downloads.
        llm: a language model to write the answers (streamed in), or None for extractive answers.
    """

    def __init__(self, index: Index, layout: Layout, *, exports: Path, llm: LLM | None = None) -> None:
        self.index = index
        self.layout = layout
        self.exports = exports
        self.llm = llm
        self.uploads = Path(index.directory or exports) / FOLDER
        self.clients = ClientSlots(index.config.max_asks_per_client)
        self.writers = ClientSlots(index.config.max_model_asks)  # one key: questions the model writes, all clients

    def wire(self, demo: gr.Blocks) -> None:
        """Attach the handlers to the events of ``demo``, the ``gr.Blocks`` the layout was built in."""
        page, chat, filters = self.layout, self.layout.chat, self.layout.filters
        ask_inputs = [chat.question, page.conversation, filters.k, filters.agency, filters.year_from,
                      filters.year_to, filters.letters, page.language, filters.region]
        ask_outputs = [chat.chatbot, page.conversation, page.selected, page.evidence.cards, chat.download,
                       chat.question, page.letter.view, page.opened]
        respond = self.ask if self.llm is None else self.ask_streaming  # Gradio streams a generator's outputs
        chat.send.click(respond, ask_inputs, ask_outputs)
        chat.question.submit(respond, ask_inputs, ask_outputs)
        for chip in chat.chips:
            chip.click(lambda text: text, chip, chat.question, queue=False).then(respond, ask_inputs, ask_outputs)
        chat.chatbot.select(self.choose, [page.conversation, page.language],
                            [page.selected, page.evidence.cards, chat.download, page.letter.view, page.opened])
        page.evidence.cards.click(self.open_citation, [page.conversation, page.language],
                                  [page.letter.view, page.opened])
        chat.clear.click(self.clear, page.language, [chat.chatbot, page.conversation, page.selected,
                                                     page.evidence.cards, page.letter.view, page.opened, chat.download])
        # the components that depend on the library, and on the language: what these handlers may update
        refreshed = list(page.refresh(self.index, "zh"))
        relabelled = list(page.relabel("zh", self.index, Conversation(), -1, None))
        library = page.library
        library.files.upload(self.upload, [library.files, page.language],
                             [library.report, library.files, *refreshed], concurrency_limit=1)
        library.remove.click(self.remove, [library.doomed, page.language], [library.report, *refreshed],
                             concurrency_limit=1, js=CONFIRM_REMOVAL_JS)
        page.language.change(self.relabel, [page.language, page.conversation, page.selected, page.opened],
                             relabelled)
        demo.load(self.refresh, page.language, refreshed)
        compare = page.compare
        compare_outputs = [compare.table, compare.chart, compare.csv, compare.comparison]
        compare.run.click(self.compare, [compare.question, compare.region, page.language], compare_outputs)
        compare.question.submit(self.compare, [compare.question, compare.region, page.language], compare_outputs)
        compare.table.click(self.open_compared, [compare.comparison, page.language], compare.letter)

    # ---- asking -------------------------------------------------------------------------
    def ask(self, question: str, conversation: Conversation, k: float, agency: str | None, year_from: str | None,
            year_to: str | None, letters: list[str] | None, language: str, region: str | None = None,
            request: gr.Request | None = None) -> Updates:
        """Answer ``question`` in the conversation (nothing happens for a blank one)."""
        if not (question or "").strip():
            return no_change()
        question, notes = self._clipped(question)
        with self.clients.slot(_client(request)) as admitted:
            turn = self._refused(question, k, admitted) or self._extractive(question, conversation, k, agency,
                                                                            year_from, year_to, letters, region)
        return self._answered(conversation, replace(turn, notes=(*notes, *turn.notes)), language)

    def ask_streaming(self, question: str, conversation: Conversation, k: float, agency: str | None,
                      year_from: str | None, year_to: str | None, letters: list[str] | None,
                      language: str, region: str | None = None,
                      request: gr.Request | None = None) -> Iterator[Updates]:
        """:meth:`ask` with the language model: its draft grows in the chat, then the checked answer replaces it.

        At most ``Config.max_model_asks`` questions are written by the model at once; beyond that a question gets
        the extractive answer at once, with a note, so a slow endpoint never holds every worker."""
        if not (question or "").strip():
            yield no_change()
            return
        question, notes = self._clipped(question)
        with self.clients.slot(_client(request)) as admitted:
            refused = self._refused(question, k, admitted)
            if refused is not None:
                yield self._answered(conversation, replace(refused, notes=notes), language)
                return
            with self.writers.slot(_MODEL) as writing:
                if not writing:
                    turn = self._extractive(question, conversation, k, agency, year_from, year_to, letters,
                                           region)
                    most = self.writers.most
                    busy = (f"the language model is writing {most} other answer{'s' if most > 1 else ''}; this is "
                            "the extractive answer (Config.max_model_asks)")
                    yield self._answered(conversation, replace(turn, notes=(*notes, busy, *turn.notes)), language)
                    return
                yield from self._streamed(question, notes, conversation, k,
                                          make_filters(agency, year_from, year_to, letters or (), region), language)

    def _streamed(self, question: str, notes: tuple[str, ...], conversation: Conversation, k: float,
                  filters: Filters | None, language: str) -> Iterator[Updates]:
        """The model's draft as it grows, then the checked answer."""
        self.index.refresh()  # letters another process added or removed since the last question
        chatbot = self.layout.chat.chatbot
        earlier = [*messages(conversation, language), {"role": "user", "content": render.user_message(question)}]
        draft = ""
        for piece in reply_stream(self.index, question, conversation.queries(), k=int(k), filters=filters,
                                  llm=self.llm):
            if isinstance(piece, str):
                draft += piece
                bubble = {"role": "assistant", "content": render.draft_message(draft, language)}
                yield {chatbot: [*earlier, bubble]}
            else:
                yield self._answered(conversation, replace(piece, notes=(*notes, *piece.notes)), language)

    def _extractive(self, question: str, conversation: Conversation, k: float, agency: str | None,
                    year_from: str | None, year_to: str | None, letters: list[str] | None,
                    region: str | None = None) -> Turn:
        filters = make_filters(agency, year_from, year_to, letters or (), region)
        self.index.refresh()  # letters another process added or removed since the last question
        return reply(self.index, question, conversation.queries(), k=int(k), filters=filters)

    def _refused(self, question: str, k: object, admitted: bool) -> Turn | None:
        """Why the question is not answered (its client's slots are taken, or ``k`` is no number of passages)."""
        if not admitted:
            most = self.clients.most
            return Turn(question=question, query=question, mode="error",
                        text=f"this address already has {most} question{'s' if most > 1 else ''} being answered; "
                             f"ask again when {'they are' if most > 1 else 'it is'} done (Config.max_asks_per_client)")
        if isinstance(k, bool) or not (isinstance(k, (int, float)) and math.isfinite(k) and 1 <= k <= MOST_PASSAGES):
            return Turn(question=question, query=question, mode="error",
                        text=f"the number of passages must be a number from 1 to {MOST_PASSAGES}, not {str(k)[:20]}")
        return None

    def _clipped(self, question: str) -> tuple[str, tuple[str, ...]]:
        """The question cut to ``max_question_chars`` here, on the server: the textbox's limit binds only browsers."""
        limit = self.index.config.max_question_chars
        if len(question) <= limit:
            return question, ()
        return question[:limit], (f"the question is {len(question):,} characters; only the first {limit:,} were "
                                  "used (Config.max_question_chars)",)

    def _answered(self, conversation: Conversation, turn: Turn, language: str) -> Updates:
        """A finished reply: in the chat, the conversation and the cards, ready to download; the box emptied."""
        conversation = conversation.with_turn(turn)
        number = len(conversation.turns) - 1
        page = self.layout
        return {page.chat.chatbot: messages(conversation, language), page.conversation: conversation,
                page.selected: number, page.evidence.cards: render.evidence_html(turn, number, language),
                page.chat.download: self._export(turn, number, language), page.chat.question: "",
                **self._follow(conversation, number, language)}

    def _follow(self, conversation: Conversation, number: int, language: str) -> Updates:
        """The letter view for reply ``number``: the letter of its first citation (an answer's), else none."""
        turn = conversation.turns[number]
        opened = (number, turn.evidence[0].n) if turn.mode == "answer" and turn.evidence else None
        page = self.layout
        return {page.letter.view: letter_view(self.index, conversation, opened, language, follow=True),
                page.opened: opened}

    def _export(self, turn: Turn | None, number: int, language: str) -> dict[str, object]:
        """The download button, offering ``turn`` as a Markdown file (disabled without a turn)."""
        if turn is None:
            return gr.update(value=None, interactive=False)
        folder = self.exports / uuid.uuid4().hex
        folder.mkdir(parents=True)
        path = folder / f"policy-rag-answer-{number + 1}.md"
        path.write_text(turn_markdown(turn, language, when=time.strftime("%Y-%m-%d %H:%M")), encoding="utf-8")
        return gr.update(value=str(path), interactive=True)

    # ---- the evidence and the letter ----------------------------------------------------
    def choose(self, conversation: Conversation, language: str, event: gr.SelectData) -> Updates:
        """Show the cards of the reply clicked in the chat."""
        number = _message_number(getattr(event, "index", None))
        if number is None or not 0 <= number < len(conversation.turns):
            return no_change()
        turn = conversation.turns[number]
        page = self.layout
        return {page.selected: number, page.evidence.cards: render.evidence_html(turn, number, language),
                page.chat.download: self._export(turn, number, language),
                **self._follow(conversation, number, language)}

    def open_citation(self, conversation: Conversation, language: str, event: gr.EventData) -> Updates:
        """Open the letter of the citation clicked in the cards (the event carries its turn and number)."""
        try:
            opened = (int(event.turn), int(event.n))
            conversation.turns[opened[0]].evidence_for(opened[1])
        except (AttributeError, TypeError, ValueError, IndexError, KeyError):
            return no_change()
        page = self.layout
        return {page.letter.view: letter_view(self.index, conversation, opened, language), page.opened: opened}

    def clear(self, language: str) -> Updates:
        """Start a new conversation."""
        page = self.layout
        return {page.chat.chatbot: [], page.conversation: Conversation(), page.selected: -1,
                page.evidence.cards: render.evidence_html(None, lang=language),
                page.letter.view: render.letter_html(None, lang=language), page.opened: None,
                page.chat.download: self._export(None, 0, language)}

    # ---- comparing ------------------------------------------------------------------------
    def compare(self, question: str, region: str | None, language: str) -> Updates:
        """Compare ``question`` across the letters (in ``region``): the table, the chart and the CSV."""
        panel = self.layout.compare
        if not (question or "").strip():
            return no_change()
        question, _ = self._clipped(question)
        comparison = self.index.compare(question, filters=Filters(region=region) if region else None)
        folder = self.exports / uuid.uuid4().hex
        folder.mkdir(parents=True)
        path = folder / "policy-rag-compare.csv"
        path.write_text(compare_csv(comparison), encoding="utf-8-sig")  # utf-8-sig: spreadsheets read it
        return {panel.table: compare_table_html(comparison, language),
                panel.chart: compare_chart_html(comparison, language),
                panel.csv: gr.update(value=str(path), interactive=bool(comparison.rows)),
                panel.comparison: comparison}

    def open_compared(self, comparison: Comparison | None, language: str, event: gr.EventData) -> Updates:
        """Open the letter of the quote clicked in the comparison, its sentence marked."""
        try:
            row = next(r for r in comparison.rows if r.letter_id == event.letter  # type: ignore[union-attr]
                       and r.citation.start == int(event.start) and r.citation.end == int(event.end))
            letter = self.index.letter(row.letter_id)
        except (AttributeError, TypeError, ValueError, StopIteration, KeyError):
            return no_change()
        span = (row.citation.start, row.citation.end)
        return {self.layout.compare.letter: render.letter_html(letter, [span], language, opened=(0, row.citation.n))}

    # ---- the library --------------------------------------------------------------------
    def upload(self, files: list[str] | None, language: str, progress: gr.Progress = _TRACKER) -> Updates:
        """Keep the readable files among ``files`` and index them; report what happened to each."""
        library = self.layout.library
        if not files:
            return self.refresh(language)
        stored, refused = store_uploads(files, self.uploads, max_bytes=self.index.config.max_file_bytes,
                                        config=self.index.config)
        report = None
        names_by_path = {str(u.path): u.name for u in stored}
        if stored:
            text = t(language, "uploading")
            progress(0.0, desc=text)
            try:
                report = self.index.add([str(u.path) for u in stored],
                                        on_progress=lambda done, total: progress(done / max(total, 1), desc=text),
                                        on_ocr_page=lambda path, done, total: progress(
                                            done / max(total, 1), desc=t(language, "ocr_page").format(
                                                name=names_by_path.get(path, Path(path).name), done=done,
                                                total=total)))
            except (IndexFolderError, MissingDependency) as exc:
                discard([u.path for u in stored if not _indexed(self.index, u.path)], self.uploads)
                refused.extend(Skipped(u.name, _plain_reason(exc)) for u in stored)
                stored = []
            else:
                discard([s.path for s in report.skipped], self.uploads)
        names = {str(u.path): u.name for u in stored}
        titles = {letter.letter_id: letter.display_name for letter in self.index.letters}
        html = render.upload_report_html(report, refused, language, names, titles)
        return {library.report: html, library.files: None, **self.refresh(language)}

    def remove(self, letter_id: str | None, language: str) -> Updates:
        """Remove a letter from the index, and its file if it was uploaded."""
        report = self.layout.library.report
        if not letter_id:
            notice = f'<p class="rag-notice">{render.escape(t(language, "nothing_removed"))}</p>'
            return {report: notice, **self.refresh(language)}
        try:
            letter = self.index.letter(letter_id)
            removed = self.index.remove([letter_id])
        except KeyError as exc:
            return {report: f'<p class="rag-bad">{render.escape(exc.args[0] if exc.args else exc)}</p>',
                    **self.refresh(language)}
        except IndexFolderError as exc:
            message = _plain_reason(exc)
            return {report: f'<p class="rag-bad">{render.escape(message)}</p>', **self.refresh(language)}
        discard(letter.paths, self.uploads)
        done = render.removal_html(removed, language)
        return {report: done, **self.refresh(language)}

    def refresh(self, language: str) -> Updates:
        """The filters' choices and the library's views, for the letters indexed now (by any process)."""
        self.index.refresh()
        return self.layout.refresh(self.index, language)

    def relabel(self, language: str, conversation: Conversation, selected: int, opened: Opened | None) -> Updates:
        """The page in another language."""
        return self.layout.relabel(language, self.index, conversation, selected, opened)


def _client(request: gr.Request | None) -> str | None:
    """Who asks: the client's address (not Gradio's session hash, which the client picks and can change with every
    request); None outside a request. Behind a reverse proxy on the same host, uvicorn takes the address from the
    proxy's X-Forwarded-For (it trusts that header from 127.0.0.1 only)."""
    address = getattr(getattr(request, "client", None), "host", None)
    return str(address) if address else None


def _message_number(index: object) -> int | None:
    """The reply a chat selection points at (Gradio sends the message's position, or [position, ...]); None for
    anything else a client may send."""
    position = index[0] if isinstance(index, (list, tuple)) and index else index
    if isinstance(position, bool) or not isinstance(position, int):
        return None
    return position // 2


def _plain_reason(error: IndexFolderError | MissingDependency) -> str:
    """Why the library could not be changed, for the person using it: no server paths (they go to the log)."""
    print(f"library not changed: {printable(str(error))}", file=sys.stderr)
    if isinstance(error, IndexLocked):
        return "the library is being updated by another upload or build; try again in a moment"
    if isinstance(error, MissingDependency):
        return "the server lacks a package it needs to read letters (the server log names it); nothing was changed"
    return "the library could not be updated (the server log has the details); nothing was changed"


def _indexed(index: Index, path: Path) -> bool:
    target = str(path)
    return any(target in letter.paths for letter in index.letters)


__all__ = ["ClientSlots", "Events"]
