"""The ``rag`` command line: build, search, ask, list and remove letters."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .config import DEFAULT_MODEL, Config

if TYPE_CHECKING:
    from .parse import Letter
    from .retrieve.filters import Filters
    from .retrieve.hits import Hit


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="rag",
                                     description="Find and quote what Chinese government reply letters say.")
    sub = parser.add_subparsers(dest="command", required=True)

    build = sub.add_parser("build", help="build or update an index from letter files and folders")
    build.add_argument("paths", nargs="+", metavar="PATH", help="letter files or folders (.txt .md .docx .pdf .html)")
    build.add_argument("--index", default="index", metavar="DIR", help="index folder (default: index)")
    build.add_argument("--model", default=DEFAULT_MODEL, metavar="NAME_OR_PATH",
                       help=f"embedding model: {DEFAULT_MODEL} (bundled) or a sentence-transformers name/path")
    build.add_argument("--dense", default="flat", metavar="BACKEND",
                       help="dense store for a new index: flat (exact FAISS scan, the default) or ivf (FAISS "
                            "inverted lists: approximate, for large corpora); see rag.stores.DENSE_BACKENDS")
    build.add_argument("--rebuild", action="store_true", help="discard the existing index and build from scratch")
    build.add_argument("--json", action="store_true", help="print the build report as JSON")
    build.add_argument("--quiet", action="store_true", help="no progress bar")

    search = sub.add_parser("search", help="print the passages that best answer a question")
    _query_args(search)

    ask = sub.add_parser("ask", help="answer a question with quoted, cited sentences (or say the letters are silent)")
    _query_args(ask, k=None)
    ask.add_argument("--llm-url", metavar="URL",
                     help="an OpenAI-compatible endpoint for a generative answer, e.g. http://localhost:11434/v1")
    ask.add_argument("--llm-model", metavar="M", help="the model the endpoint serves")
    ask.add_argument("--llm-key-env", metavar="VAR",
                     help="environment variable holding the endpoint's API key (default: OPENAI_API_KEY)")
    ask.add_argument("--stream", action="store_true", help="print the model's draft while it writes, then the "
                                                          "checked answer")

    letters = sub.add_parser("letters", help="list the indexed letters")
    letters.add_argument("--index", default="index", metavar="DIR")
    letters.add_argument("--json", action="store_true")

    remove = sub.add_parser("remove", help="remove letters (by id, path or file name) from an index")
    remove.add_argument("letters", nargs="+", metavar="LETTER")
    remove.add_argument("--index", default="index", metavar="DIR")
    return parser


def _query_args(parser: argparse.ArgumentParser, k: int | None = 5) -> None:
    parser.add_argument("question", nargs="?", help="the question (Chinese or English)")
    parser.add_argument("--queries", metavar="FILE.jsonl", help="JSONL file of {\"id\", \"question\"} objects")
    parser.add_argument("--index", default="index", metavar="DIR", help="index folder (default: index)")
    parser.add_argument("--k", type=int, default=k, help=f"number of passages (default: "
                        f"{k or 'Config.answer_passages, ' + str(Config().answer_passages)})")
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.add_argument("--agency", help="only letters whose agency contains this text")
    parser.add_argument("--letter", action="append", default=[], metavar="ID", help="only this letter (repeatable)")
    parser.add_argument("--from", dest="date_from", metavar="YYYY-MM-DD", help="only letters dated on or after")
    parser.add_argument("--to", dest="date_to", metavar="YYYY-MM-DD", help="only letters dated on or before")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit code (0 ok, 2 usage or data error)."""
    args = _parser().parse_args(argv)
    from .retrieve.query import BadQuery
    from .stores.dense_flat import single_threaded_search
    from .stores.disk import IndexFolderError

    single_threaded_search()

    try:
        return _COMMANDS[args.command](args)
    except (IndexFolderError, BadQuery, KeyError, ValueError, OSError) as exc:
        message = exc.args[0] if isinstance(exc, KeyError) and exc.args else str(exc)
        print(f"error: {message}", file=sys.stderr)
        return 2


def _build(args: argparse.Namespace) -> int:
    from .index import Index

    index = Index.build(args.paths, args.index, config=Config(model=args.model, dense=args.dense), rebuild=args.rebuild,
                        progress=not args.quiet and sys.stderr.isatty())
    report = index.report
    if args.json:
        data = {**{k: v for k, v in report.__dict__.items() if k != "skipped"},
                "skipped": [{"path": s.path, "reason": s.reason} for s in report.skipped]}
        print(json.dumps(data, ensure_ascii=False))
    else:
        print(report.summary())
        print(f"  embedded {report.chars_embedded:,} characters; index: {Path(args.index).resolve()}")
        for skipped in report.skipped:
            print(f"  skipped {skipped}")
        for path, same in report.duplicates:
            print(f"  duplicate {path} = letter {same}")
    return 0


def _filters(args: argparse.Namespace) -> Filters:
    from .retrieve.filters import Filters

    return Filters(letters=tuple(args.letter), agency=args.agency, date_from=args.date_from, date_to=args.date_to)


def _questions(args: argparse.Namespace) -> list[tuple[Any, str]]:
    if args.queries and args.question:
        raise ValueError("give a QUESTION or --queries FILE, not both")
    if args.queries:
        out = []
        for number, line in enumerate(Path(args.queries).read_text(encoding="utf-8").splitlines(), start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
                out.append((row["id"], row["question"]))
            except (ValueError, KeyError, TypeError) as exc:
                raise ValueError(f"{args.queries} line {number}: expected {{\"id\", \"question\"}} ({exc})") from exc
        return out
    if args.question is None:
        raise ValueError("give a QUESTION or --queries FILE.jsonl")
    return [(None, args.question)]


def _note_truncation(question: str, limit: int) -> None:
    if len(question) > limit:
        print(f"note: the question is {len(question):,} characters; only the first {limit:,} are used",
              file=sys.stderr)


def _search(args: argparse.Namespace) -> int:
    from .index import Index

    questions = _questions(args)
    index = Index.load(args.index)
    filters = _filters(args)
    for qid, question in questions:
        _note_truncation(question, index.config.max_question_chars)
        hits = index.search(question, k=args.k, filters=filters)
        if args.json:
            rows = [h.to_dict() for h in hits]
            print(json.dumps(rows if args.queries is None else {"id": qid, "hits": rows}, ensure_ascii=False))
            continue
        if args.queries:
            print(f"## {qid}: {question}")
        if not hits:
            print("no passages found")
        for hit in hits:
            print(format_hit(hit))
    return 0


def format_hit(hit: Hit) -> str:
    """A hit as terminal text: rank, letter, score, agency and date; the section path; the passage, indented.

    The section is named once (by its path, not again by its label) and blank lines are dropped.
    """
    who = "  ".join(x for x in (hit.agency, hit.date) if x)
    name = hit.doc_number or hit.title or Path(hit.path).stem
    head = f"[{hit.rank}] {name}  ({hit.score:.3f}){f'  {who}' if who else ''}"
    lines = [head, f"    {hit.section}"] if hit.section else [head]
    lines += [f"    {line.strip()}" for line in hit.text.splitlines() if line.strip()]
    return "\n".join(lines)


def _ask(args: argparse.Namespace) -> int:
    import os

    from .answer import LLM, Answer, answer_to_dict, format_answer
    from .index import Index

    questions = _questions(args)
    index = Index.load(args.index)
    filters = _filters(args)
    config = index.config
    url, model = args.llm_url or config.llm_url, args.llm_model or config.llm_model
    llm = None
    if url or model:
        if not (url and model):
            raise ValueError("a generative answer needs both --llm-url and --llm-model")
        key_env = args.llm_key_env or config.llm_key_env
        llm = LLM(url, model, api_key=os.environ.get(key_env) or None, timeout=config.llm_timeout)
    for qid, question in questions:
        if args.queries and not args.json:
            print(f"## {qid}: {question}")
        final: Answer | None = None
        drafted = False
        for piece in index.ask_stream(question, k=args.k, filters=filters, llm=llm):
            if isinstance(piece, Answer):
                final = piece
            elif args.stream and not args.json:
                print(piece, end="", flush=True)
                drafted = True
        assert final is not None
        if args.json:
            data = answer_to_dict(final)
            print(json.dumps(data if args.queries is None else {"id": qid, "answer": data}, ensure_ascii=False))
            continue
        if drafted:
            print("\n--- checked answer ---")
        print(format_answer(final))
        if args.queries:
            print()
    return 0


def _letters(args: argparse.Namespace) -> int:
    from .index import Index

    index = Index.load(args.index)
    rows = [letter.metadata() | {"paths": list(letter.paths)} for letter in index.letters]
    if args.json:
        print(json.dumps(rows, ensure_ascii=False))
    else:
        for letter in index.letters:
            print(letter_row(letter))
    return 0


def letter_row(letter: Letter) -> str:
    """A letter as one tab-separated line: id, document number, agency, date, and its title, or else its file."""
    name = letter.title or f"({Path(letter.path).name})"
    return "\t".join([letter.letter_id, letter.doc_number or "-", letter.agency or "-", letter.date or "-", name])


def _remove(args: argparse.Namespace) -> int:
    from .index import Index

    index = Index.load(args.index)
    removed = index.remove(args.letters)
    print(f"removed {', '.join(removed)}; {len(index.letters)} letters remain")
    return 0


_COMMANDS = {"build": _build, "search": _search, "ask": _ask, "letters": _letters, "remove": _remove}

if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
