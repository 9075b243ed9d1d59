"""Sentence vectors in the index against ``Config.sentence_rescore``, at scale: ``python -m eval.rescore_scale A B``.

A and B are two indexes of the same grown corpus, kept by ``python -m eval.bench --search-scale N --keep
--out DIR`` (``DIR/scale-auto``), the second run with ``--sentence-rescore``. For hybrid and dense-only search
this prints R@5 and MRR@10 of the gold questions (the grown letters recombine the real sentences, so the
evidence strings are in them), each index with its default cells and with every cell; the top-10 agreement with
today's index searched over every cell; and each search part's median and p95 milliseconds, the two indexes
asked in turn. Passages are embedded by the bench's stand-in encoder (:class:`eval.scale.MixtureEncoder`),
questions by the real model.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from rag import Index, load_encoder

from .gold import Question, load_gold
from .ranking import run_system
from .scale import EVERY_CELL, MixtureEncoder, real_sentences
from .systems import System

ROOT = Path(__file__).resolve().parents[1]
GOLD = [ROOT / "eval" / "data" / "letters28" / "dev.jsonl"]


def quality(indexes: dict[str, Index], questions: Sequence[Question]) -> list[str]:
    """One line per index, cells and fusion: zh and en R@5 and MRR@10."""
    lines = [f"{'index':22} {'fusion':9} zh R@5 zh MRR@10 en R@5 en MRR@10"]
    for fusion in ("weighted", "dense"):
        for name, index in indexes.items():
            for cells, view in (("", index), (" all cells", index.with_config(ivf_nprobe=EVERY_CELL))):
                summary = run_system(System(name, name, view.with_config(fusion=fusion)), questions, 10).summary
                zh, en = summary["zh"], summary["en"]
                lines.append(f"{name + cells:22} {fusion:9} {zh['recall@5']:6.3f} {zh['mrr@10']:9.3f} "
                             f"{en['recall@5']:6.3f} {en['mrr@10']:9.3f}")
    return lines


def agreement(indexes: dict[str, Index], questions: Sequence[str], reference: str = "today") -> list[str]:
    """Each index's top 10 against the ``reference`` index searched over every cell (share of its ids found)."""
    lines = []
    for fusion in ("weighted", "dense"):
        exact = _tops(indexes[reference].with_config(ivf_nprobe=EVERY_CELL, fusion=fusion), questions)
        for name, index in indexes.items():
            tops = _tops(index.with_config(fusion=fusion), questions)
            share = np.mean([len(set(top) & set(want)) / max(len(want), 1) for top, want in zip(tops, exact,
                                                                                            strict=True)])
            lines.append(f"{fusion:9} {name:10} top 10 vs {reference} over every cell: {share:.4f}")
    return lines


def _tops(index: Index, questions: Sequence[str]) -> list[list[str]]:
    return [[hit.chunk_id for hit in index.search(question, k=10)] for question in questions]


def timings(indexes: dict[str, Index], questions: Sequence[str]) -> list[str]:
    """Median and p95 milliseconds of each search part, the indexes asked in turn (a first round warms up)."""
    parts: dict[str, dict[str, list[float]]] = {name: {} for name in indexes}
    for warm in (True, False):
        for question in questions:
            for name, index in indexes.items():
                clock: dict[str, float] = {}
                index.search(question, k=10, timings=clock)
                for part, seconds in ([] if warm else clock.items()):
                    parts[name].setdefault(part, []).append(seconds * 1000)
    return [f"{name:10} " + ", ".join(f"{part} {np.median(v):.2f} / {np.percentile(v, 95):.2f} ms"
                                      for part, v in by_part.items()) for name, by_part in parts.items()]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m eval.rescore_scale",
                                     description="sentence vectors in the index against sentence_rescore, at scale")
    parser.add_argument("today", type=Path, help="the index built in today's mode")
    parser.add_argument("rescore", type=Path, help="the index of the same corpus built with --sentence-rescore")
    parser.add_argument("--letters", type=Path, default=ROOT.parent / "shared" / "letters",
                        help="the real letters the corpus was grown from (the stand-in encoder's sentences)")
    args = parser.parse_args(argv)
    import faiss

    faiss.omp_set_num_threads(1)  # as the CLI and the app search: one thread per query
    encoder = MixtureEncoder(load_encoder(), real_sentences(args.letters))
    today = Index.load(args.today, encoder=encoder)
    indexes = {"today": today, "rescore": Index.load(args.rescore, encoder=encoder, analyzer=today.analyzer)}
    if not indexes["rescore"].config.sentence_rescore or today.config.sentence_rescore:
        print("error: give today's index first, then the --sentence-rescore one", file=sys.stderr)
        return 2
    gold = load_gold([str(path) for path in GOLD])
    texts = [question.question for question in gold]
    for line in [*quality(indexes, gold), *agreement(indexes, texts), *timings(indexes, texts)]:
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
