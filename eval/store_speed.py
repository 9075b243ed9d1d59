"""Warm search latency of indexes side by side: ``python -m eval.store_speed --index LOCAL --index MILVUS``.

Every index is loaded in this one process (the first one's encoder is shared), warmed with three questions, then
asked each gold question in turn, the indexes interleaved so that load on the machine hits them alike; prints the
median of ``Index.search`` and of its dense and lexical parts, unfiltered and with a date filter, and the share of
questions whose top-10 chunks (ids, in order) are the first index's. An index on a Milvus server is opened with
``--milvus-uri`` and ``--milvus-token-env`` (as the CLI's).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rag import Filters, Index

from .gold import load_gold

ROOT = Path(__file__).resolve().parents[1]
GOLD = [str(ROOT / "eval" / "data" / "letters28" / "dev.jsonl")]
DATED = Filters(date_from="2020-01-01")


def measure(indexes: Sequence[Index], questions: Sequence[str], k: int = 10) -> dict[str, dict[str, float]]:
    """Median milliseconds per index and filter: ``{"0": {"total": …, "dense": …, "lexical": …}, "0+date": …}``."""
    for index in indexes:
        for question in questions[:3]:
            index.search(question, k=k)
    samples: dict[str, dict[str, list[float]]] = {}
    for question in questions:
        for n, index in enumerate(indexes):
            for label, filters in (("", None), ("+date", DATED)):
                parts: dict[str, float] = {}
                started = time.perf_counter()
                index.search(question, k=k, filters=filters, timings=parts)
                row = samples.setdefault(f"{n}{label}", {"total": [], "dense": [], "lexical": []})
                row["total"].append(time.perf_counter() - started)
                row["dense"].append(parts["dense"])
                row["lexical"].append(parts["lexical"])
    return {key: {part: statistics.median(values) * 1000 for part, values in row.items()}
            for key, row in samples.items()}


def same_top(indexes: Sequence[Index], questions: Sequence[str], k: int = 10) -> list[float]:
    """For each index, the share of ``questions`` whose top ``k`` chunk ids (in order) are the first index's."""
    tops = [[[h.chunk_id for h in index.search(q, k=k)] for q in questions] for index in indexes]
    return [sum(a == b for a, b in zip(tops[0], top, strict=True)) / max(len(questions), 1) for top in tops]


def main(argv: Sequence[str] | None = None) -> int:
    from rag import IndexFolderError, load_index, server_args

    parser = argparse.ArgumentParser(prog="python -m eval.store_speed", description=__doc__.splitlines()[0])
    parser.add_argument("--index", action="append", required=True, metavar="DIR", help="an index (repeatable)")
    parser.add_argument("--gold", action="append", metavar="FILE", help="questions (default: dev + extra)")
    server_args(parser)  # the Milvus server of the indexes built on one (the others ignore it)
    args = parser.parse_args(argv)
    questions = [q.question for q in load_gold(args.gold or GOLD)]
    try:
        first = _load(args.index[0], args, load_index)
        indexes = [first, *(_load(d, args, load_index, encoder=first.encoder, analyzer=first.analyzer)
                            for d in args.index[1:])]
    except IndexFolderError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for key, row in measure(indexes, questions).items():
        n, _, label = key.partition("+")
        name = f"{args.index[int(n)]}{' +' + label if label else ''}"
        print(f"{name:50} " + "  ".join(f"{part} p50 {ms:.2f} ms" for part, ms in row.items()))
    for directory, share in zip(args.index, same_top(indexes, questions), strict=True):
        print(f"{directory:50} top-10 chunks equal to the first index's for {share:.1%} of the questions")
    print(f"({len(questions)} questions each)")
    return 0


def _load(directory: str, args: argparse.Namespace, load: Any, **kwargs: Any) -> Index:
    """An index on the flags' Milvus server if it was built on one, else on its own."""
    import json

    manifest = json.loads((Path(directory) / "manifest.json").read_text(encoding="utf-8"))
    server = (manifest.get("config") or {}).get("milvus_uri")
    if server is None:
        args = argparse.Namespace(**{**vars(args), "milvus_uri": None})
    return load(directory, args, os.environ.get, **kwargs)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
