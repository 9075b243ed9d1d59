"""Generative answers from any OpenAI-compatible chat endpoint, every sentence's citations checked.

The model is given the retrieved passages numbered ``[1]..[k]`` and told to end every sentence with
the numbers of the passages it comes from. Its reply is then checked sentence by sentence: a sentence
with no citation, or citing a passage that does not exist, is flagged in ``Answer.notes`` and dropped.
Each remaining citation quotes the sentence of the cited passage closest to what the model wrote, so
``Citation.quote`` is always real letter text at the stated offsets. An unreachable endpoint (or a
reply with nothing left after checking) falls back to the extractive answer with a note saying so.

Streaming, for a UI::

    from rag import LLM

    for piece in index.ask_stream(question, k=8, llm=LLM("http://localhost:11434/v1", "qwen2.5")):
        if isinstance(piece, str):
            draft += piece            # unchecked text as the model writes it: show it as a draft
        else:
            final = piece             # the checked Answer, always the last item: replace the draft

:func:`stream_answer` needs no index: only the question, the hits, the endpoint and optionally the
extractive answer to fall back on and an encoder to pick the quoted sentences (without one, quotes
are picked by shared characters and numbers). :func:`rag.answer.answer_stream` calls it.
The HTTP client is the standard library's ``urllib``; streaming reads server-sent ``data:`` lines.
"""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import numpy as np

from ..chunk import split_sentences
from ..retrieve.hits import Hit
from .types import ABSTAIN_EN, ABSTAIN_ZH, Answer, Citation, SupportItem, question_language

if TYPE_CHECKING:
    from ..embed import Encoder

NO_ANSWER = "NO_ANSWER"
_MARKERS = re.compile(r"\[\s*(\d+(?:\s*[,，、;]\s*\d+)*)\s*\]")
_SENTENCE = re.compile(
    r"[^\n]*?(?:[。！？!?]+[”’」』）)]*|\.(?=\s|$)|$)(?:\s*\[\s*\d+(?:\s*[,，、;]\s*\d+)*\s*\])*")

SYSTEM_PROMPT = (
    "You answer questions about Chinese government reply letters (答复函), using only the numbered passages given.\n"
    "Rules:\n"
    "1. End every sentence with the number of the passage it comes from, in square brackets, like [2] or [1][3]. "
    "A sentence without a citation will be deleted.\n"
    "2. Cite only passage numbers that exist. State only what the passages say; copy amounts, rates, caps, dates "
    "and names exactly.\n"
    "3. Be brief: a few sentences. Answer in {language}.\n"
    f"4. If the passages do not answer the question, reply with exactly: {NO_ANSWER}"
)


class EndpointError(RuntimeError):
    """The chat endpoint could not be reached or answered with something that is not a chat completion."""


@dataclass(frozen=True)
class LLM:
    """An OpenAI-compatible chat endpoint (Ollama, vLLM, llama.cpp server, a hosted API).

    Attributes:
        base_url: the API root, e.g. ``http://localhost:11434/v1``; ``/chat/completions`` is appended.
        model: the model name the endpoint serves.
        api_key: sent as a bearer token when given (the CLI reads it from an environment variable).
        timeout: seconds to wait for the connection and for each streamed line.
        temperature: sampling temperature.
        max_tokens: the longest reply asked for.

    Example:
        >>> llm = LLM("http://localhost:11434/v1", "qwen2.5:7b")
    """

    base_url: str
    model: str
    api_key: str | None = None
    timeout: float = 60.0
    temperature: float = 0.0
    max_tokens: int = 800

    @property
    def url(self) -> str:
        return self.base_url.rstrip("/") + "/chat/completions"


def build_messages(question: str, hits: Sequence[Hit]) -> list[dict[str, str]]:
    """The chat messages: the rules, then the numbered passages and the question."""
    language = "Chinese (简体中文)" if question_language(question) == "zh" else "English"
    passages = []
    for n, hit in enumerate(hits, start=1):
        source = ", ".join(x for x in (hit.agency, hit.date) if x)
        passages.append(f"[{n}] {hit.citation}{f' ({source})' if source else ''}\n{hit.text}")
    user = "Passages:\n\n" + "\n\n".join(passages) + f"\n\nQuestion: {question}"
    return [{"role": "system", "content": SYSTEM_PROMPT.format(language=language)},
            {"role": "user", "content": user}]


def stream_chat(llm: LLM, messages: list[dict[str, str]]) -> Iterator[str]:
    """Stream the reply's text deltas from the endpoint (also accepts a non-streamed JSON reply).

    Raises:
        EndpointError: connection refused or timed out, an HTTP error, or a reply that is not a chat completion.
    """
    body = json.dumps({"model": llm.model, "messages": messages, "stream": True, "temperature": llm.temperature,
                       "max_tokens": llm.max_tokens}).encode("utf-8")
    headers = {"Content-Type": "application/json", "Accept": "text/event-stream"}
    if llm.api_key:
        headers["Authorization"] = f"Bearer {llm.api_key}"
    request = urllib.request.Request(llm.url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=llm.timeout) as response:
            if "json" in (response.headers.get("Content-Type") or ""):
                yield _content(json.loads(response.read().decode("utf-8")), "message")
                return
            for raw in response:
                line = raw.decode("utf-8").strip()
                if not line.startswith("data:"):
                    continue
                payload = line[len("data:"):].strip()
                if payload == "[DONE]":
                    return
                delta = _content(json.loads(payload), "delta")
                if delta:
                    yield delta
    except urllib.error.HTTPError as exc:
        detail = exc.read().decode("utf-8", "replace")[:200]
        raise EndpointError(f"{llm.url} answered HTTP {exc.code}: {detail}") from exc
    except (urllib.error.URLError, TimeoutError, ConnectionError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise EndpointError(f"cannot reach {llm.url} ({reason})") from exc
    except (ValueError, KeyError, IndexError, TypeError) as exc:
        raise EndpointError(f"{llm.url} did not answer like a chat-completions endpoint ({exc})") from exc


def _content(data: dict[str, Any], key: str) -> str:
    if "error" in data:
        error = data["error"]
        raise EndpointError(str(error.get("message", error) if isinstance(error, dict) else error))
    choice = data["choices"][0] if data.get("choices") else {}
    return (choice.get(key) or {}).get("content") or ""


def stream_answer(question: str, hits: Sequence[Hit], llm: LLM, fallback: Answer | None = None,
                  encoder: Encoder | None = None) -> Iterator[str | Answer]:
    """Stream a generative answer: the model's text deltas (``str``), then the checked :class:`Answer`.

    Args:
        question: the question.
        hits: the passages, numbered ``[1]..[len(hits)]`` in the prompt.
        llm: the endpoint.
        fallback: the extractive answer, returned (with a note) when the endpoint fails or nothing
            survives checking; its support table is carried over.
        encoder: picks each citation's quoted sentence by similarity (default: shared characters).

    Yields:
        Text deltas as they arrive, then exactly one :class:`Answer` (``mode="generative"`` unless it fell back).
    """
    hits = tuple(hits)
    parts: list[str] = []
    try:
        for delta in stream_chat(llm, build_messages(question, hits)):
            parts.append(delta)
            yield delta
    except EndpointError as exc:
        yield _fall_back(question, hits, fallback, f"the language model was not used: {exc}; "
                                                   "showing the extractive answer")
        return
    yield check_answer(question, "".join(parts), hits, fallback=fallback, encoder=encoder)


def check_answer(question: str, text: str, hits: Sequence[Hit], fallback: Answer | None = None,
                 encoder: Encoder | None = None) -> Answer:
    """Check a model's reply sentence by sentence and attach verified quotes.

    Sentences without a citation, or citing a passage number outside ``1..len(hits)``, are dropped
    and named in ``notes``. Citations are renumbered in order of first use; each quotes the sentence
    of the cited passage closest to the model's sentence.
    """
    hits = tuple(hits)
    language = question_language(question)
    notes: list[str] = []
    if text.strip().rstrip(".。").upper() == NO_ANSWER:
        return Answer(question, ABSTAIN_ZH if language == "zh" else ABSTAIN_EN, (),
                      fallback.confidence if fallback else 0.0, True, hits, notes=("the model found no answer "
                      "in the passages",), mode="generative", language=language)
    kept: list[tuple[str, list[int]]] = []
    for sentence in split_reply(text):
        claim = _MARKERS.sub("", sentence).strip()
        numbers = [int(n) for group in _MARKERS.findall(sentence) for n in re.split(r"[,，、;]", group) if n.strip()]
        if not claim or claim.upper().startswith(NO_ANSWER):
            continue
        if not numbers:
            notes.append(f"dropped a sentence without a citation: {claim[:80]}")
            continue
        invented = sorted({n for n in numbers if not 1 <= n <= len(hits)})
        if invented:
            notes.append(f"dropped a sentence citing passage {', '.join(f'[{n}]' for n in invented)}, "
                         f"which does not exist (there are {len(hits)}): {claim[:80]}")
            continue
        kept.append((claim, list(dict.fromkeys(numbers))))
    if not kept:
        return _fall_back(question, hits, fallback,
                          "the model's answer had no sentence with a valid citation; showing the extractive answer",
                          earlier=notes)
    citations: list[Citation] = []
    pieces: list[str] = []
    for claim, numbers in kept:
        markers = []
        for n in numbers:
            hit = hits[n - 1]
            start, end = _closest_sentence(claim, hit, encoder)
            citation = next((c for c in citations if (c.hit.chunk_id, c.start, c.end) == (hit.chunk_id, start, end)),
                            None)
            if citation is None:
                citation = Citation(len(citations) + 1, hit, hit.text[start - hit.start:end - hit.start], start, end)
                citations.append(citation)
            markers.append(f"[{citation.n}]")
        pieces.append(claim + "".join(markers))
    shown = len(citations)
    support, citations = _carry_support(fallback, citations)
    joined = "".join(pieces) if language == "zh" else " ".join(pieces)
    if len(citations) > shown:  # the support table's other sentences, quoted so every number is in the text
        joined += "\n" + "".join(f"{c.quote}[{c.n}]" for c in citations[shown:])
    confidence = fallback.confidence if fallback is not None else 1.0
    return Answer(question, joined, tuple(citations), confidence, False, hits, support=support,
                  notes=tuple(notes), mode="generative", language=language)


def split_reply(text: str) -> list[str]:
    """A model reply's sentences, each with the citation markers that follow it."""
    return [m.group().strip() for m in _SENTENCE.finditer(text) if m.group().strip()]


def _closest_sentence(claim: str, hit: Hit, encoder: Encoder | None) -> tuple[int, int]:
    spans = split_sentences(hit.text, hit.start) or [(hit.start, hit.end)]
    if len(spans) == 1:
        return spans[0]
    texts = [hit.text[s - hit.start:e - hit.start] for s, e in spans]
    if encoder is not None:
        scores = encoder.encode_passages(texts) @ encoder.encode_queries([claim])[0]
        return spans[int(np.argmax(scores))]
    claim_grams = _grams(claim)
    return max(zip(spans, texts, strict=True), key=lambda pair: len(claim_grams & _grams(pair[1])))[0]


def _grams(text: str) -> set[str]:
    """Character bigrams of the Chinese runs and whole numbers/latin words: shared facts between two texts."""
    grams = {a + b for run in re.findall(r"[\u3400-\u9fff]+", text) for a, b in zip(run, run[1:], strict=False)}
    return grams | set(re.findall(r"\d+(?:\.\d+)?%?|[A-Za-z]{3,}", text))


def _carry_support(fallback: Answer | None,
                   citations: list[Citation]) -> tuple[tuple[SupportItem, ...], list[Citation]]:
    """The extractive support table, its citations appended to (or shared with) the generative ones."""
    if fallback is None or not fallback.support:
        return (), citations
    by_n = {c.n: c for c in fallback.citations}
    items = []
    for item in fallback.support:
        source = by_n[item.citation_n]
        same = next((c for c in citations if (c.hit.chunk_id, c.start, c.end) ==
                     (source.hit.chunk_id, source.start, source.end)), None)
        if same is None:
            same = replace(source, n=len(citations) + 1)
            citations.append(same)
        items.append(replace(item, citation_n=same.n))
    return tuple(items), citations


def _fall_back(question: str, hits: tuple[Hit, ...], fallback: Answer | None, note: str,
               earlier: Sequence[str] = ()) -> Answer:
    if fallback is not None:
        return replace(fallback, notes=(*fallback.notes, *earlier, note))
    language = question_language(question)
    return Answer(question, ABSTAIN_ZH if language == "zh" else ABSTAIN_EN, (), 0.0, True, hits,
                  notes=(*earlier, note), mode="generative", language=language)
