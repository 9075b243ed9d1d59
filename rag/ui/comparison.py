"""A comparison rendered: its table (each quote a button opening its letter), a small chart and a CSV file."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .labels import t
from .render import escape

if TYPE_CHECKING:
    from rag.answer.compare import Comparison


_COMPARE_COLUMNS = ("region", "agency", "date", "doc_number", "what", "amount", "rate", "cap", "condition")


def compare_table_html(comparison: Comparison | None, lang: str = "zh") -> str:
    """A comparison as a table, a row per measure; each quote is a button opening its letter at the sentence
    (``data-letter``, ``data-start``, ``data-end``)."""
    if comparison is None:
        return '<div class="rag-compare"></div>'
    mentioned = (f'<p class="rag-notice">{escape(t(lang, "compare_mentioned").format(n=comparison.mentioned_only))}'
                 "</p>" if comparison.mentioned_only else "")
    if not comparison.rows:
        return f'<div class="rag-compare"><p class="rag-notice">{escape(t(lang, "compare_empty"))}</p>{mentioned}</div>'
    head = "".join(f"<th>{escape(t(lang, c))}</th>" for c in (*_COMPARE_COLUMNS, "quote"))
    body = []
    for row in comparison.rows:
        c = row.citation
        values = [row.region.text(), row.agency, row.date, row.doc_number, row.what, row.amount, row.rate, row.cap,
                  row.condition]
        cells = "".join(f'<td class="rag-{name}">{escape(value or "")}</td>'
                        for name, value in zip(_COMPARE_COLUMNS, values, strict=True))
        button = (f'<button class="rag-compare-cite" data-letter="{escape(row.letter_id)}"'
                  f' data-start="{int(c.start)}" data-end="{int(c.end)}" title="{escape(t(lang, "open"))}">'
                  f"{escape(row.quote)} [{int(c.n)}]</button>")
        body.append(f'<tr data-letter="{escape(row.letter_id)}">{cells}<td class="rag-quote">{button}</td></tr>')
    return (f'<div class="rag-compare"><table><thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table>'
            f"{mentioned}</div>")


def compare_chart_html(comparison: Comparison | None, lang: str = "zh") -> str:
    """A small bar chart of a comparison: how many measures each province (or 全国) states."""
    if comparison is None or not comparison.rows:
        return '<div class="rag-compare-chart"></div>'
    counts: dict[str, int] = {}
    for row in comparison.rows:
        name = row.region.province or "?"
        counts[name] = counts.get(name, 0) + 1
    most = max(counts.values())
    bars = "".join(
        f'<div class="rag-bar" data-region="{escape(name)}" data-count="{n}"><span class="rag-bar-label">'
        f'{escape(name)}</span><span class="rag-bar-fill" style="display:inline-block;background:#4a7bd0;height:1em;'
        f'width:{round(100 * n / most)}%"></span><span class="rag-bar-count">{n}</span></div>'
        for name, n in counts.items())
    return f'<div class="rag-compare-chart"><h4>{escape(t(lang, "compare_chart"))}</h4>{bars}</div>'


def compare_csv(comparison: Comparison) -> str:
    """A comparison as CSV text: the table's columns, the quote and its citation (letter id, offsets)."""
    import csv
    import io

    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["letter_id", "province", "city", "county", "agency", "date", "doc_number", "what", "amount",
                     "rate", "cap", "condition", "quote", "citation", "start", "end"])
    for row in comparison.rows:
        c = row.citation
        writer.writerow([row.letter_id, row.region.province, row.region.city, row.region.county, row.agency,
                         row.date, row.doc_number, row.what, row.amount, row.rate, row.cap, row.condition, row.quote,
                         c.citation, c.start, c.end])
    return out.getvalue()
