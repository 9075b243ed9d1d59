"""The ``rag`` command line: build, search, ask, compare, list and remove letters."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from .cli_letters import add_letter_commands, print_comparison, print_letters
from .cli_queries import Query, read_questions
from .cli_store import add_store_args, build_config, build_sharded, dense_args, load_index, server_args
from .config import DEFAULT_MODEL, Config
from .ingest import print_ocr_page, printable, printable_lines

if TYPE_CHECKING:
    from .answer import LLM
    from .index import BuildReport, Index
    from .retrieve.filters import Filters
    from .retrieve.hits import Hit


CACHE = ".cache"  # inside an index folder: data derived from the bundled dictionaries, kept between commands


class _Parser(argparse.ArgumentParser):
    """argparse, with a usage mistake told in the CLI's one ``error:`` line (exit 2) rather than the usage block."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"error: {message} (see `{self.prog} --help`)\n")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="rag", description="Find and quote what Chinese government reply letters say.")
    sub = parser.add_subparsers(dest="command", required=True)

    build = sub.add_parser("build", help="build or update an index from letter files and folders")
    build.add_argument("paths", nargs="+", metavar="PATH",
                       help="letter files or folders (.txt .md .docx .doc .pdf .html .ofd; scans .png .jpg .tif)")
    build.add_argument("--index", default="index", metavar="DIR", help="index folder (default: index)")
    build.add_argument("--model", default=DEFAULT_MODEL, metavar="NAME_OR_PATH",
                       help=f"embedding model: {DEFAULT_MODEL} (bundled) or a sentence-transformers name/path")
    dense_args(build)
    add_store_args(build)
    build.add_argument("--rebuild", action="store_true", help="discard the existing index and build from scratch")
    build.add_argument("--json", action="store_true", help="print the build report as JSON")
    build.add_argument("--quiet", action="store_true", help="no progress bar")
    build.add_argument("--workers", type=int, default=_cores(), metavar="N", help="processes that embed (default: "
                       "the cores available, %(default)s); a stopped build run again embeds only what it had not")

    search = sub.add_parser("search", help="print the passages that best answer a question")
    _query_args(search)

    ask = sub.add_parser("ask", help="answer a question with quoted, cited sentences (or say the letters are silent)")
    _query_args(ask, k=None)
    ask.add_argument("--llm-url", metavar="URL",
                     help="an OpenAI-compatible endpoint for a generative answer, e.g. http://localhost:11434/v1")
    ask.add_argument("--llm-model", metavar="M", help="the model the endpoint serves")
    ask.add_argument("--llm-key-env", metavar="VAR",
                     help="environment variable holding the endpoint's API key (default: OPENAI_API_KEY)")
    ask.add_argument("--llm-timeout", type=float, metavar="SECONDS",
                     help=f"seconds the model may take for its whole reply before the extractive answer is shown "
                          f"instead (default: {Config().llm_timeout:g})")
    ask.add_argument("--stream", action="store_true", help="print the model's draft while it writes, then the "
                                                          "checked answer")

    compare, letters = add_letter_commands(sub, _filter_args)
    server_args(letters)

    remove = sub.add_parser("remove", help="remove letters (by id, path or file name) from an index")
    remove.add_argument("letters", nargs="+", metavar="LETTER")
    remove.add_argument("--index", default="index", metavar="DIR")
    remove.add_argument("--json", action="store_true", help='print {"removed": [ids], "letters": N} as JSON')
    for command in (letters, remove, compare):
        command.add_argument("--model", metavar="NAME_OR_PATH", help="the index's embedding model (needed only "
                             "when new text is embedded; never read from the index)")
    server_args(remove)
    return parser


def _cores() -> int:
    import os

    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def _query_args(parser: argparse.ArgumentParser, k: int | None = 5) -> None:
    parser.add_argument("question", nargs="?", help="the question (Chinese or English)")
    parser.add_argument("--queries", metavar="FILE.jsonl", help="JSONL file of {\"id\", \"question\"} objects")
    parser.add_argument("--index", default="index", metavar="DIR", help="index folder (default: index)")
    parser.add_argument("--model", default=DEFAULT_MODEL, metavar="NAME_OR_PATH",
                        help=f"the embedding model the index was built with (default: {DEFAULT_MODEL}, bundled); "
                             "it is never taken from the index, which may come from someone else")
    parser.add_argument("--k", type=int, default=k, help=f"number of passages (default: "
                        f"{k or 'Config.answer_passages, ' + str(Config().answer_passages)})")
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    _filter_args(parser)


def _filter_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--agency", help="only letters whose agency contains this text")
    parser.add_argument("--region", help="only letters from this division or inside it (浙江, 宁波, 慈溪市)")
    parser.add_argument("--letter", action="append", default=[], metavar="ID", help="only this letter (repeatable)")
    parser.add_argument("--from", dest="date_from", metavar="YYYY-MM-DD", help="only letters dated on or after")
    parser.add_argument("--to", dest="date_to", metavar="YYYY-MM-DD", help="only letters dated on or before")
    server_args(parser)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit code (0 ok, 2 usage or data error)."""
    args = _parser().parse_args(argv)
    from .embed import MissingDependency
    from .retrieve.query import BadQuery
    from .stores.dense_flat import single_threaded_search
    from .stores.disk import IndexFolderError

    single_threaded_search()

    try:
        return _COMMANDS[args.command](args)
    except BrokenPipeError:  # `rag letters | head`: the reader has what it wanted
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # nothing more to write at exit either
        return 0
    except (IndexFolderError, BadQuery, KeyError, ValueError, OSError, MissingDependency) as exc:
        message = exc.args[0] if isinstance(exc, KeyError) and exc.args else str(exc)
        print(f"error: {printable(str(message))}", file=sys.stderr)
        return 2


def _build(args: argparse.Namespace) -> int:
    from .index import Index

    if args.shard is not None or args.commit_shards is not None:
        report = build_sharded(args, _token(args.milvus_token_env))
        print(json.dumps({"shard": args.shard, **_report_data(report)}, ensure_ascii=False) if args.json else
              f"shard {args.shard}: embedded {report.new_chunks} of the build's {report.chunks} new chunks; "
              "--commit-shards publishes the build once every shard is in" if args.shard else
              f"committed: {report.summary()}")
        return 0
    if args.workers < 1:
        raise ValueError(f"--workers must be 1 or more, not {args.workers}")
    try:
        index = Index.build(args.paths, args.index, config=build_config(args), rebuild=args.rebuild,
                            progress=not args.quiet and sys.stderr.isatty(), store_token=_token(args.milvus_token_env),
                            on_ocr_page=None if args.quiet else print_ocr_page, workers=args.workers)
    except KeyboardInterrupt:
        print(f"\ninterrupted: {printable(args.index)} is as it was; run the same command again to go on from "
              "the letters embedded so far", file=sys.stderr)
        return 130
    report = index.report
    if args.json:
        print(json.dumps(_report_data(report), ensure_ascii=False))
    else:
        print(report.summary())
        print(f"  embedded {report.chars_embedded:,} characters; index: {printable(str(Path(args.index).resolve()))}")
        for skipped in report.skipped:
            print(f"  skipped {printable(str(skipped))}")
        for path, same in report.duplicates:
            print(f"  duplicate {printable(path)} = letter {printable(same)}")
    return 0


def _report_data(report: BuildReport) -> dict[str, Any]:
    return {**{k: v for k, v in report.__dict__.items() if k != "skipped"},
            "skipped": [{"path": s.path, "reason": s.reason} for s in report.skipped]}


def _token(variable: str | None) -> str | None:
    """A store server's credentials, from the environment variable the flags or the index name."""
    import os

    return (os.environ.get(variable) or None) if variable else None


def _load(args: argparse.Namespace) -> Index:
    """The index in ``args.index``, queried with the user's ``--model``, on the store server the flags name (if it
    has one), with its credentials; derived dictionaries are cached in the index folder's :data:`CACHE` (see
    :meth:`~rag.glossary.Bridge.cedict`)."""
    from .analyze import Analyzer

    return load_index(args.index, args, os.environ.get, model=args.model,
                      analyzer=Analyzer(cache=Path(args.index) / CACHE))


def _filters(args: argparse.Namespace) -> Filters:
    from .retrieve.filters import Filters

    return Filters(letters=tuple(args.letter), agency=args.agency, region=args.region, date_from=args.date_from,
                   date_to=args.date_to)


def _note_truncation(question: str, limit: int) -> None:
    if len(question) > limit:
        print(f"note: the question is {len(question):,} characters; only the first {limit:,} are used "
              "(Config.max_question_chars)", file=sys.stderr)


def _asked(query: Query, limit: int) -> str:
    """The question to search or ask; a bad ``--queries`` line raises ``BadQuery``; a cut is noted."""
    from .retrieve.query import BadQuery

    if query.error is not None:
        raise BadQuery(query.error)
    _note_truncation(query.question, limit)
    return query.question


def _failed(query: Query, error: Exception, args: argparse.Namespace) -> int:
    """Report a question that could not be asked and count it (1); a lone question re-raises its error.

    With ``--queries`` the batch goes on: one line per failure, JSON with its id on stdout (``--json``) or
    ``error:`` on stderr.
    """
    if not args.queries:
        raise error
    message = str(error)
    if args.json:
        print(json.dumps({"id": query.qid, "error": message}, ensure_ascii=False))
    else:
        label = f" ({printable(str(query.qid))})" if query.qid is not None else ""
        print(f"error{label}: {printable(message)}", file=sys.stderr)
    return 1


def _safe(text: str) -> str:
    """Letter or user text for the terminal: each line through :func:`~rag.ingest.printable`."""
    return printable_lines(text)


def _headline(query: Query, limit: int) -> str:
    shown = query.question[:limit] + ("…" if len(query.question) > limit else "")
    return f"## {printable(str(query.qid))}: {printable(shown)}"


def _search(args: argparse.Namespace) -> int:
    from .retrieve.query import BadQuery

    questions = read_questions(args)
    filters = _filters(args)  # bad dates are refused before the index is loaded
    index = _load(args)
    failed = 0
    for query in questions:
        try:
            hits = index.search(_asked(query, index.config.max_question_chars), k=args.k, filters=filters)
        except BadQuery as exc:
            failed += _failed(query, exc, args)
            continue
        if args.json:
            rows = [h.to_dict() for h in hits]
            print(json.dumps(rows if args.queries is None else {"id": query.qid, "hits": rows}, ensure_ascii=False))
            continue
        if args.queries:
            print(_headline(query, index.config.max_question_chars))
        if not hits:
            print("no passages found")
        for hit in hits:
            print(format_hit(hit))
    return 2 if failed else 0


def format_hit(hit: Hit) -> str:
    """A hit as terminal text: rank, letter, score, agency, region and date; the section path; the passage, indented.

    The section is named once (by its path, not again by its label) and blank lines are dropped.
    """
    who = "  ".join(x for x in (hit.agency, hit.region.text(), hit.date) if x)
    name = hit.doc_number or hit.title or Path(hit.path).stem
    head = f"[{hit.rank}] {name}  ({hit.score:.3f}){f'  {who}' if who else ''}"
    lines = [head, f"    {hit.section}"] if hit.section else [head]
    lines += [f"    {line.strip()}" for line in hit.text.splitlines() if line.strip()]
    return "\n".join(printable(line) for line in lines)


def _ask(args: argparse.Namespace) -> int:
    from .answer import Answer, answer_to_dict, format_answer
    from .retrieve.query import BadQuery

    questions = read_questions(args)
    filters = _filters(args)  # bad dates are refused before the index is loaded
    index = _load(args)
    llm = _llm(args, index.config)
    failed = 0
    for query in questions:
        if args.queries and not args.json:
            print(_headline(query, index.config.max_question_chars))
        final: Answer | None = None
        drafted = False
        try:
            for piece in index.ask_stream(_asked(query, index.config.max_question_chars), k=args.k,
                                          filters=filters, llm=llm):
                if isinstance(piece, Answer):
                    final = piece
                elif args.stream and not args.json:
                    print(_safe(piece), end="", flush=True)
                    drafted = True
        except BadQuery as exc:
            failed += _failed(query, exc, args)
            continue
        assert final is not None
        if args.json:
            data = answer_to_dict(final)
            print(json.dumps(data if args.queries is None else {"id": query.qid, "answer": data}, ensure_ascii=False))
            continue
        if drafted:
            print("\n--- checked answer ---")
        print(_safe(format_answer(final)))
        if args.queries:
            print()
    return 2 if failed else 0


def _llm(args: argparse.Namespace, config: Config) -> LLM | None:
    """The endpoint named by the flags (or the config), with the config's deadline and reply caps."""
    import os

    from .answer import LLM

    url, model = args.llm_url or config.llm_url, args.llm_model or config.llm_model
    if not (url or model):
        return None
    if not (url and model):
        raise ValueError("a generative answer needs both --llm-url and --llm-model")
    timeout = config.llm_timeout if args.llm_timeout is None else args.llm_timeout
    if not timeout > 0:
        raise ValueError(f"--llm-timeout must be a number of seconds above 0, not {args.llm_timeout}")
    key_env = args.llm_key_env or config.llm_key_env
    return LLM.from_config(url, model, config.with_(llm_timeout=timeout), api_key=os.environ.get(key_env) or None)


def _letters(args: argparse.Namespace) -> int:
    print_letters(_load(args), args.json)
    return 0


def _compare(args: argparse.Namespace) -> int:
    filters = _filters(args)  # bad dates are refused before the index is loaded
    if args.letters < 1:
        raise ValueError(f"--letters must be at least 1, not {args.letters}")
    print_comparison(_load(args).compare(args.question, filters=filters or None, letters=args.letters),
                     args.json)
    return 0


def _remove(args: argparse.Namespace) -> int:

    index = _load(args)
    removed = index.remove(args.letters)
    if args.json:
        print(json.dumps({"removed": list(removed), "letters": len(index.letters)}, ensure_ascii=False))
    else:
        print(f"removed {', '.join(map(printable, removed))}; {len(index.letters)} letters remain")
    return 0


_COMMANDS = {"build": _build, "search": _search, "ask": _ask, "compare": _compare, "letters": _letters,
             "remove": _remove}

if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
