"""Retrieval evaluation: ``python -m eval.retrieval --gold FILE --index DIR [--compare] [--ablate]``.

Scores our hybrid system (and with ``--compare`` its baselines, with ``--ablate`` its ablations) on
gold questions, then writes ``report.md``, ``report.json``, ``runs.jsonl`` (hybrid's ranked hits),
``runs/<system>.jsonl`` and, with ``--compare``, ``compare.png`` into ``--out``.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path

from rag import Config, Encoder, Index, load_encoder

from .gold import GoldError, Question, load_gold, validate_evidence
from .ranking import SystemResult, run_system
from .systems import MAIN_SYSTEM, Log

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_LETTERS = ROOT.parent / "shared" / "letters"
DEFAULT_OUT = ROOT / "eval" / "out"
DEFAULT_INDEX = DEFAULT_OUT / "index"


def evaluate(index: Index, questions: Sequence[Question], *, k: int = 10, compare: bool = False, ablate: bool = False,
             models: Sequence[str] = (), load: Callable[[str], Encoder] = load_encoder,
             log: Log = print) -> tuple[list[SystemResult], list[SystemResult]]:
    """Evaluate our system on ``index`` and, as asked, its baselines and ablations.

    Args:
        index: our system's index, holding every letter the gold questions refer to.
        questions: the gold questions (validated against the index's letters here).
        k: hits per question (metrics go up to @10).
        compare: also BM25 only, dense only and the LangChain tutorial pipeline.
        ablate: also one-setting-changed variants (chunking, header, sentence vectors, fusion, encoder).
        models: extra encoders for the encoder ablation (the bundled one is always compared).
        load: loads an encoder by name or path, for the encoder ablation.
        log: progress messages.

    Returns:
        The systems (``hybrid`` and, with ``compare``, the baselines) and the ablations.

    Raises:
        GoldError: an evidence string is in none of the index's letters.
    """
    from .systems import ablations, baselines, ours

    validate_evidence(questions, (letter.text for letter in index.letters))
    systems = baselines(index, log) if compare else [ours(index)]
    results = {s.name: run_system(s, questions, k) for s in systems}
    ablated: list[SystemResult] = []
    if ablate:
        for variant in ablations(index, models, load=load, log=log):
            # the unchanged variant is our system itself: reuse its run
            same = variant.index is index
            ablated.append(replace(results[MAIN_SYSTEM], system=variant) if same
                           else run_system(variant, questions, k))
    return list(results.values()), ablated


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m eval.retrieval",
        description="Score retrieval on gold questions: Recall@1/3/5/10, MRR@10, nDCG@10, overall and per language.")
    parser.add_argument("--gold", action="append", required=True, metavar="FILE",
                        help="gold JSONL file (repeatable; the files are concatenated)")
    parser.add_argument("--split", metavar="FILE:NAME",
                        help="only the questions of a frozen split, e.g. eval/data/real/split.tsv:dev")
    parser.add_argument("--index", default=str(DEFAULT_INDEX), metavar="DIR",
                        help=f"index folder; built from --letters when it holds no index yet (default {DEFAULT_INDEX})")
    parser.add_argument("--letters", action="append", metavar="PATH",
                        help=f"letters to build a missing index from (repeatable; default {DEFAULT_LETTERS})")
    parser.add_argument("--model", metavar="NAME_OR_PATH",
                        help="encoder for a new index, and the one compared with the bundled encoder in --ablate")
    parser.add_argument("--k", type=int, default=10, help="hits per question (default 10)")
    parser.add_argument("--dense", metavar="BACKEND",
                        help="dense store for a new index (auto, flat, ivf; default auto): give a new --index folder "
                             "to evaluate another one (an index built otherwise is refused)")
    parser.add_argument("--ivf-codes", choices=["auto", "flat", "sq8"], help="with --dense ivf: how vectors are kept")
    parser.add_argument("--ivf-nprobe", type=int, metavar="N", help="with --dense ivf: cells scanned per query")
    parser.add_argument("--out", default=str(DEFAULT_OUT), metavar="DIR", help=f"report folder (default {DEFAULT_OUT})")
    parser.add_argument("--compare", action="store_true",
                        help="also evaluate BM25 only, dense only and the LangChain tutorial pipeline")
    parser.add_argument("--store", choices=["local", "milvus"], default="local",
                        help="a new index's store: local (FAISS) or milvus (Milvus Lite in the index folder, with "
                             "the lexical fields, so that every --milvus-search can be measured on it)")
    parser.add_argument("--milvus-search", default="local", metavar="VARIANT",
                        help="with --store milvus: local (policy-rag's BM25 and fusion), bm25 or sparse (the "
                             "lexical side in Milvus), bm25+rrf, bm25+weighted, sparse+rrf, sparse+weighted "
                             "(Milvus's hybrid_search and ranker); see Config.milvus_search")
    from rag import server_args

    server_args(parser)  # an index on a Milvus server (or a new one built there with --store milvus)
    parser.add_argument("--ablate", action="store_true",
                        help="also evaluate variants: chunking, context header, sentence vectors, fusion, bridge, "
                             "encoder")
    return parser


def _build(args: argparse.Namespace) -> Config | None:
    """The build settings ``--dense``/``--ivf-*`` ask for (None: the defaults, and any index is loaded)."""
    changes = {name: value for name, value in (("dense", args.dense), ("ivf_codes", args.ivf_codes),
                                               ("ivf_nprobe", args.ivf_nprobe)) if value is not None}
    return Config().with_(**changes) if changes else None


def main(argv: Sequence[str] | None = None) -> int:
    """Run the evaluation; returns 0, or 2 on a bad gold file, index or option (the message says which)."""
    args = _parser().parse_args(argv)
    from rag import IndexFolderError, IndexLoadError

    from .report import print_summary, write_reports
    from .systems import open_index

    try:
        if args.k < 1:
            raise ValueError(f"--k must be at least 1, not {args.k}")
        questions = load_gold(args.gold, args.split)
        unanswerable = sum(not q.answerable for q in questions)
        print(f"gold: {len(questions)} questions from {', '.join(args.gold)} "
              f"({len(questions) - unanswerable} answerable; {unanswerable} unanswerable, left out of the metrics)")
        build = _build(args)
        if args.store == "milvus":
            build = (build or Config()).with_(dense="milvus", milvus_lexical=True)
        if args.milvus_search != "local" and args.store != "milvus":
            raise ValueError("--milvus-search needs --store milvus")
        index = open_index(args.index, args.letters or [DEFAULT_LETTERS], model=args.model, build=build, server=args)
        index = index.with_config(milvus_search=args.milvus_search)
        systems, ablated = evaluate(index, questions, k=args.k, compare=args.compare, ablate=args.ablate,
                                    models=[args.model] if args.model else [])
    except (GoldError, IndexFolderError, IndexLoadError, FileNotFoundError, ValueError, RuntimeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.ablate and not args.model and index.config.model == "use-multilingual-v3":
        print("note: give --model PATH (a sentence-transformers model) to add an encoder row to the ablation")
    files = write_reports(Path(args.out), systems, ablated, questions=questions, gold_files=args.gold,
                          index=index, k=args.k)
    print_summary(systems, ablated, k=args.k)
    print("wrote " + ", ".join(str(f) for f in files))
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
