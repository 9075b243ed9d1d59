"""The HTTP client of an OpenAI-compatible chat endpoint, bounded in time and size.

The whole exchange has one deadline (:attr:`LLM.timeout`): every socket wait is given only the time
left, so an endpoint that trickles a token every few seconds is cut off as surely as a silent one.
The bytes read and the reply's characters are capped too, and a reply that is not shaped like a chat
completion is an :class:`EndpointError`, never a stray ``AttributeError``. The client is the standard
library's :mod:`http.client`; streaming reads server-sent ``data:`` lines.
"""

from __future__ import annotations

import http.client
import json
import time
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..config import Config


class EndpointError(RuntimeError):
    """The chat endpoint could not be reached or answered with something that is not a chat completion."""


class ReplyCut(Exception):
    """The model's reply reached a size cap; what came before it is kept and checked."""


@dataclass(frozen=True)
class LLM:
    """An OpenAI-compatible chat endpoint (Ollama, vLLM, llama.cpp server, a hosted API).

    Attributes:
        base_url: the API root, e.g. ``http://localhost:11434/v1``; ``/chat/completions`` is appended.
        model: the model name the endpoint serves.
        api_key: sent as a bearer token when given (the CLI reads it from an environment variable).
        timeout: seconds for the whole reply, from connecting to the last streamed line (a total
            deadline, not per read: an endpoint trickling a token every few seconds is cut off too).
        temperature: sampling temperature.
        max_tokens: the longest reply asked for.
        max_reply_chars: the reply's text is cut here, whatever the endpoint sends.
        max_response_bytes: at most this many bytes are read from the endpoint for one reply.

    Example:
        >>> llm = LLM("http://localhost:11434/v1", "qwen2.5:7b")
    """

    base_url: str
    model: str
    api_key: str | None = None
    timeout: float = 60.0
    temperature: float = 0.0
    max_tokens: int = 800
    max_reply_chars: int = 6_000
    max_response_bytes: int = 2_000_000

    @classmethod
    def from_config(cls, base_url: str, model: str, config: Config, api_key: str | None = None) -> LLM:
        """The endpoint with ``config``'s deadline (``llm_timeout``) and reply caps."""
        return cls(base_url, model, api_key=api_key, timeout=config.llm_timeout,
                   max_reply_chars=config.llm_max_reply_chars, max_response_bytes=config.llm_max_response_bytes)

    @property
    def url(self) -> str:
        return self.base_url.rstrip("/") + "/chat/completions"


def stream_chat(llm: LLM, messages: list[dict[str, str]]) -> Iterator[str]:
    """Stream the reply's text deltas from the endpoint (also accepts a non-streamed JSON reply).

    The whole exchange must finish within ``llm.timeout`` seconds; at most ``llm.max_response_bytes``
    are read, and the text stops at ``llm.max_reply_chars`` (the stream then ends as if the model had
    stopped there, and :class:`ReplyCut` is raised once the deltas so far have been yielded).

    Raises:
        EndpointError: connection refused or timed out, the deadline passed, an HTTP error, or a reply
            that is not a chat completion.
        ReplyCut: the reply reached ``max_reply_chars`` or ``max_response_bytes``.
    """
    body = json.dumps({"model": llm.model, "messages": messages, "stream": True, "temperature": llm.temperature,
                       "max_tokens": llm.max_tokens}).encode("utf-8")
    headers = {"Content-Type": "application/json", "Accept": "text/event-stream"}
    if llm.api_key:
        headers["Authorization"] = f"Bearer {llm.api_key}"
    written = 0
    try:
        with _exchange(llm, body, headers) as reader:
            for payload in reader.payloads():
                delta = _content(payload, "delta" if reader.streamed else "message")
                room = llm.max_reply_chars - written
                if delta and len(delta) >= room:
                    yield delta[:room]
                    raise ReplyCut(f"the model's reply was cut at {llm.max_reply_chars:,} characters "
                                   "(Config.llm_max_reply_chars)")
                written += len(delta)
                if delta:
                    yield delta
    except (EndpointError, ReplyCut):
        raise
    except (TimeoutError, ConnectionError, OSError, http.client.HTTPException) as exc:
        raise EndpointError(f"cannot reach {llm.url} ({str(exc) or exc.__class__.__name__})") from exc
    except (ValueError, KeyError, IndexError, TypeError, AttributeError) as exc:
        raise EndpointError(f"{llm.url} did not answer like a chat-completions endpoint ({exc})") from exc


@contextmanager
def _exchange(llm: LLM, body: bytes, headers: dict[str, str]) -> Iterator[_Reader]:
    """POST ``body`` to the endpoint; the reader yields the reply's JSON objects within the deadline."""
    deadline = time.monotonic() + llm.timeout
    parts = urllib.parse.urlsplit(llm.url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise EndpointError(f"{llm.url} is not an http(s) URL")
    kind = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
    connection = kind(parts.hostname, parts.port, timeout=llm.timeout)
    try:
        connection.request("POST", parts.path + (f"?{parts.query}" if parts.query else ""), body=body,
                           headers=headers)
        reader = _Reader(llm, connection, deadline)
        response = connection.getresponse()
        reader.response = response
        reader.streamed = "json" not in (response.getheader("Content-Type") or "")
        if response.status >= 400:
            detail = reader.read_some(2048).decode("utf-8", "replace")[:200]
            raise EndpointError(f"{llm.url} answered HTTP {response.status}: {detail}")
        yield reader
    finally:
        connection.close()


class _Reader:
    """Reads one reply in blocks: each socket wait gets only the time left, and the bytes are counted."""

    def __init__(self, llm: LLM, connection: http.client.HTTPConnection, deadline: float) -> None:
        self.llm = llm
        self.connection = connection
        self.deadline = deadline
        self.response: http.client.HTTPResponse | None = None
        self.streamed = True
        self.received = 0

    def settle(self) -> None:
        """Let the next socket wait last no longer than the time left; past the deadline, give up."""
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise EndpointError(f"{self.llm.url} did not finish its reply within {self.llm.timeout:g} s "
                                "(Config.llm_timeout; raise it with --llm-timeout)")
        if self.connection.sock is not None:
            self.connection.sock.settimeout(left)

    def read_some(self, size: int = 1 << 16) -> bytes:
        assert self.response is not None
        self.settle()
        try:
            block = self.response.read1(size)
        except TimeoutError:
            self.settle()  # the deadline passed while waiting: say so
            raise
        self.received += len(block)
        if self.received > self.llm.max_response_bytes:
            raise ReplyCut(f"the endpoint sent more than {self.llm.max_response_bytes:,} bytes; the reply was "
                           "cut there (Config.llm_max_response_bytes)")
        return block

    def payloads(self) -> Iterator[dict[str, Any]]:
        """The JSON objects of the reply: one for a plain completion, one per ``data:`` line of a stream."""
        if not self.streamed:
            blocks = []
            while block := self.read_some():
                blocks.append(block)
            yield _object(json.loads(b"".join(blocks).decode("utf-8")))
            return
        pending = b""
        while block := self.read_some():
            *lines, pending = (pending + block).split(b"\n")
            for raw in lines:
                line = raw.decode("utf-8").strip()
                if not line.startswith("data:"):
                    continue
                payload = line[len("data:"):].strip()
                if payload == "[DONE]":
                    return
                yield _object(json.loads(payload))


def _object(data: object) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise ValueError(f"expected a JSON object, got {type(data).__name__}")
    return data


def _content(data: dict[str, Any], key: str) -> str:
    """The text of a completion (``key="message"``) or of a stream chunk (``"delta"``), checked for shape."""
    if "error" in data:
        error = data["error"]
        raise EndpointError(str(error.get("message", error) if isinstance(error, dict) else error))
    choices = data.get("choices")
    if choices in (None, []):
        return ""
    if not isinstance(choices, list) or not isinstance(choices[0], dict):
        raise ValueError(f"'choices' is {type(choices).__name__}, not a list of objects")
    part = choices[0].get(key) or {}
    if not isinstance(part, dict):
        raise ValueError(f"'{key}' is {type(part).__name__}, not an object")
    content = part.get("content") or ""
    if not isinstance(content, str):
        raise ValueError(f"'content' is {type(content).__name__}, not text")
    return content
