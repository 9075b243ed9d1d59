"""Shared fixtures: bundled and shared letters, a deterministic fake encoder, a chat-completions endpoint."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from rag import Analyzer, Config, Index

ROOT = Path(__file__).resolve().parents[1]
BUNDLED = ROOT / "letters"
SHARED = ROOT.parent / "shared"
LETTER_000 = BUNDLED / "000_3530caffdd2f932b.txt"
LETTER_004 = BUNDLED / "004_dce9e1310b5c7813.txt"


SHARED_FIXTURES = frozenset({"shared_letters", "use_index"})
SHARED_NOTE = (f"{SHARED} is missing: the evaluation letters and questions (a folder named shared, laid beside a "
               "clone of this repository) that {needed} of the {total} tests read")


def _needs_shared(item: pytest.Item) -> bool:
    """Whether a test reads ../shared: through a fixture, or a parameter that is a path inside it."""
    if SHARED_FIXTURES & set(getattr(item, "fixturenames", ())):
        return True
    params = getattr(getattr(item, "callspec", None), "params", {})
    return any(isinstance(value, Path) and value.is_relative_to(SHARED) for value in params.values())


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Without ../shared: in CI, stop at once with one line; elsewhere run only the tests that do not read it."""
    if SHARED.is_dir():
        return
    needed = [item for item in items if _needs_shared(item)]
    if not needed:
        return
    note = SHARED_NOTE.format(needed=len(needed), total=len(items))
    if os.environ.get("CI"):
        pytest.exit(f"error: {note}; CI runs every test, so it needs the folder", returncode=4)
    config.hook.pytest_deselected(items=needed)
    items[:] = [item for item in items if item not in needed]
    config.stash[_SHARED_NOTE] = f"{note}; those were not run, the other {len(items)} were"


_SHARED_NOTE = pytest.StashKey[str]()


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    if _SHARED_NOTE in config.stash:
        terminalreporter.write_line(config.stash[_SHARED_NOTE], yellow=True)


class FakeEncoder:
    """Hashed character bigrams → 256-d unit vectors: deterministic, instant, lexical-ish similarity."""

    dim = 256

    def __init__(self, name: str = "fake-bigrams") -> None:
        self.id = name
        self.calls = 0
        self.passages_encoded = 0

    def _vector(self, text: str) -> np.ndarray:
        vector = np.zeros(self.dim, np.float32)
        text = "".join(text.lower().split())
        for a, b in zip(text, text[1:], strict=False):
            bucket = int.from_bytes(hashlib.blake2b((a + b).encode(), digest_size=4).digest(), "little")
            vector[bucket % self.dim] += 1.0
        norm = np.linalg.norm(vector)
        return vector / norm if norm else vector

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        self.calls += 1
        return np.stack([self._vector(t) for t in texts]) if texts else np.zeros((0, self.dim), np.float32)

    def encode_passages(self, texts: Sequence[str], batch_size: int = 64) -> np.ndarray:
        self.passages_encoded += len(texts)
        return self.encode_queries(texts)


@pytest.fixture(scope="session")
def analyzer() -> Analyzer:
    return Analyzer()


@pytest.fixture()
def fake_encoder() -> FakeEncoder:
    return FakeEncoder()


@pytest.fixture()
def letters_dir(tmp_path: Path) -> Path:
    """A private copy of the two bundled sample letters."""
    folder = tmp_path / "letters"
    folder.mkdir()
    for path in (LETTER_000, LETTER_004):
        shutil.copy(path, folder / path.name)
    return folder


STORES = {"local": Config(), "milvus": Config(dense="milvus")}  # rag build --store local|milvus
both_stores = pytest.mark.parametrize("store_config", list(STORES), indirect=True)  # a test run on each store


@pytest.fixture()
def store_config(request: pytest.FixtureRequest) -> Iterator[Config]:
    """The build settings of a store (``local`` unless a test is marked ``@both_stores``); Milvus Lite's embedded
    server is stopped afterwards, so that no file stays locked for the next test or a child process."""
    name = getattr(request, "param", "local")
    yield STORES[name]
    if name == "milvus":
        from .milvus_helpers import release_all_lite

        release_all_lite()


@pytest.fixture()
def fake_index(letters_dir: Path, tmp_path: Path, fake_encoder: FakeEncoder, analyzer: Analyzer,
               store_config: Config) -> Index:
    """The sample letters indexed with the fake encoder into tmp_path/index (in the test's store)."""
    return Index.build([letters_dir], tmp_path / "index", config=store_config, encoder=fake_encoder,
                       analyzer=analyzer)


@pytest.fixture(scope="session")
def shared_letters() -> Path:
    folder = SHARED / "letters"
    if not folder.is_dir():
        pytest.fail(f"{folder} is missing: the tests read the evaluation letters from ../shared")
    return folder


@pytest.fixture(scope="session")
def use_index(tmp_path_factory: pytest.TempPathFactory, shared_letters: Path, analyzer: Analyzer) -> Index:
    """Every shared letter indexed with the real bundled encoder (built once per session)."""
    return Index.build([shared_letters], tmp_path_factory.mktemp("use") / "index", analyzer=analyzer)


@dataclass
class ChatScript:
    """What the protocol fixture replies, and every request it received."""

    reply: str = ""
    status: int = 200
    sse: bool = True
    chunk_size: int = 7
    delay: float = 0.0  # seconds before each streamed chunk, so a browser can see the draft grow
    slow_when: str = ""  # when set, ``delay`` applies only to requests whose question contains this text
    raw: bytes | None = None  # sent as the whole JSON body instead of a completion (a garbage endpoint)
    requests: list[dict[str, Any]] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)


@pytest.fixture()
def chat_completions_protocol() -> Iterator[tuple[str, ChatScript]]:
    """Protocol fixture: a local HTTP server speaking the OpenAI chat-completions protocol.

    ``POST /v1/chat/completions`` answers ``script.reply``, as server-sent ``data:`` chunks when the
    request says ``"stream": true`` (ending with ``data: [DONE]``), else as one JSON completion.
    Hostile endpoints: ``delay`` trickles the chunks (only for questions containing ``slow_when`` when
    set), a huge ``reply`` floods, ``raw`` answers garbage JSON.
    Yields the base URL (``http://127.0.0.1:PORT/v1``) and the script.
    """
    script = ChatScript()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - the http.server API
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            script.requests.append(body)
            script.headers.append(dict(self.headers))
            if self.path != "/v1/chat/completions" or script.status != 200:
                self.send_response(404 if self.path != "/v1/chat/completions" else script.status)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(json.dumps({"error": {"message": "scripted failure"}}).encode())
                return
            self.send_response(200)
            if script.raw is not None:
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(script.raw)
                return
            if not (body.get("stream") and script.sse):
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                completion = {"choices": [{"index": 0, "message": {"role": "assistant", "content": script.reply},
                                           "finish_reason": "stop"}]}
                self.wfile.write(json.dumps(completion, ensure_ascii=False).encode())
                return
            self.send_header("Content-Type", "text/event-stream")
            self.end_headers()
            text = script.reply
            slow = not script.slow_when or script.slow_when in body["messages"][-1]["content"]
            try:
                for start in range(0, len(text), script.chunk_size):
                    time.sleep(script.delay if slow else 0.0)
                    chunk = {"choices": [{"index": 0, "delta": {"content": text[start:start + script.chunk_size]}}]}
                    self.wfile.write(f"data: {json.dumps(chunk, ensure_ascii=False)}\n\n".encode())
                    self.wfile.flush()
                self.wfile.write(b"data: [DONE]\n\n")
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client stopped reading: a deadline or a size cap

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1", script
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture()
def closed_url() -> str:
    """A local URL where nothing listens."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}/v1"


def kill_when(child: subprocess.Popen[str], ready: Callable[[], None]) -> None:
    """Wait for ``ready()`` (it raises if the moment never comes), then SIGKILL ``child``; it is reaped either way."""
    try:
        ready()
        child.send_signal(signal.SIGKILL)
        assert child.wait(timeout=60) == -signal.SIGKILL
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()


def index_of_texts(tmp_path: Path, analyzer: Analyzer, **letters: str) -> Index:
    """An index (fake encoder, default settings) of letters written in the test: file stem → text."""
    folder = tmp_path / "letters"
    folder.mkdir()
    for stem, text in letters.items():
        (folder / f"{stem}.txt").write_text(text, encoding="utf-8")
    return Index.build([folder], tmp_path / "index", config=Config(), encoder=FakeEncoder(), analyzer=analyzer)
