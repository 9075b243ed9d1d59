"""Search at scale: ``python -m eval.bench --search-scale N [--dense flat|ivf] [--json]``.

Builds an index of about N chunks through the real :class:`rag.Index` code paths: a corpus grown from
real letters (:mod:`eval.corpus`), real jieba tokens, and a stand-in encoder whose passage vectors are
built from real USE vectors of the real sentences each passage is made of, plus noise (so the dense space
keeps the clusters and density of real data, at a fraction of the cost of embedding N passages).
Questions (``letters28/dev.jsonl``) are encoded by the real model.

Each step runs in a fresh process, so memory figures are its own: the build (``build_s``,
``peak_rss_mib``), then loading and querying (``load_s``, ``rss_after_load_mib``, ``p50_ms``/``p95_ms``
end to end, ``compare_p50_ms`` for :meth:`rag.Index.compare`, ``recall_at_10_vs_exact`` against the same
pipeline over an exact dense store, and
``add_letter_s``: one new letter added and saved).
"""

from __future__ import annotations

import hashlib
import shutil
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from rag import Config, Encoder, Index, load_encoder, read_documents, split_sentences

from .process import folder_bytes, in_fresh_process, peak_rss

MIB = 1024 * 1024
CHUNKS_PER_LETTER = 5.1  # measured on corpora grown from the 28 shared letters
NOISE = 0.35  # share of a passage vector that is noise: near-copies of a sentence land at cosine ≈ 0.94
SCAN = "scan"  # the exact reference is the index itself with every IVF cell scanned (no twin is built)
EVERY_CELL = 1 << 30


class MixtureEncoder:
    """Passages → the mean of the real vectors of the sentences they hold, plus noise; questions → the real model.

    Deterministic: the same text always gets the same vector. A sentence not seen in the real letters
    (a synthetic heading, say) gets a real sentence's vector picked by its hash.
    """

    def __init__(self, real: Encoder, sentences: Sequence[str]) -> None:
        self.id = f"mixture:{real.id}"
        self.dim = real.dim
        self._real = real
        self._known = {text: n for n, text in enumerate(dict.fromkeys(sentences))}
        self._pool = real.encode_passages(list(self._known))

    def __getstate__(self) -> dict[str, Any]:
        """What a build's worker process gets: the sentence pool, not the real model (it only embeds passages)."""
        return {**self.__dict__, "_real": None}

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        if self._real is None:
            raise RuntimeError("this MixtureEncoder was sent to a worker process: it embeds passages only")
        return self._real.encode_queries(texts)

    def encode_passages(self, texts: Sequence[str], batch_size: int = 64) -> np.ndarray:
        return np.stack([self._vector(text) for text in texts]) if texts else np.zeros((0, self.dim), np.float32)

    def _vector(self, text: str) -> np.ndarray:
        seed = int.from_bytes(hashlib.blake2b(text.encode("utf-8"), digest_size=8).digest(), "little")
        rng = np.random.default_rng(seed)
        rows = [self._known.get(text[s:e], seed % len(self._pool)) for s, e in split_sentences(text)] or [0]
        mean = self._pool[rows].mean(axis=0)
        noise = rng.normal(size=self.dim).astype(np.float32)
        vector = (1 - NOISE) * mean / np.linalg.norm(mean) + NOISE * noise / np.linalg.norm(noise)
        return (vector / np.linalg.norm(vector)).astype(np.float32)


def real_sentences(letters: Path) -> list[str]:
    """Every sentence of the real letters (the stand-in encoder's vocabulary of real vectors)."""
    documents, _ = read_documents([letters])
    return [d.text[s:e] for d in documents for s, e in split_sentences(d.text)]


def build(corpus: str, index_dir: str, letters: str, dense: str, model: str, workers: int = 1,
          rescore: bool = False, store: dict[str, Any] | None = None, token: str | None = None) -> dict[str, Any]:
    """Build the index in ``index_dir`` from ``corpus`` with ``workers`` processes (run in a fresh process);
    ``rescore``: with ``Config.sentence_rescore`` (sentence vectors beside the dense index); ``store``: more
    :class:`Config` fields (a Milvus server, collection and index), ``token`` its credentials."""

    encoder = MixtureEncoder(load_encoder(model), real_sentences(Path(letters)))
    started = time.perf_counter()
    config = Config(dense=dense, sentence_rescore=rescore).with_(**(store or {}))
    index = Index.build([corpus], index_dir, config=config, encoder=encoder, workers=workers, store_token=token)
    import resource

    workers_peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024  # the largest worker's, once ended
    return {"build_s": time.perf_counter() - started, "peak_rss_mib": peak_rss() / MIB,
            "peak_rss_worker_mib": workers_peak / MIB, "chunks": len(index),
            "letters": len(index.letters), "chars": sum(len(letter.text) for letter in index.letters)}


def query(index_dir: str, exact_dir: str | None, letters: str, questions: Sequence[str], new_letter: str,
          model: str, store: dict[str, Any] | None = None, token: str | None = None) -> dict[str, Any]:
    """Load the index, time the questions, compare with the exact twin, add one letter (run in a fresh process)."""

    encoder = MixtureEncoder(load_encoder(model), real_sentences(Path(letters)))
    import psutil

    started = time.perf_counter()
    index = Index.load(index_dir, encoder=encoder, store_token=token, milvus_uri=(store or {}).get("milvus_uri"),
                       config=Config().with_(**{k: v for k, v in (store or {}).items()
                                                if k in ("milvus_timeout", "milvus_search_width")}))
    row: dict[str, Any] = {"load_s": time.perf_counter() - started,
                           "rss_after_load_mib": psutil.Process().memory_info().rss / MIB}
    seconds, tops = [], []
    for question in [*questions[:3], *questions]:  # the first three warm up
        started = time.perf_counter()
        hits = index.search(question, k=10)
        seconds.append(time.perf_counter() - started)
        tops.append([h.chunk_id for h in hits])
    seconds, tops = seconds[3:], tops[3:]
    row.update(p50_ms=float(np.percentile(seconds, 50) * 1000), p95_ms=float(np.percentile(seconds, 95) * 1000))
    row["compare_p50_ms"] = compare_p50_ms(index, questions)
    if exact_dir is not None:
        exact = (index.with_config(ivf_nprobe=EVERY_CELL) if exact_dir == SCAN
                 else Index.load(exact_dir, encoder=encoder, analyzer=index.analyzer))
        overlap = [len(set(top) & {h.chunk_id for h in exact.search(q, k=10)}) / max(len(top), 1)
                   for q, top in zip(questions, tops, strict=True)]
        row["recall_at_10_vs_exact"] = float(np.mean(overlap))
    else:
        row["recall_at_10_vs_exact"] = 1.0  # the index is the exact one
    started = time.perf_counter()
    index.add([new_letter])
    row["add_letter_s"] = time.perf_counter() - started
    row["disk_mib"] = folder_bytes(Path(index_dir)) / MIB
    row["peak_rss_query_mib"] = peak_rss() / MIB
    return row


def compare_p50_ms(index: Index, questions: Sequence[str], count: int = 20) -> float:
    """The median milliseconds of :meth:`rag.Index.compare` (20 letters) over the first ``count`` questions."""
    seconds = []
    for question in questions[:count]:
        started = time.perf_counter()
        index.compare(question)
        seconds.append(time.perf_counter() - started)
    return float(np.percentile(seconds, 50) * 1000) if seconds else 0.0


def measure(chunks: int, *, dense: str, letters: Path, questions: Sequence[str], out: Path, model: str,
            log: Any = print, workers: int = 1, exact: bool | str = True, rescore: bool = False,
            store: dict[str, Any] | None = None, token: str | None = None) -> dict[str, Any]:
    """Grow a corpus of about ``chunks`` chunks, build it with ``dense``, load and query it.

    ``exact`` says what ``recall_at_10_vs_exact`` compares with: ``True``, an exact twin (the same letters built
    with a flat store); ``"scan"``, the same index searched with every IVF cell scanned (exact over the codes the
    index keeps: with ``sq8`` codes this leaves out their rounding, about 1e-3 of a score); ``False``: nothing
    (the key is ``None``). ``rescore`` builds with ``Config.sentence_rescore`` (the twin too). ``store`` and
    ``token``: the Milvus settings and credentials of ``dense="milvus"`` (see :func:`build`)."""
    from .corpus import grow_corpus, synthesize

    real = len(read_documents([letters])[0])
    factor = max(1, round(chunks / CHUNKS_PER_LETTER / real))
    corpus, index_dir, exact_dir = out / "scale-corpus", out / f"scale-{dense}", out / "scale-exact"
    files = grow_corpus([letters], factor, corpus)
    new_letter = out / "scale-new-letter.txt"
    documents, _ = read_documents([letters])
    from rag import parse_letter

    parsed = [parse_letter(d.text, letter_id=Path(d.path).stem, path=d.path) for d in documents]
    new_letter.write_text(synthesize(parsed, 1, seed=99, first_serial=990_000)[0], encoding="utf-8")
    for folder in (index_dir, exact_dir):
        shutil.rmtree(folder, ignore_errors=True)
    log(f"{len(files)} letters; building with dense={dense}, sentence_rescore={rescore} in a fresh process")
    row: dict[str, Any] = {"dense_index": dense, "workers": workers, "sentence_rescore": rescore,
                           **in_fresh_process(build, str(corpus), str(index_dir), str(letters), dense, model,
                                                    workers, rescore, store, token)}
    log(f"  {row['chunks']} chunks in {row['build_s']:.0f} s, peak {row['peak_rss_mib']:.0f} MiB")
    twin = exact is True and dense != "flat"
    if twin:
        log("building the exact twin (dense=flat) for recall")
        in_fresh_process(build, str(corpus), str(exact_dir), str(letters), "flat", model, workers, rescore)
    import json

    manifest = json.loads((index_dir / "manifest.json").read_text(encoding="utf-8"))
    row["vectors"] = manifest["counts"]["vectors"]
    row["rows_per_chunk"] = row["vectors"] / max(row["chunks"], 1)
    row["dense_stats"] = manifest["stores"]["dense"]
    log("loading and querying in a fresh process")
    reference = str(exact_dir) if twin else SCAN if exact == SCAN and dense != "flat" else None
    row["exact_reference"] = {str(exact_dir): "flat twin", SCAN: "every IVF cell scanned"}.get(str(reference), None)
    row.update(in_fresh_process(query, str(index_dir), reference, str(letters), list(questions),
                                      str(new_letter), model, store, token))
    if not exact and dense != "flat":
        row["recall_at_10_vs_exact"] = None  # not measured: no exact twin was built
    return row


def read_rows(paths: Sequence[Path]) -> list[dict[str, Any]]:
    """The result of each ``--search-scale … --json`` run saved in ``paths`` (its last line), smallest first."""
    import json

    rows = []
    for path in paths:
        lines = [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
        if not lines:
            raise ValueError(f"{path} is empty: expected the output of python -m eval.bench --search-scale N --json")
        rows.append(json.loads(lines[-1]))
    return sorted(rows, key=lambda row: row["chunks"])


def table(rows: Sequence[dict[str, Any]]) -> str:
    """The README's scale table (Markdown)."""
    head = ("| chunks | vectors | dense store | build (peak RSS) | load | RSS after load | search p50 / p95 | "
            "recall@10 vs exact | add a letter | disk |\n|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|")
    lines = [head]
    for r in rows:
        stats = r.get("dense_stats", {})
        store = str(stats.get("backend", r["dense_index"]))
        if store == "ivf":
            store += f", {stats.get('nlist', 0):,} cells, {stats.get('codes')} codes"
        recall = "–" if r["recall_at_10_vs_exact"] is None else f"{r['recall_at_10_vs_exact']:.3f}"
        lines.append(f"| {r['chunks']:,} | {r['vectors']:,} | {store} | {r['build_s']:,.0f} s "
                     f"({r['peak_rss_mib']:,.0f} MiB) | {r['load_s']:.1f} s | {r['rss_after_load_mib']:,.0f} MiB | "
                     f"{r['p50_ms']:.1f} / {r['p95_ms']:.1f} ms | {recall} | {r['add_letter_s']:.2f} s | "
                     f"{r['disk_mib']:,.0f} MiB |")
    return "\n".join(lines)


def draw(rows: Sequence[dict[str, Any]], path: Path) -> Path:
    """Search latency and memory against the number of chunks, log-log; saved as PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    chunks = [r["chunks"] for r in rows]
    figure, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
    left.plot(chunks, [r["p50_ms"] for r in rows], "-o", label="search p50 (end to end)")
    left.plot(chunks, [r["p95_ms"] for r in rows], ":o", color="C0", label="search p95")
    left.axhline(30, color="grey", linestyle="--", linewidth=0.8, label="30 ms")
    left.set(xscale="log", yscale="log", xlabel="chunks in the index", ylabel="ms per query",
             title="Search latency vs index size")
    for key, style, label in (("peak_rss_mib", "-o", "build peak RSS"), ("rss_after_load_mib", "-s", "RSS after load"),
                              ("disk_mib", "--^", "index on disk")):
        right.plot(chunks, [r[key] for r in rows], style, label=label)
    right.set(xscale="log", yscale="log", xlabel="chunks in the index", ylabel="MiB", title="Memory and disk")
    for axis in (left, right):
        axis.grid(alpha=0.3, which="both")
        axis.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)
    return path
