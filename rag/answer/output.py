"""An answer as JSON-ready data or as terminal text."""

from __future__ import annotations

from typing import Any

from .types import CLOSEST_EN, CLOSEST_ZH, Answer


def answer_to_dict(answer: Answer) -> dict[str, Any]:
    """The answer as a JSON-ready dict: text, abstained, confidence, citations, support, hits, notes, mode."""
    return {
        "question": answer.question,
        "text": answer.text,
        "abstained": answer.abstained,
        "confidence": round(answer.confidence, 4),
        "mode": answer.mode,
        "language": answer.language,
        "citations": [
            {"n": c.n, "quote": c.quote, "citation": c.hit.citation, "letter_id": c.hit.letter_id,
             "start": c.start, "end": c.end, "chunk_id": c.hit.chunk_id, "section": c.hit.section,
             "doc_number": c.hit.doc_number, "agency": c.hit.agency, "date": c.hit.date, "path": c.hit.path}
            for c in answer.citations
        ],
        "support": [
            {"what": s.what, "amount": s.amount, "cap": s.cap, "condition": s.condition, "agency": s.agency,
             "citation_n": s.citation_n}
            for s in answer.support
        ],
        "hits": [h.to_dict() for h in answer.hits],
        "notes": [str(note) for note in answer.notes],
        "unplaced": list(answer.unplaced),
        "missing_kind": answer.missing_kind,
    }


def format_answer(answer: Answer) -> str:
    """The answer as terminal text: the answer, its sources, the support table and any notes."""
    zh = answer.language == "zh"
    lines = [answer.text, ""]
    if answer.abstained:
        if answer.hits:
            lines.append(CLOSEST_ZH if zh else CLOSEST_EN)
            for hit in answer.hits[:3]:
                lines.append(f"  · {hit.citation}  {hit.text[:80].replace(chr(10), ' ')}…")
    else:
        for c in answer.citations:
            who = " ".join(x for x in (c.hit.agency, c.hit.date) if x)
            lines.append(f"[{c.n}] {c.hit.citation}{f'  ({who})' if who else ''}  @{c.start}-{c.end}")
    if answer.support:
        lines += ["", "补助/支持一览：" if zh else "Support found in the letters:"]
        for s in answer.support:
            cells = [s.what or "-", s.amount or "-", s.cap or "-", s.condition or "-", s.agency or "-"]
            lines.append(f"  [{s.citation_n}] " + " | ".join(cells))
    mode = {"extractive": "摘录", "generative": "生成"}.get(answer.mode, answer.mode) if zh else answer.mode
    lines += [f"（置信度 {answer.confidence:.2f}，{mode}）" if zh else f"(confidence {answer.confidence:.2f}, {mode})"]
    lines += [f"note: {note}" for note in answer.notes]
    return "\n".join(lines).strip()

