"""Speed and scale benchmark: ``python -m eval.bench [--quick]``; ``--build-workers 1,2`` (:mod:`eval.workers`).

At each scale (1×, 100×, 1,000× the sample letters, grown with :mod:`eval.corpus`) a fresh process
builds an index on disk, loads it back and times queries. Reported per scale: build throughput
(chunks/s and corpus characters/s), query latency p50/p95 split into encode / search (dense +
BM25) / fusion, peak memory (RSS) of that process and the index size on disk. Writes bench.json,
bench.md and latency.png into ``--out``.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .process import folder_bytes, in_fresh_process, load_average, peak_rss

if TYPE_CHECKING:
    from rag import Index

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_LETTERS = ROOT / "letters"
DEFAULT_QUESTIONS = ROOT / "eval" / "data" / "samples.jsonl"
DEFAULT_OUT = ROOT / "eval" / "out" / "bench"
FULL_SCALES = (1, 100, 1000)
QUICK_SCALES = (1, 10)
# wall-clock parts of a query, and "cpu": the process's CPU time per query (less sensitive to a busy machine)
PARTS = ("total", "encode", "search", "fusion", "dense", "lexical", "cpu")
_MIB = 1024 * 1024


def _percentiles(values: Sequence[float]) -> dict[str, float]:
    import numpy as np

    seconds = np.asarray(values, dtype=float)
    return {"p50_ms": float(np.percentile(seconds, 50) * 1000), "p95_ms": float(np.percentile(seconds, 95) * 1000),
            "mean_ms": float(seconds.mean() * 1000)}


def measure(letters: str, index_dir: str, questions: Sequence[str], queries: int, model: str,
            faiss_threads: int | None = None) -> dict[str, Any]:
    """Build, load and query one corpus; meant to run in a fresh process so its memory is its own.

    Args:
        letters: folder of letters to index.
        index_dir: where to build the index (must not hold one).
        questions: question texts, cycled through for ``queries`` timed searches.
        queries: number of timed searches.
        model: the encoder.
        faiss_threads: OpenMP threads for FAISS (default: FAISS's own choice, one per core).

    Returns:
        Counts, seconds, bytes and latency percentiles (see :func:`run`).
    """
    import gc

    import psutil

    from rag import Analyzer, Config, Index, load_encoder

    if faiss_threads is not None:
        import faiss

        faiss.omp_set_num_threads(faiss_threads)
    encoder = load_encoder(model)
    encoder.encode_queries(["预热"])  # load the model's weights before measuring
    analyzer = Analyzer()
    base_rss = psutil.Process().memory_info().rss

    load_before = load_average()
    started, cpu_started = time.perf_counter(), time.process_time()
    index = Index.build([letters], index_dir, config=Config(model=model), encoder=encoder, analyzer=analyzer)
    build_seconds, build_cpu_seconds = time.perf_counter() - started, time.process_time() - cpu_started
    report = index.report
    corpus_chars = sum(len(letter.text) for letter in index.letters)
    vectors = json.loads((Path(index_dir) / "manifest.json").read_text(encoding="utf-8"))["counts"]["vectors"]
    del index
    gc.collect()

    started = time.perf_counter()
    index = Index.load(index_dir, encoder=encoder, analyzer=analyzer)
    load_seconds = time.perf_counter() - started
    samples = _time_queries(index, questions, queries)
    return {
        "letters": report.letters, "chunks": report.chunks, "vectors": vectors, "corpus_chars": corpus_chars,
        "chars_embedded": report.chars_embedded, "build_seconds": build_seconds,
        "build_cpu_seconds": build_cpu_seconds,
        "chunks_per_second": report.chunks / build_seconds, "chars_per_second": corpus_chars / build_seconds,
        "load_seconds": load_seconds, "index_bytes": folder_bytes(Path(index_dir)),
        "base_rss_bytes": base_rss, "peak_rss_bytes": peak_rss(), "queries": queries,
        "load_average": [load_before, load_average()],
        "latency": {part: _percentiles(values) for part, values in samples.items()},
    }


def _time_queries(index: Index, questions: Sequence[str], queries: int) -> dict[str, list[float]]:
    """Seconds per query for each of :data:`PARTS`, over ``queries`` searches cycling through ``questions``."""
    for question in questions[:3]:  # warm caches
        index.search(question, k=10)
    samples: dict[str, list[float]] = {part: [] for part in PARTS}
    for n in range(queries):
        parts: dict[str, float] = {}
        started, cpu_started = time.perf_counter(), time.process_time()
        index.search(questions[n % len(questions)], k=10, timings=parts)
        samples["total"].append(time.perf_counter() - started)
        samples["cpu"].append(time.process_time() - cpu_started)
        samples["search"].append(parts["dense"] + parts["lexical"])
        for part in ("encode", "fusion", "dense", "lexical"):
            samples[part].append(parts[part])
    return samples


def _in_fresh_process(*args: Any) -> dict[str, Any]:
    return in_fresh_process(measure, *args)


def run(scales: Sequence[int], *, letters: Sequence[str | Path], questions: Sequence[str], queries: int,
        model: str, out: Path, keep: bool = False, faiss_threads: int | None = None,
        log: Callable[[str], None] = print) -> list[dict[str, Any]]:
    """Measure every scale, each in a fresh process.

    Args:
        scales: growth factors of the sample corpus (1 = the letters as they are).
        letters: the sample letters.
        questions: question texts to time.
        queries: timed searches per scale.
        model: the encoder.
        out: working folder; corpora and indexes are written under it.
        keep: keep the grown corpora and indexes (deleted by default; 1,000× is hundreds of MB).
        faiss_threads: OpenMP threads for FAISS in the measuring process (default: FAISS's choice).
        log: progress messages.

    Returns:
        One row per scale: ``scale`` plus the numbers from :func:`measure`.
    """
    from .corpus import grow_corpus

    rows = []
    for scale in scales:
        corpus, index_dir = out / f"corpus-{scale}x", out / f"index-{scale}x"
        files = grow_corpus(letters, scale, corpus)
        if index_dir.exists():
            shutil.rmtree(index_dir)
        log(f"{scale}×: {len(files)} letters; building, loading and running {queries} queries in a fresh process")
        row = {"scale": scale, **_in_fresh_process(str(corpus), str(index_dir), list(questions), queries, model,
                                                    faiss_threads)}
        log(f"  {row['chunks']} chunks built in {row['build_seconds']:.1f} s, "
            f"p50 {row['latency']['total']['p50_ms']:.1f} ms, peak RSS {row['peak_rss_bytes'] / _MIB:.0f} MiB")
        rows.append(row)
        if not keep:
            shutil.rmtree(corpus, ignore_errors=True)
            shutil.rmtree(index_dir, ignore_errors=True)
    return rows


_COLUMNS = ("scale", "letters", "chunks", "chars", "build s (CPU)", "chunks/s", "chars/s", "load s", "peak RSS MiB",
            "index MiB", "total p50/p95 ms", "CPU p50 ms", "encode p50/p95", "search p50/p95", "fusion p50/p95")


def _cells(row: dict[str, Any]) -> list[str]:
    latency = row["latency"]

    def pair(part: str) -> str:
        return f"{latency[part]['p50_ms']:.1f} / {latency[part]['p95_ms']:.1f}"

    return [f"{row['scale']}×", f"{row['letters']:,}", f"{row['chunks']:,}", f"{row['corpus_chars']:,}",
            f"{row['build_seconds']:.1f} ({row['build_cpu_seconds']:.1f})", f"{row['chunks_per_second']:.1f}",
            f"{row['chars_per_second']:,.0f}",
            f"{row['load_seconds']:.2f}", f"{row['peak_rss_bytes'] / _MIB:.0f}", f"{row['index_bytes'] / _MIB:.1f}",
            pair("total"), f"{latency['cpu']['p50_ms']:.1f}", pair("encode"), pair("search"), pair("fusion")]


def table_text(rows: Sequence[dict[str, Any]]) -> str:
    """The benchmark table for a terminal."""
    lines = [list(_COLUMNS), *(_cells(r) for r in rows)]
    widths = [max(len(line[i]) for line in lines) for i in range(len(_COLUMNS))]
    return "\n".join("  ".join(c.rjust(w) for c, w in zip(line, widths, strict=True)) for line in lines)


def table_markdown(rows: Sequence[dict[str, Any]]) -> str:
    """The benchmark table in Markdown."""
    lines = ["| " + " | ".join(_COLUMNS) + " |", "|" + "---:|" * len(_COLUMNS)]
    return "\n".join(lines + ["| " + " | ".join(_cells(r)) + " |" for r in rows])


def draw(rows: Sequence[dict[str, Any]], path: Path) -> Path:
    """Latency (p50 and p95 by part) and memory against corpus size, log-log; saved as PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker

    letters = [r["letters"] for r in rows]
    figure, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
    for part, style in (("total", "-o"), ("encode", "--s"), ("search", "--^"), ("fusion", "--v")):
        left.plot(letters, [r["latency"][part]["p50_ms"] for r in rows], style, label=f"{part} p50")
    left.plot(letters, [r["latency"]["total"]["p95_ms"] for r in rows], ":o", color="C0", label="total p95")
    left.set(xscale="log", yscale="log", xlabel="letters in the index", ylabel="ms per query",
             title="Query latency vs corpus size")
    left.legend(fontsize=8)
    right.plot(letters, [r["peak_rss_bytes"] / _MIB for r in rows], "-o", label="peak RSS")
    right.plot(letters, [r["index_bytes"] / _MIB for r in rows], "-s", label="index on disk")
    right.set(xscale="log", yscale="log", xlabel="letters in the index", ylabel="MiB", title="Memory and disk")
    right.legend(fontsize=8)
    for axis in (left, right):
        axis.grid(alpha=0.3, which="both")
        axis.set_xticks(letters, [f"{r['letters']:,}\n({r['scale']}×)" for r in rows])
        axis.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)
    return path


def _questions(path: Path) -> list[str]:
    texts = [json.loads(line)["question"] for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    if not texts:
        raise ValueError(f"no questions in {path}")
    return texts


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m eval.bench",
        description="Build throughput, query latency, peak memory and index size at growing corpus sizes.")
    parser.add_argument("--quick", action="store_true",
                        help=f"CI mode: scales {'/'.join(map(str, QUICK_SCALES))}× and 30 queries (under two minutes)")
    parser.add_argument("--scales", type=int, nargs="+", metavar="N",
                        help=f"growth factors of the sample corpus (default {' '.join(map(str, FULL_SCALES))})")
    parser.add_argument("--queries", type=int, help="timed queries per scale (default 200; 30 with --quick)")
    parser.add_argument("--letters", action="append", metavar="PATH",
                        help=f"the sample letters (repeatable; default {DEFAULT_LETTERS})")
    parser.add_argument("--questions", default=str(DEFAULT_QUESTIONS), metavar="FILE.jsonl",
                        help="questions to time (JSONL with a question field)")
    parser.add_argument("--model", default="use-multilingual-v3", metavar="NAME_OR_PATH", help="encoder")
    parser.add_argument("--out", default=str(DEFAULT_OUT), metavar="DIR", help=f"output folder (default {DEFAULT_OUT})")
    parser.add_argument("--faiss-threads", type=int, metavar="N",
                        help="OpenMP threads for FAISS (default: one per core, FAISS's own choice)")
    parser.add_argument("--keep", action="store_true", help="keep the grown corpora and indexes")
    parser.add_argument("--search-scale", type=int, metavar="N",
                        help="instead: build an index of about N chunks (real letters grown, real tokens, vectors "
                             "from real sentence vectors) and measure search, memory, recall and adding a letter")
    parser.add_argument("--dense", default="flat", metavar="BACKEND",
                        help="with --search-scale: the dense store (flat, ivf, auto, milvus: see "
                             "rag.stores.DENSE_BACKENDS)")
    from rag import server_args

    server_args(parser)  # with --dense milvus: the server (default: Milvus Lite in the index folder), its token
    parser.add_argument("--milvus-index", default="auto",
                        choices=["auto", "ivf_flat", "hnsw", "ivf_sq8", "diskann", "flat"],
                        help="with --dense milvus: the collection's vector index (default: auto)")
    parser.add_argument("--milvus-server-pid", type=int, metavar="PID",
                        help="with --dense milvus: the server's process, whose memory (with its children's) is "
                             "sampled during the run: server_rss_* and server_bytes_per_chunk")
    parser.add_argument("--sentence-rescore", action="store_true",
                        help="with --search-scale: build with Config.sentence_rescore (one vector per chunk in the "
                             "dense index, sentence vectors beside it re-scoring the candidates)")
    parser.add_argument("--json", action="store_true",
                        help="with --search-scale or --build-workers: the last line is one JSON object")
    parser.add_argument("--workers", type=int, default=1, metavar="N",
                        help="with --search-scale: build with N embedding/tokenising processes (default 1)")
    parser.add_argument("--no-exact", action="store_true", help="with --search-scale: build no exact twin "
                        "(recall_at_10_vs_exact is null; the twin of 10^6 chunks needs ~11 GB and as long again)")
    parser.add_argument("--exact-by", choices=("twin", "scan"), default="twin",
                        help="with --search-scale: the exact reference of recall_at_10_vs_exact: a twin built with a "
                        "flat store (default), or the index itself with every IVF cell scanned (no second build; "
                        "exact over the codes kept, so sq8 rounding is not counted)")
    parser.add_argument("--plot-scale", nargs="+", metavar="RESULT", type=Path,
                        help="instead: plot and tabulate saved --search-scale --json outputs (one file per size) "
                        "into --out (scale.png, scale.md)")
    parser.add_argument("--build-workers", metavar="N,N", help="instead: build the real letters grown --build-scale "
                        "times once per worker count (e.g. 1,2) and report chars of letter text per second")
    parser.add_argument("--build-scale", type=int, default=100, metavar="N",
                        help="with --build-workers: the growth factor of the letters (default 100)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark; returns 0, or 2 on a bad option or input."""
    args = _parser().parse_args(argv)
    if args.search_scale is not None:
        return _search_scale(args)
    if args.build_workers is not None:
        return _build_workers(args)
    if args.plot_scale is not None:
        return _plot_scale(args)
    scales = args.scales or (QUICK_SCALES if args.quick else FULL_SCALES)
    queries = args.queries or (30 if args.quick else 200)
    out = Path(args.out)
    try:
        if min(scales) < 1 or queries < 1:
            raise ValueError("--scales and --queries must be at least 1")
        questions = _questions(Path(args.questions))
        out.mkdir(parents=True, exist_ok=True)
        rows = run(scales, letters=args.letters or [DEFAULT_LETTERS], questions=questions, queries=queries,
                   model=args.model, out=out, keep=args.keep, faiss_threads=args.faiss_threads)
    except (OSError, ValueError, KeyError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    info = {"model": args.model, "faiss_threads": args.faiss_threads, "queries_file": args.questions,
            "python": sys.version.split()[0], "cpus": _cpus(), "rows": rows}
    (out / "bench.json").write_text(json.dumps(info, indent=1), encoding="utf-8")
    load = ", ".join(f"{r['scale']}× {_pair(r['load_average'])}" for r in rows)
    (out / "bench.md").write_text(
        f"# Speed and scale\n\nModel {args.model}; {queries} queries per scale; {info['cpus']} CPUs; FAISS threads "
        f"{args.faiss_threads or 'default'}. Machine load "
        f"(1-minute average, before building / after querying): {load}. Build times in brackets and \"CPU p50\" "
        f"are CPU seconds of the process, less affected by other work on the machine.\n\n{table_markdown(rows)}\n\n"
        "![latency](latency.png)\n", encoding="utf-8")
    draw(rows, out / "latency.png")
    print()
    print(table_text(rows))
    print(f"\nwrote {out / 'bench.json'}, {out / 'bench.md'}, {out / 'latency.png'}")
    return 0


def _search_scale(args: argparse.Namespace) -> int:
    """``--search-scale N``: one index of about N chunks, measured (see :mod:`eval.scale`)."""
    from rag import IndexFolderError

    from .gold import load_gold
    from .scale import measure as measure_scale

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    letters = Path(args.letters[0]) if args.letters else ROOT.parent / "shared" / "letters"
    gold = [ROOT / "eval" / "data" / "letters28" / "dev.jsonl"]
    try:
        if args.search_scale < 1:
            raise ValueError("--search-scale must be at least 1")
        questions = [q.question for q in load_gold([str(p) for p in gold])]
        store, token = _milvus_store(args)
        with _ServerMemory(args.milvus_server_pid) as server:
            row = measure_scale(args.search_scale, dense=args.dense, letters=letters, questions=questions, out=out,
                                model=args.model, log=lambda text: print(text, file=sys.stderr),
                                workers=args.workers,
                                exact=False if args.no_exact else "scan" if args.exact_by == "scan" else True,
                                rescore=args.sentence_rescore, store=store, token=token)
        row.update(server.figures(row["chunks"]))
        if store is not None and not args.keep:
            _drop_collection(store, token)
    except (OSError, ValueError, KeyError, IndexFolderError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for key in ("chunks", "vectors", "dense_index", "build_s", "peak_rss_mib", "rss_after_load_mib", "load_s",
                "disk_mib", "p50_ms", "p95_ms", "recall_at_10_vs_exact", "add_letter_s", "rows_per_chunk",
                *(("server_rss_before_mib", "server_rss_peak_mib", "server_rss_after_mib", "server_bytes_per_chunk")
                  if "server_bytes_per_chunk" in row else ())):
        if not args.json:
            print(f"{key:24} {row[key]:.3f}" if isinstance(row[key], float) else f"{key:24} {row[key]}")
    if args.json:
        print(json.dumps(row))
    if not args.keep:
        for name in ("scale-corpus", f"scale-{args.dense}", "scale-exact"):
            shutil.rmtree(out / name, ignore_errors=True)
    return 0


def _milvus_store(args: argparse.Namespace) -> tuple[dict[str, Any] | None, str | None]:
    """The Milvus settings and token of ``--dense milvus`` (a collection of its own), or (None, None)."""
    import os
    import uuid

    if args.dense != "milvus":
        return None, None
    store = {"milvus_uri": args.milvus_uri, "milvus_collection": f"bench_{uuid.uuid4().hex[:8]}",
             "milvus_index": args.milvus_index, "milvus_token_env": args.milvus_token_env,
             "milvus_timeout": args.milvus_timeout, "milvus_search_width": args.milvus_search_width}
    return store, (os.environ.get(args.milvus_token_env) or None) if args.milvus_uri else None


def _drop_collection(store: dict[str, Any], token: str | None) -> None:
    """Drop the benchmark's collection from the server (a Lite file goes with its index folder)."""
    if store["milvus_uri"]:
        from rag import connect_milvus

        connect_milvus(store["milvus_uri"], token).drop_collection(store["milvus_collection"])


class _ServerMemory:
    """The resident memory of a server process and its children, sampled twice a second while in use."""

    def __init__(self, pid: int | None) -> None:
        self.pid, self.samples, self._stop = pid, [], threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _rss(self) -> int:
        import psutil

        process = psutil.Process(self.pid)
        return sum(p.memory_info().rss for p in (process, *process.children(recursive=True)))

    def _sample(self) -> None:
        while not self._stop.wait(0.5):
            self.samples.append(self._rss())

    def __enter__(self) -> _ServerMemory:
        if self.pid is not None:
            self.samples.append(self._rss())
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.pid is not None:
            self._stop.set()
            self._thread.join()
            self.samples.append(self._rss())

    def figures(self, chunks: int) -> dict[str, float]:
        """Server RSS before, at its peak and at the end, and the growth per chunk (what a chunk costs it)."""
        if not self.samples:
            return {}
        first, peak, last = self.samples[0], max(self.samples), self.samples[-1]
        return {"server_rss_before_mib": first / _MIB, "server_rss_peak_mib": peak / _MIB,
                "server_rss_after_mib": last / _MIB, "server_bytes_per_chunk": (last - first) / max(chunks, 1)}


def _plot_scale(args: argparse.Namespace) -> int:
    """``--plot-scale RESULT...``: the scale results as a plot and a Markdown table (see :mod:`eval.scale`)."""
    from .scale import draw as draw_scale
    from .scale import read_rows
    from .scale import table as scale_table

    out = Path(args.out)
    try:
        rows = read_rows(args.plot_scale)
        out.mkdir(parents=True, exist_ok=True)
    except (OSError, ValueError, KeyError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    (out / "scale.md").write_text(scale_table(rows) + "\n", encoding="utf-8")
    draw_scale(rows, out / "scale.png")
    print(scale_table(rows))
    print(f"\nwrote {out / 'scale.md'}, {out / 'scale.png'}")
    return 0


def _build_workers(args: argparse.Namespace) -> int:
    """``--build-workers 1,2``: build throughput by worker count (see :mod:`eval.workers`)."""
    from .workers import parse_counts
    from .workers import run as run_workers

    out = Path(args.out)
    letters = args.letters or [ROOT.parent / "shared" / "letters"]
    try:
        counts = parse_counts(args.build_workers)
        if args.build_scale < 1:
            raise ValueError("--build-scale must be at least 1")
        out.mkdir(parents=True, exist_ok=True)
        result = run_workers(counts, letters=letters, scale=args.build_scale, model=args.model, out=out,
                             keep=args.keep, log=lambda text: print(text, file=sys.stderr))
    except (OSError, ValueError, KeyError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    (out / "build-workers.json").write_text(json.dumps(result, indent=1), encoding="utf-8")
    if args.json:
        print(json.dumps(result))
        return 0
    print(f"{result['letters']:,} letters, {result['chunks']:,} chunks, {result['chars']:,} chars of letter text "
          f"({result['scale']}×), model {result['model']}")
    for n, workers in enumerate(result["workers"]):
        print(f"  {workers} worker(s): {result['chars_per_s'][n]:>9,.0f} chars/s  {result['seconds'][n]:7.1f} s  "
              f"CPU {result['cpu_s'][n]:.1f} s + workers {result['worker_cpu_s'][n]:.1f} s  "
              f"({result['cpu_bound_chars_per_s'][n]:,.0f} chars per CPU s of the busiest process)")
    print(f"  speedup {result['speedup']:.2f}×")
    return 0


def _pair(values: Sequence[float | None]) -> str:
    return " / ".join("?" if v is None else f"{v:.1f}" for v in values)


def _cpus() -> int:
    import os

    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
