"""Reports of a retrieval evaluation: text and Markdown tables, report.json, runs.jsonl and a bar chart."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .metrics import METRICS
from .systems import MAIN_SYSTEM

if TYPE_CHECKING:
    from rag import Index

    from .gold import Question
    from .ranking import Ranked, SystemResult

GROUPS = ("overall", "zh", "en")
LABELS = {"recall@1": "R@1", "recall@3": "R@3", "recall@5": "R@5", "recall@10": "R@10", "mrr@10": "MRR@10",
          "ndcg@10": "nDCG@10"}
DEFINITION = ("Each evidence string is one target; a target's relevant document is the first hit containing it "
              "(NFKC, whitespace removed). Per question: mean over its targets; per system: mean over answerable "
              "questions. Metrics computed with ranx.")


def _value(value: float | None) -> str:
    return "–" if value is None else f"{value:.3f}"


def systems_text(results: Sequence[SystemResult]) -> str:
    """Systems side by side: one column per system, one row per language and metric."""
    names = [r.name for r in results]
    width = max(9, *(len(n) + 1 for n in names))
    lines = [" " * 18 + "".join(f"{n:>{width}}" for n in names)]
    for group in GROUPS:
        lines.append(f"{group} (n={results[0].summary[group]['n']})")
        for metric in METRICS:
            cells = "".join(f"{_value(r.summary[group][metric]):>{width}}" for r in results)
            lines.append(f"  {LABELS[metric]:<16}{cells}")
    return "\n".join(lines)


def systems_markdown(results: Sequence[SystemResult]) -> str:
    """The systems table in Markdown, best value of each row in bold."""
    names = [r.name for r in results]
    lines = ["| language | metric | " + " | ".join(names) + " |", "|---|---|" + "---:|" * len(names)]
    for group in GROUPS:
        for metric in METRICS:
            values = [r.summary[group][metric] for r in results]
            best = max((v for v in values if v is not None), default=None)
            cells = [f"**{_value(v)}**" if v is not None and v == best and len(values) > 1 else _value(v)
                     for v in values]
            lines.append(f"| {group} (n={results[0].summary[group]['n']}) | {LABELS[metric]} | "
                         + " | ".join(cells) + " |")
    return "\n".join(lines)


_ABLATION_COLUMNS = (("overall", "recall@1"), ("overall", "recall@5"), ("overall", "recall@10"),
                     ("overall", "mrr@10"), ("overall", "ndcg@10"), ("zh", "recall@5"), ("zh", "mrr@10"),
                     ("en", "recall@5"), ("en", "mrr@10"))


def _ablation_rows(results: Sequence[SystemResult]) -> tuple[list[str], list[list[str]]]:
    header = ["variant", "chunks", *(f"{LABELS[m]}" if g == "overall" else f"{g} {LABELS[m]}"
                                     for g, m in _ABLATION_COLUMNS), "ΔMRR@10"]
    base = next((r for r in results if r.system.group == "ours"), results[0])
    rows = []
    for result in results:
        mrr, base_mrr = result.summary["overall"]["mrr@10"], base.summary["overall"]["mrr@10"]
        delta = "" if result is base or mrr is None or base_mrr is None else f"{mrr - base_mrr:+.3f}"
        rows.append([result.name, str(len(result.system.index)),
                     *(_value(result.summary[g][m]) for g, m in _ABLATION_COLUMNS), delta])
    return header, rows


def ablation_text(results: Sequence[SystemResult]) -> str:
    """The ablation table for a terminal."""
    header, rows = _ablation_rows(results)
    widths = [max(len(line[i]) for line in [header, *rows]) for i in range(len(header))]
    return "\n".join("  ".join(cell.ljust(w) if i == 0 else cell.rjust(w) for i, (cell, w) in
                               enumerate(zip(line, widths, strict=True))) for line in [header, *rows])


def ablation_markdown(results: Sequence[SystemResult]) -> str:
    """The ablation table in Markdown."""
    header, rows = _ablation_rows(results)
    lines = ["| " + " | ".join(header) + " |", "|---|" + "---:|" * (len(header) - 1)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def draw_comparison(results: Sequence[SystemResult], path: Path) -> Path:
    """Grouped bars of Recall@5 and MRR@10 per language, one bar per system; saved as PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(1, 2, figsize=(11, 4.2), sharey=True)
    width = 0.8 / len(results)
    for axis, metric in zip(axes, ("recall@5", "mrr@10"), strict=True):
        for n, result in enumerate(results):
            values = [result.summary[g][metric] or 0.0 for g in GROUPS]
            positions = [i + (n - (len(results) - 1) / 2) * width for i in range(len(GROUPS))]
            bars = axis.bar(positions, values, width, label=result.name)
            axis.bar_label(bars, fmt="%.2f", fontsize=7, padding=1)
        axis.set_xticks(range(len(GROUPS)), [f"{g} (n={results[0].summary[g]['n']})" for g in GROUPS])
        axis.set_title(LABELS[metric])
        axis.set_ylim(0, 1.08)
        axis.grid(axis="y", alpha=0.3)
    axes[0].legend(loc="lower left", fontsize=8)
    figure.suptitle("Retrieval on the gold questions, per language")
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)
    return path


def _snippet(text: str, limit: int = 110) -> str:
    text = re.sub(r"\s+", " ", text).strip()
    return text if len(text) <= limit else text[:limit] + "…"


def missed_markdown(main: SystemResult, others: Sequence[SystemResult], k: int) -> str:
    """Each question our system missed (evidence not in its top ``k``), with its top-3 hits."""
    missed = main.missed(k)
    if not missed:
        return f"{main.name} found every evidence string in its top {k}."
    found_by = {r.name: {j.id for j in r.judged if not j.missed(k)} for r in others if r is not main}
    out = [f"{len(missed)} of {len(main.judged)} answerable questions have evidence outside {main.name}'s top {k}."]
    for ranked, gone in missed:
        q = ranked.question
        others_found = [name for name, ids in found_by.items() if q.id in ids]
        out.append(f"\n### {q.id} ({q.lang}) {q.question}\n")
        out.append(f"- missing evidence: {', '.join(repr(q.evidence[i]) for i in gone)}"
                   + (f" (letter {q.letter})" if q.letter else ""))
        if others_found:
            out.append(f"- found in the top {k} by: {', '.join(others_found)}")
        for rank, (hit, found) in enumerate(zip(ranked.hits[:3], ranked.found[:3], strict=True), start=1):
            mark = " ✓" if found else ""
            out.append(f"- {rank}. {hit.citation} ({hit.score:.3f}){mark}: {_snippet(hit.text)}")
        if not ranked.hits:
            out.append("- no hits")
    return "\n".join(out)


def _run_rows(ranked: Sequence[Ranked]) -> list[dict[str, Any]]:
    return [{"id": r.question.id, "question": r.question.question, "lang": r.question.lang,
             "answerable": r.question.answerable,
             "hits": [{"text": h.text, "citation": h.citation, "score": h.score, "rank": h.rank,
                       "chunk_id": h.chunk_id, "letter_id": h.letter_id,
                       "evidence": [r.question.evidence[i] for i in found]}
                      for h, found in zip(r.hits, r.found, strict=True)]}
            for r in ranked]


def _write_jsonl(path: Path, rows: Sequence[dict[str, Any]]) -> None:
    path.write_text("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows), encoding="utf-8")


def report_json(systems: Sequence[SystemResult], ablated: Sequence[SystemResult], *,
                questions: Sequence[Question], gold_files: Sequence[str], index: Index, k: int) -> dict[str, Any]:
    """The machine-readable report: ``{"systems": {NAME: {"overall": M, "zh": M, "en": M}}, ...}``."""
    def info(result: SystemResult) -> dict[str, Any]:
        return {"description": result.system.description, "group": result.system.group,
                "chunks": len(result.system.index), "build_seconds": result.system.build_seconds,
                "missed": [r.question.id for r, _ in result.missed(k)]}

    return {
        "systems": {r.name: {g: r.summary[g] for g in GROUPS} for r in systems},
        "ablations": {r.name: {g: r.summary[g] for g in GROUPS} for r in ablated},
        "details": {r.name: info(r) for r in [*systems, *ablated]},
        "gold": {"files": list(gold_files), "questions": len(questions),
                 "answerable": sum(q.answerable for q in questions),
                 "unanswerable": sum(not q.answerable for q in questions),
                 "unanswerable_ids": [q.id for q in questions if not q.answerable]},
        "index": {"directory": str(index.directory) if index.directory else None, "letters": len(index.letters),
                  "chunks": len(index), "model": index.config.model},
        "k": k,
        "metrics": list(METRICS),
        "definition": DEFINITION,
    }


def write_reports(out: Path, systems: Sequence[SystemResult], ablated: Sequence[SystemResult], *,
                  questions: Sequence[Question], gold_files: Sequence[str], index: Index, k: int) -> list[Path]:
    """Write report.json, report.md, runs.jsonl (our system), runs/<system>.jsonl and compare.png.

    Returns:
        The files written.
    """
    out.mkdir(parents=True, exist_ok=True)
    (out / "runs").mkdir(exist_ok=True)
    main = next(r for r in systems if r.name == MAIN_SYSTEM)
    files = [out / "report.md", out / "report.json", out / "runs.jsonl"]
    data = report_json(systems, ablated, questions=questions, gold_files=gold_files, index=index, k=k)
    (out / "report.json").write_text(json.dumps(data, ensure_ascii=False, indent=1), encoding="utf-8")
    _write_jsonl(out / "runs.jsonl", _run_rows(main.ranked))
    for result in [*systems, *ablated]:
        name = re.sub(r"[^\w.=-]+", "_", result.name).strip("_")
        _write_jsonl(out / "runs" / f"{name}.jsonl", _run_rows(result.ranked))
    files.append(out / "runs")
    gold = data["gold"]
    md = [
        "# Retrieval evaluation", "",
        f"Gold: {', '.join(gold_files)}: {gold['questions']} questions, {gold['answerable']} answerable scored, "
        f"{gold['unanswerable']} unanswerable left out. Index: {data['index']['letters']} letters, "
        f"{data['index']['chunks']} chunks, model {data['index']['model']}. k = {k}.", "",
        DEFINITION, "", "## Systems", "",
        *(f"- **{r.name}**: {r.system.description}" for r in systems), "", systems_markdown(systems), "",
    ]
    if len(systems) > 1:
        draw_comparison(systems, out / "compare.png")
        files.append(out / "compare.png")
        md += ["![Recall@5 and MRR@10 per language](compare.png)", ""]
    if ablated:
        md += ["## Ablations", "", "Each row changes one setting of ours; builds happen in memory over the same "
               "letters.", "", *(f"- **{r.name}**: {r.system.description}" for r in ablated), "",
               ablation_markdown(ablated), ""]
    md += [f"## Missed by {main.name}", "", missed_markdown(main, systems, k), ""]
    (out / "report.md").write_text("\n".join(md), encoding="utf-8")
    return files


def print_summary(systems: Sequence[SystemResult], ablated: Sequence[SystemResult], *, k: int) -> None:
    """The compact tables for a terminal, and the ids our system missed."""
    print()
    print(systems_text(systems))
    if ablated:
        print("\nablations (overall unless marked):")
        print(ablation_text(ablated))
    main = next(r for r in systems if r.name == MAIN_SYSTEM)
    missed = main.missed(k)
    print(f"\n{main.name} missed {len(missed)} of {len(main.judged)} answerable questions at k={k}"
          + (f": {' '.join(r.question.id for r, _ in missed)} (top-3 hits in report.md)" if missed else ""))
