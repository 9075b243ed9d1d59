"""Build throughput by worker count: ``python -m eval.bench --build-workers 1,2 [--json]``.

The real letters are grown (:func:`eval.corpus.grow_corpus`, 100× by default) and built from scratch once
per worker count, each build in a fresh process, all in one run, with the real encoder. Reported: characters
of letter text per second of wall time (the whole build: reading, parsing, chunking, starting the workers,
embedding, tokenising, writing), and the CPU seconds of the building process and of its workers, which a
busy machine does not inflate the way it does wall time.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from .process import cpu_seconds, in_fresh_process


def measure_build(letters: str, index_dir: str, model: str, workers: int) -> dict[str, Any]:
    """Build ``letters`` into ``index_dir`` with ``workers`` processes; run it in a fresh process.

    The encoder and jieba are loaded before the clock starts (workers load their own inside it).
    """
    import os
    import resource

    from rag import Analyzer, Config, Index, load_encoder

    encoder = load_encoder(model)
    encoder.encode_passages(["预热"])
    analyzer = Analyzer()
    analyzer.tokens("预热")
    load_before = os.getloadavg()[0]
    cpu_self, cpu_children = cpu_seconds(resource.RUSAGE_SELF), cpu_seconds(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    index = Index.build([letters], index_dir, config=Config(model=model), encoder=encoder, analyzer=analyzer,
                        workers=workers)
    seconds = time.perf_counter() - started
    chars = sum(len(letter.text) for letter in index.letters)
    return {"workers": workers, "seconds": seconds, "letters": len(index.letters), "chunks": len(index.chunks),
            "chars": chars, "chars_embedded": index.report.chars_embedded, "chars_per_s": chars / seconds,
            "cpu_s": cpu_seconds(resource.RUSAGE_SELF) - cpu_self,
            "worker_cpu_s": cpu_seconds(resource.RUSAGE_CHILDREN) - cpu_children,
            "load_average": [load_before, os.getloadavg()[0]]}


def run(counts: Sequence[int], *, letters: Sequence[str | Path], scale: int, model: str, out: Path,
        keep: bool = False, log: Callable[[str], None] = print) -> dict[str, Any]:
    """Build the grown corpus once per worker count, each in a fresh process.

    Returns:
        ``workers`` (the counts), ``chars_per_s``, ``seconds``, ``cpu_s`` (building process) and
        ``worker_cpu_s`` (its workers), ``cpu_bound_chars_per_s`` (chars over the CPU seconds of the busiest
        process: the rate if each process had a core to itself) and ``chars_per_cpu_s`` (chars over all CPU
        seconds: the work a character costs), one per count; ``letters``, ``chunks``, ``chars`` (letter text) and
        ``chars_embedded`` of the corpus; ``scale``; ``speedup`` (chars/s of the last count over the first);
        ``load_average`` (1-minute, before and after each build).
    """
    from .corpus import grow_corpus

    corpus = out / f"build-corpus-{scale}x"
    files = grow_corpus(letters, scale, corpus)
    log(f"{scale}×: {len(files)} letters; one build per worker count ({', '.join(map(str, counts))}), "
        "each in a fresh process")
    rows = []
    for workers in counts:
        index_dir = out / f"build-index-{workers}"
        shutil.rmtree(index_dir, ignore_errors=True)
        row = in_fresh_process(measure_build, str(corpus), str(index_dir), model, workers)
        log(f"  {workers} worker(s): {row['chars']:,} chars in {row['seconds']:.1f} s = {row['chars_per_s']:,.0f} "
            f"chars/s; CPU s: {row['cpu_s']:.1f} here + {row['worker_cpu_s']:.1f} in workers; "
            f"load {row['load_average'][0]:.1f} → {row['load_average'][1]:.1f}")
        rows.append(row)
        if not keep:
            shutil.rmtree(index_dir, ignore_errors=True)
    if not keep:
        shutil.rmtree(corpus, ignore_errors=True)
    first, last = rows[0], rows[-1]
    return {"workers": list(counts), "chars_per_s": [r["chars_per_s"] for r in rows],
            "cpu_bound_chars_per_s": [r["chars"] / max(r["cpu_s"], r["worker_cpu_s"] / r["workers"]) for r in rows],
            "chars_per_cpu_s": [r["chars"] / (r["cpu_s"] + r["worker_cpu_s"]) for r in rows],
            "seconds": [r["seconds"] for r in rows], "cpu_s": [r["cpu_s"] for r in rows],
            "worker_cpu_s": [r["worker_cpu_s"] for r in rows], "letters": first["letters"], "chunks": first["chunks"],
            "chars": first["chars"], "chars_embedded": first["chars_embedded"], "scale": scale, "model": model,
            "speedup": last["chars_per_s"] / first["chars_per_s"],
            "load_average": [r["load_average"] for r in rows]}


def parse_counts(text: str) -> list[int]:
    """``"1,2"`` → ``[1, 2]``; each count at least 1.

    Raises:
        ValueError: not a comma-separated list of whole numbers of at least 1.
    """
    counts = [int(part) for part in text.split(",") if part.strip()]
    if not counts or min(counts) < 1:
        raise ValueError(f"--build-workers takes worker counts of at least 1, like 1,2 (not {text!r})")
    return counts
