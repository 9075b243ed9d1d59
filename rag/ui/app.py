"""policy-rag web UI: ask the reply letters in Chinese or English, open cited letters, manage the library."""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import threading
from collections.abc import Callable, Sequence
from importlib.resources import files
from pathlib import Path
from typing import TYPE_CHECKING, cast

from rag.cli_store import server_args
from rag.config import DEFAULT_MODEL, Config
from rag.ingest import print_ocr_page, printable, printable_lines

if TYPE_CHECKING:
    import gradio as gr

    from rag import LLM, Index

BUNDLED_LETTERS = Path(__file__).resolve().parents[2] / "letters"


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """The command line of ``python app.py`` (``--help`` lists it)."""
    parser = argparse.ArgumentParser(prog="app.py", description="policy-rag web UI (Gradio).")
    parser.add_argument("--index", default="index", metavar="DIR",
                        help="index folder; built from --letters (default: the bundled letters) if missing")
    parser.add_argument("--letters", nargs="+", metavar="DIR", help="letter folders or files to index at start")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)")
    parser.add_argument("--port", type=int, default=7860, help="port (default: 7860)")
    parser.add_argument("--model", metavar="NAME_OR_PATH",
                        help=f"embedding model (default: {DEFAULT_MODEL}, bundled); an existing index must have "
                             "been built with it (the model is never taken from the index)")
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
    parser.add_argument("--llm-timeout", type=float, default=Config().llm_timeout, metavar="SECONDS",
                        help="seconds the model may take for its whole reply before the extractive answer is shown "
                             f"instead (default: {Config().llm_timeout:g})")
    server_args(parser)
    args = parser.parse_args(argv)
    if not args.milvus_timeout > 0:
        parser.error("--milvus-timeout must be a number of seconds above 0")
    if bool(args.llm_url) != bool(args.llm_model):
        parser.error("a generative answer needs both --llm-url and --llm-model")
    if not args.llm_timeout > 0:
        parser.error("--llm-timeout must be a number of seconds above 0")
    return args


def open_index(args: argparse.Namespace, config: Config) -> Index:
    """Load the index in ``args.index`` (adding ``--letters``), or build it, with progress on the terminal.

    Raises:
        IndexFolderError: the index cannot be loaded or built (corrupt, other settings, locked).
    """
    from rag import Index

    from .uploads import FOLDER

    directory = Path(args.index)
    tty = sys.stderr.isatty()
    report = _progress_printer(quiet=tty)  # a terminal shows the progress bar instead
    if (directory / "manifest.json").exists() and not args.rebuild:
        print(f"Loading the index in {printable(str(directory))} …", file=sys.stderr, flush=True)
        index = Index.load(directory, config=config, expect=config if args.model else None,
                           store_token=_store_token(directory, args), model=config.model, milvus_uri=args.milvus_uri)
        if args.letters:
            index.add(args.letters, progress=tty, on_progress=report, on_ocr_page=print_ocr_page)
            print(printable_lines(index.report.summary()), file=sys.stderr)
        return index
    sources = [str(p) for p in (args.letters or [BUNDLED_LETTERS])]
    if args.rebuild and (directory / FOLDER).is_dir():
        sources.append(str(directory / FOLDER))
    print(f"Building the index in {printable(str(directory))} from {printable(', '.join(sources))} …", file=sys.stderr,
          flush=True)
    index = Index.build(sources, directory, config=config, rebuild=args.rebuild, progress=tty, on_progress=report,
                        on_ocr_page=print_ocr_page)
    print(printable_lines(index.report.summary()), file=sys.stderr, flush=True)
    for skipped in index.report.skipped:
        print(f"  skipped {printable(str(skipped))}", file=sys.stderr)
    return index


def _store_token(directory: Path, args: argparse.Namespace) -> str | None:
    """The index's store server credentials, from the environment variable the user names (``--milvus-token-env``),
    read only once the index is found to name that variable and the user's server (``--milvus-uri``)."""
    from rag.stores.snapshot import StoreServer, token_variable

    variable = token_variable(directory, StoreServer(args.milvus_uri, args.milvus_token_env, args.milvus_timeout))
    return (os.environ.get(variable) or None) if variable else None





def _progress_printer(quiet: bool) -> Callable[[int, int], None]:
    """A progress callback that prints one line per tenth of the chunks embedded (nothing when ``quiet``)."""
    last = -1

    def report(done: int, total: int) -> None:
        nonlocal last
        percent = 100 * done // max(total, 1)
        if not quiet and percent // 10 != last:
            last = percent // 10
            print(f"  embedding chunks: {done}/{total} ({percent}%)", file=sys.stderr, flush=True)

    return report


def build_ui(index: Index, *, exports: Path, lang: str = "zh", llm: LLM | None = None) -> gr.Blocks:
    """The Gradio app over ``index``.

    Args:
        index: the index to search and to manage from the Library tab.
        exports: a folder for Markdown downloads.
        lang: the interface language at start (``zh`` or ``en``).
        llm: a language model that writes the answers, streamed into the chat and then replaced by the
            checked answer (or the extractive one, with a note, when it cannot be reached); None for
            extractive answers.
    """
    import gradio as gr

    from .events import Events
    from .layout import build_layout

    with gr.Blocks(title="policy-rag", analytics_enabled=False) as demo:
        layout = build_layout(index, lang)
        Events(index, layout, exports=exports, llm=llm).wire(demo)
    return cast("gr.Blocks", demo)


def stylesheet() -> str:
    """The UI's CSS (``rag/ui/style.css``)."""
    return files("rag.ui").joinpath("style.css").read_text(encoding="utf-8")


def gradio_installed() -> bool:
    """Whether Gradio can be imported (it is the optional ``ui`` extra)."""
    try:
        import gradio  # noqa: F401
    except ImportError:
        return False
    return True


def app_config(args: argparse.Namespace) -> Config:
    """The app's configuration from its flags: the same defaults the CLI and the Python API use."""
    return Config(model=args.model or DEFAULT_MODEL, max_file_bytes=int(args.max_upload_mb * 1_000_000),
                  llm_timeout=args.llm_timeout, milvus_token_env=args.milvus_token_env,
                  milvus_timeout=args.milvus_timeout, milvus_search_width=args.milvus_search_width)


def _warm_up(index: Index) -> None:
    index.encoder.encode_queries(["预热"])
    index.analyzer.tokens("预热")


def main(argv: Sequence[str] | None = None) -> int:
    """Start the web UI; returns the exit code (2 when the index cannot be opened)."""
    args = parse_args(argv)
    if not gradio_installed():
        print("error: the web UI needs Gradio, in the 'ui' extra: pip install 'policy-rag[ui]' "
              "(or `make run`, which installs it)", file=sys.stderr)
        return 2
    from rag import IndexFolderError
    from rag.embed import MissingDependency
    from rag.stores.dense_flat import single_threaded_search

    single_threaded_search()
    config = app_config(args)
    loading = (Path(args.index) / "manifest.json").exists() and not args.rebuild
    try:
        index = open_index(args, config)
    except MissingDependency as exc:  # an install to fix, not an index to rebuild
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except IndexFolderError as exc:
        hint = "\n(or start the app with --rebuild to rebuild it from --letters)" if loading else ""
        print(f"error: {printable(str(exc))}{hint}", file=sys.stderr)
        return 2
    except FileNotFoundError as exc:  # a --letters path that does not exist
        print(f"error: {printable(str(exc))}", file=sys.stderr)
        return 2
    llm = None
    if args.llm_url:
        from rag import LLM

        llm = LLM.from_config(args.llm_url, args.llm_model, config, api_key=os.environ.get(args.llm_key_env) or None)
    import gradio as gr

    # the model and jieba load on first use; load them while the page starts, not on the first question
    threading.Thread(target=_warm_up, args=(index,), daemon=True).start()
    with tempfile.TemporaryDirectory(prefix="policy-rag-exports-") as exports:
        demo = build_ui(index, exports=Path(exports), lang=args.lang, llm=llm)
        # questions run on app_workers workers, at most max_asks_per_client of them for one client address, at most
        # max_model_asks of them written by the model (Events)
        demo.queue(default_concurrency_limit=config.app_workers, max_size=config.max_queued_events)
        # quiet: Gradio's own banner would suggest share=True, a public link this app is not meant to open
        demo.launch(server_name=args.host, server_port=args.port, css=stylesheet(), theme=gr.themes.Soft(),
                    allowed_paths=[exports], max_file_size=max(config.max_file_bytes * 4, 10_000_000),
                    footer_links=[], ssr_mode=False, show_error=True, quiet=True, prevent_thread_lock=True)
        print(f"policy-rag is serving {demo.local_url} (Ctrl-C stops it)", file=sys.stderr, flush=True)
        demo.block_thread()
    return 0


__all__ = ["app_config", "build_ui", "main", "open_index", "parse_args"]
