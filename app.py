"""policy-rag web UI: ask the reply letters in Chinese or English, open cited letters, manage the library."""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rag.config import DEFAULT_MODEL, Config

if TYPE_CHECKING:
    import gradio as gr

    from rag.conversation import Conversation, Turn
    from rag.generate import LLM
    from rag.index import Index

ROOT = Path(__file__).resolve().parent
BUNDLED_LETTERS = ROOT / "letters"

EXAMPLES = (
    "what subsidies exist for Class II device registration",
    "二类医疗器械注册有哪些补助？",
    "医疗器械临床试验费用能不能用创新券？",
    "How large can the reward for equipment investment in key technical transformation projects be?",
    "河北省如何支持高端医疗器械研发？",
    "Which local companies had new products tried first in public hospitals?",
)

LABELS: dict[str, dict[str, str]] = {
    "zh": {
        "heading": "## policy-rag · 答复函问答\n用中文或英文提问，回答附带可点击的引用；点击引用查看原文。",
        "ask_tab": "提问", "library_tab": "文库", "chat": "对话", "question": "问题",
        "placeholder": "例如：二类医疗器械注册有哪些补助？（可追问：那三类呢？）", "send": "发送",
        "examples": "示例问题（点击即问）：", "export": "导出 Markdown", "clear": "清空对话",
        "settings": "筛选与设置", "agency": "机关", "year_from": "起始年份", "year_to": "截止年份",
        "letters": "只在这些信件中检索", "k": "段落数", "upload": "上传信件（.txt .md .docx .pdf .html）",
        "remove_pick": "要移除的信件", "remove": "移除信件", "uploading": "正在建立索引",
        "nothing_removed": "请先选择要移除的信件。", "stale": "这封信已从文库中移除。",
    },
    "en": {
        "heading": "## policy-rag · Ask the reply letters\nAsk in Chinese or English; answers cite the letters. "
                   "Click a citation to open the letter.",
        "ask_tab": "Ask", "library_tab": "Library", "chat": "Conversation", "question": "Question",
        "placeholder": "e.g. what subsidies exist for Class II device registration? (then: what about Class III?)",
        "send": "Send", "examples": "Example questions (click to ask):", "export": "Download as Markdown",
        "clear": "Clear conversation", "settings": "Filters and settings", "agency": "Agency",
        "year_from": "From year", "year_to": "To year", "letters": "Only these letters", "k": "Passages",
        "upload": "Upload letters (.txt .md .docx .pdf .html)", "remove_pick": "Letter to remove",
        "remove": "Remove letter", "uploading": "Indexing",
        "nothing_removed": "Choose a letter to remove first.", "stale": "This letter was removed from the library.",
    },
}

# Clicks on a citation button inside the cards send its (turn, number) back to Python.
CITE_JS = """
element.addEventListener('click', (event) => {
  const button = event.target.closest('button.rag-cite');
  if (!button || !element.contains(button)) return;
  trigger('click', {turn: Number(button.dataset.turn), n: Number(button.dataset.n)});
});
"""
# When a letter opens, bring the cited span into view.
SCROLL_JS = """
const reveal = () => {
  const mark = element.querySelector('#cited-span');
  if (mark) mark.scrollIntoView({block: 'center', behavior: 'instant'});
};
watch('value', reveal);
reveal();
"""


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="app.py", description="policy-rag web UI (Gradio).")
    parser.add_argument("--index", default="index", metavar="DIR",
                        help="index folder; built from --letters (default: the bundled letters) if missing")
    parser.add_argument("--letters", nargs="+", metavar="DIR", help="letter folders or files to index at start")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)")
    parser.add_argument("--port", type=int, default=7860, help="port (default: 7860)")
    parser.add_argument("--model", metavar="NAME_OR_PATH",
                        help=f"embedding model for a new index (default: {DEFAULT_MODEL}, bundled); "
                             "an existing index is queried with its own")
    parser.add_argument("--rebuild", action="store_true", help="rebuild the index from scratch")
    parser.add_argument("--lang", choices=("zh", "en"), default="zh", help="interface language (default: zh)")
    parser.add_argument("--max-upload-mb", type=float, default=20.0, metavar="MB",
                        help="largest letter file accepted (default: 20)")
    parser.add_argument("--llm-url", metavar="URL",
                        help="an OpenAI-compatible endpoint (e.g. http://localhost:11434/v1): answers are written "
                             "by the model, streamed in, and every sentence's citation is checked")
    parser.add_argument("--llm-model", metavar="M", help="the model the endpoint serves (needed with --llm-url)")
    parser.add_argument("--llm-key-env", metavar="VAR", default="OPENAI_API_KEY",
                        help="environment variable holding the endpoint's API key (default: OPENAI_API_KEY)")
    args = parser.parse_args(argv)
    if bool(args.llm_url) != bool(args.llm_model):
        parser.error("a generative answer needs both --llm-url and --llm-model")
    return args


def open_index(args: argparse.Namespace, config: Config) -> Index:
    """Load the index in ``args.index``, or build it (with progress on the terminal)."""
    from rag.index import Index
    from rag.uploads import FOLDER

    directory = Path(args.index)
    tty = sys.stderr.isatty()
    step = {"last": -1}

    def report(done: int, total: int) -> None:
        if tty:
            return
        percent = 100 * done // max(total, 1)
        if percent // 10 != step["last"]:
            step["last"] = percent // 10
            print(f"  embedding passages: {done}/{total} ({percent}%)", file=sys.stderr, flush=True)

    if (directory / "manifest.json").exists() and not args.rebuild:
        from rag.store import read_manifest

        print(f"Loading the index in {directory} …", file=sys.stderr, flush=True)
        stored = Config.from_dict(read_manifest(directory).get("config", {}))
        index = Index.load(directory, config=stored.with_(max_file_bytes=config.max_file_bytes),
                           expect=config if args.model else None)
        if args.letters:
            index.add(args.letters, progress=tty, on_progress=report)
            print(index.report.summary(), file=sys.stderr)
        return index
    sources = [str(p) for p in (args.letters or [BUNDLED_LETTERS])]
    if args.rebuild and (directory / FOLDER).is_dir():
        sources.append(str(directory / FOLDER))
    print(f"Building the index in {directory} from {', '.join(sources)} …", file=sys.stderr, flush=True)
    index = Index.build(sources, directory, config=config, rebuild=args.rebuild, progress=tty, on_progress=report)
    print(index.report.summary(), file=sys.stderr, flush=True)
    for skipped in index.report.skipped:
        print(f"  skipped {skipped}", file=sys.stderr)
    return index


def build_ui(index: Index, *, exports: Path, lang: str = "zh", llm: LLM | None = None) -> gr.Blocks:
    """The Gradio app over ``index``; ``exports`` is a folder for Markdown downloads.

    With an ``llm`` the answers are written by the language model and stream into the chat, then
    are replaced by the checked answer (or the extractive one, with a note, when it cannot be reached).
    """
    import gradio as gr

    from rag import render
    from rag.conversation import Conversation, cited_spans, make_filters, reply, reply_stream
    from rag.store import IndexError_
    from rag.uploads import FOLDER, discard, store_uploads

    uploads = Path(index.directory or exports) / FOLDER

    def messages(conversation: Conversation, language: str) -> list[dict[str, str]]:
        out = []
        for turn in conversation.turns:
            out.append({"role": "user", "content": render.user_message(turn.question)})
            out.append({"role": "assistant", "content": render.chat_message(turn, language)})
        return out

    def export(turn: Turn | None, number: int, language: str) -> Any:
        if turn is None:
            return gr.update(value=None, interactive=False)
        folder = exports / uuid.uuid4().hex
        folder.mkdir(parents=True)
        path = folder / f"policy-rag-answer-{number + 1}.md"
        path.write_text(render.turn_markdown(turn, language, when=time.strftime("%Y-%m-%d %H:%M")), encoding="utf-8")
        return gr.update(value=str(path), interactive=True)

    def library(language: str) -> tuple[Any, ...]:
        letters = index.letters
        choices = render.letter_choices(letters)
        years = render.years(letters)
        return (gr.update(choices=render.agencies(letters)), gr.update(choices=years), gr.update(choices=years),
                gr.update(choices=choices), gr.update(choices=choices, value=None),
                render.letters_table_html(letters, language),
                f"<p>{render.library_summary(len(letters), len(index), language)}</p>")

    def ask(question: str, conversation: Conversation, k: float, agency: str | None, year_from: str | None,
            year_to: str | None, letters: list[str] | None, language: str) -> tuple[Any, ...]:
        if not (question or "").strip():
            return (gr.skip(),) * 6
        filters = make_filters(agency, year_from, year_to, letters or ())
        turn = reply(index, question, conversation.queries(), k=int(k), filters=filters)
        return answered(conversation, turn, language)

    def ask_streaming(question: str, conversation: Conversation, k: float, agency: str | None,
                      year_from: str | None, year_to: str | None, letters: list[str] | None,
                      language: str) -> Iterator[tuple[Any, ...]]:
        if not (question or "").strip():
            yield (gr.skip(),) * 6
            return
        filters = make_filters(agency, year_from, year_to, letters or ())
        earlier = [*messages(conversation, language), {"role": "user", "content": render.user_message(question)}]
        draft = ""
        for piece in reply_stream(index, question, conversation.queries(), k=int(k), filters=filters, llm=llm):
            if isinstance(piece, str):
                draft += piece
                bubble = {"role": "assistant", "content": render.draft_message(draft, language)}
                yield ([*earlier, bubble], *(gr.skip(),) * 5)
            else:
                yield answered(conversation, piece, language)

    def answered(conversation: Conversation, turn: Turn, language: str) -> tuple[Any, ...]:
        """The outputs of a finished question: chat, conversation, selected turn, cards, download, question."""
        conversation = conversation.with_turn(turn)
        number = len(conversation.turns) - 1
        return (messages(conversation, language), conversation, number,
                render.evidence_html(turn, number, language), export(turn, number, language), "")

    def choose(conversation: Conversation, language: str, event: gr.SelectData) -> tuple[Any, ...]:
        index_ = event.index[0] if isinstance(event.index, (list, tuple)) else event.index
        number = int(index_) // 2
        if not 0 <= number < len(conversation.turns):
            return gr.skip(), gr.skip(), gr.skip()
        turn = conversation.turns[number]
        return number, render.evidence_html(turn, number, language), export(turn, number, language)

    def open_citation(conversation: Conversation, language: str, event: gr.EventData) -> tuple[Any, ...]:
        try:
            number, n = int(event.turn), int(event.n)
            conversation.turns[number].evidence_for(n)
        except (AttributeError, TypeError, ValueError, IndexError, KeyError):
            return gr.skip(), gr.skip()
        return letter_view(conversation, (number, n), language), (number, n)

    def letter_view(conversation: Conversation, opened: tuple[int, int] | None, language: str) -> str:
        if opened is None:
            return render.letter_html(None, lang=language)
        turn = conversation.turns[opened[0]]
        item = turn.evidence_for(opened[1])
        try:
            letter = index.letter(item.hit.letter_id)
        except KeyError:
            return f'<p class="rag-notice">{render.escape(LABELS[language]["stale"])}</p>'
        caption = f"[{item.n}] {item.hit.citation}"
        return render.letter_html(letter, cited_spans(turn, item, letter), language, caption=caption)

    # Gradio injects event data by the parameter's runtime type; postponed annotations are only strings.
    choose.__annotations__ = {"event": gr.SelectData}
    open_citation.__annotations__ = {"event": gr.EventData}

    def clear(language: str) -> tuple[Any, ...]:
        return ([], Conversation(), -1, render.evidence_html(None, lang=language),
                render.letter_html(None, lang=language), None, export(None, 0, language))

    tracker = gr.Progress()  # Gradio finds the tracker by this default; it reports per event

    def upload(files: list[str] | None, language: str, progress: gr.Progress = tracker) -> tuple[Any, ...]:
        if not files:
            return (gr.skip(), gr.skip(), *library(language))
        stored, refused = store_uploads(files, uploads, max_bytes=index.config.max_file_bytes)
        report = None
        if stored:
            text = LABELS[language]["uploading"]
            progress(0.0, desc=text)
            try:
                report = index.add([str(u.path) for u in stored],
                                   on_progress=lambda done, total: progress(done / max(total, 1), desc=text))
            except IndexError_ as exc:
                from rag.ingest import Skipped

                discard([u.path for u in stored if not _indexed(index, u.path)], uploads)
                refused.extend(Skipped(u.name, str(exc)) for u in stored)
                stored = []
            else:
                discard([s.path for s in report.skipped], uploads)
        names = {str(u.path): u.name for u in stored}
        titles = {letter.letter_id: letter.display_name for letter in index.letters}
        html = render.upload_report_html(report, refused, language, names, titles)
        return (html, None, *library(language))

    def remove(letter_id: str | None, language: str) -> tuple[Any, ...]:
        if not letter_id:
            return (f'<p class="rag-notice">{render.escape(LABELS[language]["nothing_removed"])}</p>',
                    *library(language))
        try:
            letter = index.letter(letter_id)
            removed = index.remove([letter_id])
        except (KeyError, IndexError_) as exc:
            message = exc.args[0] if isinstance(exc, KeyError) and exc.args else str(exc)
            return (f'<p class="rag-bad">{render.escape(message)}</p>', *library(language))
        discard(letter.paths, uploads)
        return (render.removal_html(removed, len(index.letters), len(index), language), *library(language))

    def relabel(language: str, conversation: Conversation, selected: int,
                opened: tuple[int, int] | None) -> tuple[Any, ...]:
        words = LABELS[language]
        turn = conversation.turns[selected] if 0 <= selected < len(conversation.turns) else None
        return (
            gr.update(value=words["heading"]), gr.update(label=words["ask_tab"]), gr.update(label=words["library_tab"]),
            gr.update(label=words["chat"], value=messages(conversation, language)),
            gr.update(label=words["question"], placeholder=words["placeholder"]), gr.update(value=words["send"]),
            gr.update(value=words["examples"]), gr.update(label=words["export"]), gr.update(value=words["clear"]),
            gr.update(label=words["settings"]), gr.update(label=words["agency"]), gr.update(label=words["year_from"]),
            gr.update(label=words["year_to"]), gr.update(label=words["letters"]), gr.update(label=words["k"]),
            gr.update(label=words["upload"]), gr.update(label=words["remove_pick"]), gr.update(value=words["remove"]),
            render.evidence_html(turn, selected, language), letter_view(conversation, opened, language),
            render.letters_table_html(index.letters, language),
            f"<p>{render.library_summary(len(index.letters), len(index), language)}</p>",
        )

    words = LABELS[lang]
    letters = index.letters
    with gr.Blocks(title="policy-rag", analytics_enabled=False) as demo:
        conversation = gr.State(Conversation())
        selected = gr.State(-1)
        opened = gr.State(None)
        with gr.Row(equal_height=True):
            heading = gr.Markdown(words["heading"], elem_id="heading")
            language = gr.Radio([("中文", "zh"), ("English", "en")], value=lang, label="语言 / Language",
                                elem_id="language", scale=0, min_width=220)
        with gr.Tabs():
            with gr.Tab(words["ask_tab"], id="ask", elem_id="ask-tab") as ask_tab:
                with gr.Row():
                    with gr.Column(scale=5):
                        chatbot = gr.Chatbot(label=words["chat"], elem_id="chat", height=480, render_markdown=False,
                                             latex_delimiters=[], feedback_options=None, buttons=["copy"],
                                             group_consecutive_messages=False)
                        with gr.Row():
                            question = gr.Textbox(label=words["question"], placeholder=words["placeholder"],
                                                  elem_id="question", scale=8, max_length=2000)
                            send = gr.Button(words["send"], variant="primary", elem_id="send", scale=1)
                        examples = gr.Markdown(words["examples"], elem_id="examples-label")
                        with gr.Row(elem_id="examples"):
                            chips = [gr.Button(q, size="sm", elem_classes=["rag-chip"]) for q in EXAMPLES]
                        with gr.Row():
                            download = gr.DownloadButton(words["export"], elem_id="export", interactive=False,
                                                         size="sm")
                            reset = gr.Button(words["clear"], elem_id="clear", size="sm")
                        with gr.Accordion(words["settings"], open=False, elem_id="settings") as settings:
                            with gr.Row():
                                agency = gr.Dropdown(render.agencies(letters), value=None, label=words["agency"],
                                                     elem_id="agency", allow_custom_value=False)
                                year_from = gr.Dropdown(render.years(letters), value=None,
                                                        label=words["year_from"], elem_id="year-from")
                                year_to = gr.Dropdown(render.years(letters), value=None, label=words["year_to"],
                                                      elem_id="year-to")
                            pick = gr.Dropdown(render.letter_choices(letters), value=[], multiselect=True,
                                               label=words["letters"], elem_id="pick")
                            k = gr.Slider(1, 20, value=5, step=1, label=words["k"], elem_id="k")
                    with gr.Column(scale=4):
                        evidence = gr.HTML(render.evidence_html(None, lang=lang), elem_id="evidence",
                                           js_on_load=CITE_JS, max_height=520)
                        letter = gr.HTML(render.letter_html(None, lang=lang), elem_id="letter", js_on_load=SCROLL_JS)
            with gr.Tab(words["library_tab"], id="library", elem_id="library-tab") as library_tab:
                summary = gr.HTML(f"<p>{render.library_summary(len(letters), len(index), lang)}</p>",
                                  elem_id="library-summary", js_on_load=None)
                files = gr.File(file_count="multiple", type="filepath", label=words["upload"], elem_id="upload")
                report = gr.HTML("", elem_id="upload-report", js_on_load=None)
                with gr.Row():
                    doomed = gr.Dropdown(render.letter_choices(letters), value=None, label=words["remove_pick"],
                                         elem_id="remove-pick", scale=4)
                    drop = gr.Button(words["remove"], variant="stop", elem_id="remove", scale=1)
                table = gr.HTML(render.letters_table_html(letters, lang), elem_id="letters-table", js_on_load=None)

        library_outputs = [agency, year_from, year_to, pick, doomed, table, summary]
        ask_inputs = [question, conversation, k, agency, year_from, year_to, pick, language]
        ask_outputs = [chatbot, conversation, selected, evidence, download, question]
        respond = ask if llm is None else ask_streaming  # Gradio streams the outputs of a generator
        send.click(respond, ask_inputs, ask_outputs)
        question.submit(respond, ask_inputs, ask_outputs)
        for chip in chips:
            chip.click(lambda text: text, chip, question, queue=False).then(respond, ask_inputs, ask_outputs)
        chatbot.select(choose, [conversation, language], [selected, evidence, download])
        evidence.click(open_citation, [conversation, language], [letter, opened])
        reset.click(clear, language, [chatbot, conversation, selected, evidence, letter, opened, download])
        files.upload(upload, [files, language], [report, files, *library_outputs], concurrency_limit=1)
        drop.click(remove, [doomed, language], [report, *library_outputs], concurrency_limit=1)
        language.change(relabel, [language, conversation, selected, opened], [
            heading, ask_tab, library_tab, chatbot, question, send, examples, download, reset, settings, agency,
            year_from, year_to, pick, k, files, doomed, drop, evidence, letter, table, summary])
        demo.load(library, language, library_outputs)
    return demo


def _indexed(index: Index, path: Path) -> bool:
    target = str(path)
    return any(target in letter.paths for letter in index.letters)


def main(argv: Sequence[str] | None = None) -> int:
    """Start the web UI; returns the exit code (2 when the index cannot be opened)."""
    args = parse_args(argv)
    from rag.render import CSS
    from rag.search import single_threaded_search
    from rag.store import IndexError_

    single_threaded_search()
    config = Config(model=args.model or DEFAULT_MODEL, max_file_bytes=int(args.max_upload_mb * 1_000_000))
    try:
        index = open_index(args, config)
    except IndexError_ as exc:
        print(f"error: {exc}\n(or start the app with --rebuild to rebuild it from --letters)", file=sys.stderr)
        return 2
    llm = None
    if args.llm_url:
        from rag.generate import LLM

        llm = LLM(args.llm_url, args.llm_model, api_key=os.environ.get(args.llm_key_env) or None)
    import gradio as gr

    with tempfile.TemporaryDirectory(prefix="policy-rag-exports-") as exports:
        demo = build_ui(index, exports=Path(exports), lang=args.lang, llm=llm)
        demo.queue(default_concurrency_limit=4)
        demo.launch(server_name=args.host, server_port=args.port, css=CSS, theme=gr.themes.Soft(),
                    allowed_paths=[exports], max_file_size=max(config.max_file_bytes * 4, 10_000_000),
                    footer_links=[], ssr_mode=False, show_error=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
