"""The Milvus side of a dense store: connecting (Milvus Lite or a server), what the server's version offers, every
call under a timeout with its failure named, and reading rows a page at a time."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .base import StoreUnavailable

PAGE = 16_384  # rows per page of a query iterator (Milvus's largest)
STRONG = {"consistency_level": "Strong"}  # reads a writer acts on, and the counts checked when a store opens
MIN_SERVER = (2, 3)
COLLECTION_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,254}")  # Milvus's rule for collection names
# pymilvus pings every 10 s, idle or not; Milvus Lite's gRPC server (Python's defaults) allows one ping per 5 minutes
# and drops the connection ("too many pings") after the third: ping at that pace, and only during calls, which
# carry their own timeouts anyway
KEEPALIVE = {"grpc.keepalive_time_ms": 300_000, "grpc.keepalive_permit_without_calls": 0}


@dataclass(frozen=True)
class Server:
    """What the Milvus at the other end can do, from its version (read once per connection)."""

    version: str
    lite: bool  # Milvus Lite (a file, or served): the current feature set, but no DiskANN
    release: tuple[int, ...]

    @classmethod
    def of(cls, version: str) -> Server:
        lite = version.startswith("milvus_lite")
        numbers = tuple(int(n) for n in re.findall(r"\d+", version.split("-")[-1 if lite else 0])[:3])
        return cls(version, lite, numbers)

    @property
    def groups(self) -> bool:
        """Whether ``group_by_field`` gives the best ``limit`` groups: from 2.4 on a server. 2.3 accepts it and
        ignores it; Milvus Lite 3.2 groups only the first ``limit`` rows (one chunk's many rows leave fewer groups)."""
        return not self.lite and self.release >= (2, 4)

    @property
    def bm25(self) -> bool:
        """Whether the server has the BM25 function (``--milvus-lexical``)."""
        return self.lite or self.release >= (2, 5)

    @property
    def scalar_indexes(self) -> tuple[str, str]:
        """The index types for integer and text fields (INVERTED from 2.4; 2.3 has STL_SORT and Trie)."""
        return ("STL_SORT", "Trie") if not self.lite and self.release < (2, 4) else ("INVERTED", "INVERTED")


def pymilvus_module() -> Any:
    try:
        import pymilvus
    except ImportError as exc:
        raise StoreUnavailable("the milvus store needs the [milvus] extra: pip install 'policy-rag[milvus]' "
                               "(pymilvus and milvus-lite)") from exc
    return pymilvus


def connect(uri: str, token: str | None = None, *, timeout: float = 30.0, token_name: str = "") -> Any:
    """A ``MilvusClient`` for ``uri`` (a server URL, or a Milvus Lite ``.db`` path) whose calls time out after
    ``timeout`` seconds and raise :class:`StoreUnavailable` with the cause; its :class:`Server` is ``.server``.

    Raises:
        StoreUnavailable: pymilvus is missing, or the server or file cannot be opened.
    """
    pymilvus = pymilvus_module()
    if uri.endswith(".db"):
        try:
            import milvus_lite  # noqa: F401
        except ImportError as exc:
            raise StoreUnavailable("a local Milvus store needs milvus-lite: pip install 'policy-rag[milvus]'") from exc
    _quiet_client_logs()
    where = f"the Milvus Lite file {uri}" if uri.endswith(".db") else f"the Milvus server at {uri}"
    try:
        client = pymilvus.MilvusClient(uri=uri, token=token or "", timeout=timeout, grpc_options=KEEPALIVE)
        version = str(client.get_server_version(timeout=timeout))
    except Exception as exc:
        if uri.endswith(".db"):
            hint = (" (Milvus Lite serves one process at a time: is the index open in another process, such as the "
                    "web app? Stop it, or use a Milvus server with --milvus-uri)")
        elif token_name:  # pymilvus reports a refused token as a failed connection
            hint = (f" (if it needs authentication: the environment variable {token_name}, named by "
                    f"--milvus-token-env, {'holds a token it refused' if token else 'is not set'})")
        else:
            hint = ""
        raise StoreUnavailable(f"cannot open {where}: {_cause(exc, token_name, timeout)}{hint}") from exc
    server = Server.of(version)
    if not server.lite and server.release[:2] < MIN_SERVER:
        raise StoreUnavailable(f"{where} runs Milvus {version}; policy-rag needs Milvus 2.3 or later")
    return Guarded(client, server, where, token_name, timeout)


class Guarded:
    """A ``MilvusClient`` whose failures are :class:`StoreUnavailable` naming the server and the cause."""

    def __init__(self, client: Any, server: Server, where: str, token_name: str, timeout: float) -> None:
        self.client, self.server, self.where = client, server, where
        self._token_name, self._timeout = token_name, timeout

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self.client, name)
        if not callable(attribute):
            return attribute

        def call(*args: Any, **kwargs: Any) -> Any:
            try:
                return attribute(*args, **kwargs)
            except StoreUnavailable:
                raise
            except Exception as exc:
                raise StoreUnavailable(f"{self.where} refused {name}: "
                                       f"{_cause(exc, self._token_name, self._timeout)}") from exc

        return call

    def guard(self, step: str, action: Callable[[], Any]) -> Any:
        """``action()``, its failure a :class:`StoreUnavailable` (for objects the client hands out: iterators)."""
        try:
            return action()
        except StoreUnavailable:
            raise
        except Exception as exc:
            raise StoreUnavailable(f"{self.where} refused {step}: "
                                   f"{_cause(exc, self._token_name, self._timeout)}") from exc


def _cause(exc: Exception, token_name: str, timeout: float) -> str:
    """What went wrong, in words: the server's message, and the fix where it is known."""
    message = str(getattr(exc, "message", "") or getattr(exc, "details", lambda: "")() or exc).strip()
    message = message.replace("\n", " ")[:400] or exc.__class__.__name__
    lowered = message.lower()
    if any(word in lowered for word in ("auth", "credential", "permission", "token", "unauthenticated")):
        where = f"the environment variable {token_name}" if token_name else "the store token"
        return f"{message} (authentication: check the token in {where}, given by --milvus-token-env)"
    if "database" in lowered and ("not" in lowered or "exist" in lowered):
        return f"{message} (the database in the URI's path does not exist on this server)"
    if "deadline" in lowered or "timeout" in lowered or "timed out" in lowered:
        return f"no answer in {timeout:g} s ({message}); raise it with Config.milvus_timeout"
    if "collection name" in lowered:
        return f"{message} (--collection takes letters, digits and underscores, and starts with a letter or _)"
    return message


class _DropMvccWarning(logging.Filter):
    """Milvus Lite has no server-side session timestamp, so every query iterator warns; the fallback is fine."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "mvccTs" not in record.getMessage()


class _DropRaised(logging.Filter):
    """pymilvus logs each failed call with its traceback before raising it; the raised error says it once."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno < logging.ERROR


def _quiet_client_logs() -> None:
    for name, kind in (("pymilvus.client.iterator.query_iterator", _DropMvccWarning),
                       ("pymilvus.decorators", _DropRaised), ("pymilvus.milvus_client.milvus_client", _DropRaised),
                       ("pymilvus.client.grpc_handler", _DropRaised)):
        logger = logging.getLogger(name)
        if not any(isinstance(f, kind) for f in logger.filters):
            logger.addFilter(kind())


def release_lite(path: Path) -> None:
    """Stop this process's embedded Milvus Lite server for ``path`` and release its file lock (tests, tools)."""
    from milvus_lite.server_manager import server_manager_instance

    server_manager_instance.release_server(str(path))


def all_rows(client: Any, name: str, expression: str, fields: list[str]) -> list[dict[str, Any]]:
    """Every row meeting ``expression``, ``fields`` only (read a page at a time)."""
    return [row for page in pages(client, name, expression, fields) for row in page]


def pages(client: Any, name: str, expression: str, fields: list[str]) -> Iterator[list[dict[str, Any]]]:
    """The rows meeting ``expression``, ``fields`` only, a page at a time (one page in memory)."""
    guard = client.guard if isinstance(client, Guarded) else (lambda step, action: action())
    lite = getattr(client, "server", Server.of("milvus_lite")).lite  # Lite reads strongly anyway, and its
    # iterator asks a server for a timestamp it cannot allocate (logging an error) when a level is named
    iterator = client.query_iterator(name, batch_size=PAGE, filter=expression, output_fields=fields,
                                     **({} if lite else STRONG))
    try:
        while page := guard("a query page", iterator.next):
            yield page
    finally:
        iterator.close()


__all__ = ["COLLECTION_NAME", "KEEPALIVE", "MIN_SERVER", "PAGE", "STRONG", "Guarded", "Server", "all_rows", "connect",
           "pages", "pymilvus_module", "release_lite"]
