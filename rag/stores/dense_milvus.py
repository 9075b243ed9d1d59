"""Dense search in Milvus, through one ``pymilvus`` client: Milvus Lite (a local file) or a Milvus server.

A remote collection cannot be copied, so the copy-on-write of :class:`~rag.stores.base.DenseStore` is done with
generations. Every row carries ``born``, the generation that added it, and ``retired``, the one that removed it
(0: still there). A store object reads one generation ``g``: the rows with ``low <= born <= g`` and not retired
by ``g``. :meth:`MilvusDenseStore.copy` returns a view that writes generation ``g + 1`` (new rows are born
there, removed rows are marked retired there), which readers of ``g`` do not see. ``save`` writes
``milvus.json`` (where the collection is, and ``low`` and ``g``) into the generation folder, so the index
manifest's atomic switch is also the commit of the Milvus rows. A build killed before that switch leaves rows of
a generation no manifest names: invisible to readers, and removed by the next writer's :meth:`copy` of the
committed store (which also deletes rows retired by a committed generation, and rows from before a rebuild).

Servers differ: the client reads the server's version once and adapts (:class:`Server`): grouping a search's rows by
chunk on the server (2.4 on), or (2.3, Milvus Lite) asking for more rows and keeping each chunk's best one here,
with the same results; BM25 fields only where the server has the function (2.5 on). Searches read at Session
consistency (this process's own writes, no wait for the server's time tick); the counts that check a store against
its manifest when it opens, and every read a writer acts on, are Strong. Every call has a timeout, and every failure
is a :class:`~rag.stores.base.StoreUnavailable` naming its cause.
"""

from __future__ import annotations

import json
import logging
import re
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import numpy as np

from .base import Ids, Place, Stats, StoreUnavailable, as_ids
from .milvus_rows import (
    NEWEST_PROPERTY,
    RowFacts,
    check_owner,
    check_schema,
    collection_property,
    create_collection,
)

SETTINGS_FILE = "milvus.json"
LITE_FILE = "milvus.db"
OWNER_FILE = "milvus-owner.txt"  # beside the manifest: the id the collection records as its index's
BATCH = 1_000  # rows per insert/upsert, ids per "in [...]" filter
# Milvus Lite turns its write buffer (128 MiB by default, ~60,000 rows of 512-d) into a segment by making every cell a
# Python object (~17 KB a 512-d row, 1.5 GB at once): flushing it every LITE_FLUSH_ROWS rows bounds that spike
LITE_FLUSH_ROWS = 20_000
MAX_TOPK = 16_384  # Milvus's largest limit for one search
PAGE = 16_384  # rows per page of a query iterator (Milvus's largest)
_SHIFT = 32  # a row's primary key: its generation in the high bits, its place in the generation below
_SHARD_SHIFT = 26  # … and in a sharded build, the shard above that place (64 shards of 64 million rows)
ROWS_ASKED = 8  # without server-side grouping: rows asked per chunk wanted (a chunk has ~5.6 rows), then 4× more
STRONG = {"consistency_level": "Strong"}  # reads a writer acts on, and the counts checked when a store opens
READ = {"consistency_level": "Session"}  # searches: this process's writes, no wait for the server's time tick
# the index each Config.milvus_index names, its build parameters, and its search parameter's name and default
INDEXES: dict[str, tuple[str, dict[str, int], str, int]] = {
    "ivf_flat": ("IVF_FLAT", {"nlist": 1024}, "nprobe", 32),
    "hnsw": ("HNSW", {"M": 16, "efConstruction": 200}, "ef", 128),
    "ivf_sq8": ("IVF_SQ8", {"nlist": 1024}, "nprobe", 32),
    "diskann": ("DISKANN", {}, "search_list", 100),
    "flat": ("FLAT", {}, "", 0),
}
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


def _pymilvus() -> Any:
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
    pymilvus = _pymilvus()
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


class MilvusDenseStore:
    """Vectors in a Milvus collection, read at one generation; updates go into the next one.

    A store read from an index (or just saved) is committed and read-only: :meth:`copy` gives the writable view
    of the next generation. A view is writable until it is copied or saved. Writers must hold the index's build
    lock, as :class:`~rag.index.Index` does.

    Example:
        >>> store = MilvusDenseStore.create(4, Place(directory=Path("index")))  # index/milvus.db
        >>> view = store.copy()
        >>> view.add(as_ids([7, 7]), np.eye(4, dtype=np.float32)[:2])
        >>> view.search(np.eye(4, dtype=np.float32)[1], k=5)[0].tolist(), store.ids().tolist()
        ([7], [])
    """

    backend = "milvus"

    def __init__(self, dim: int, client: Any, collection: str, location: str, *, lite: bool, low: int,
                 generation: int, committed: bool, lexical: bool = False, owner: str = "", index: str = "hnsw",
                 search_width: int = 0) -> None:
        self.dim = dim
        self.collection = collection
        self.low = low
        self.generation = generation
        self.lexical = lexical  # the rows also carry text, Milvus BM25 and policy-rag sparse terms
        self.owner = owner
        self._client = client
        self._location = location  # a server's URL, or the Lite file's absolute path
        self._lite = lite
        self._committed = committed
        self._writable = not committed
        self._added = 0
        self._unflushed = 0  # rows inserted since this view last flushed Milvus Lite
        self.index = index  # the vector index the collection was made with (Config.milvus_index)
        self.search_width = search_width
        self.server: Server = getattr(client, "server", Server.of("milvus_lite"))

    def _view(self, low: int, generation: int) -> MilvusDenseStore:
        """An uncommitted view of the same collection reading ``low … generation``."""
        return MilvusDenseStore(self.dim, self._client, self.collection, self._location, lite=self._lite, low=low,
                                generation=generation, committed=False, lexical=self.lexical, owner=self.owner,
                                index=self.index, search_width=self.search_width)

    # ---- opening -------------------------------------------------------------------------------------

    @classmethod
    def create(cls, dim: int, place: Place) -> MilvusDenseStore:
        """An empty store over ``place``'s collection (made if missing; rows already in it stay hidden).

        Raises:
            StoreUnavailable: no index folder for a Lite file, pymilvus missing, or Milvus unreachable.
        """
        if place.uri is None and place.directory is None:
            raise StoreUnavailable("a Milvus Lite store lives in the index folder: give the index a directory, "
                                   "or a server with --milvus-uri")
        if place.uri and urlparse(place.uri).password:
            raise StoreUnavailable("the Milvus URI must not hold a password (the index records its URI): "
                                   "pass the credentials as the store token")
        if not COLLECTION_NAME.fullmatch(place.collection):  # Milvus Lite would take any name; servers refuse
            raise StoreUnavailable(f"the Milvus collection name {place.collection!r} is not one Milvus takes: "
                                   "--collection takes letters, digits and underscores (at most 255), and starts "
                                   "with a letter or an underscore")
        if place.index not in ("auto", *INDEXES):
            raise StoreUnavailable(f"unknown Milvus index {place.index!r}: auto or one of {', '.join(INDEXES)}")
        uri = place.uri or str(Path(place.directory or ".").resolve() / LITE_FILE)
        if place.uri is None:
            Path(uri).parent.mkdir(parents=True, exist_ok=True)
        owner = _owner_id(place.directory)
        client = connect(uri, place.token, timeout=place.timeout, token_name=place.token_name)
        server: Server = client.server
        if place.lexical and not server.bm25:
            raise StoreUnavailable(f"--milvus-lexical needs Milvus 2.5 or later (its BM25 function); "
                                   f"{client.where} runs {server.version}: build without --milvus-lexical")
        index = place.index if place.index != "auto" else "flat" if server.lite else "ivf_flat"
        if index == "diskann" and server.lite:
            raise StoreUnavailable("Milvus Lite has no DiskANN index: use --milvus-index hnsw, or a Milvus server")
        if client.has_collection(place.collection):
            check_owner(client, place.collection, owner, uri)
            client.load_collection(place.collection)
            check_schema(client, place.collection, dim, place.lexical)
            newest = _newest_generation(client, place.collection)
            index = _vector_index(client, place.collection)
        else:
            create_collection(client, _pymilvus(), place.collection, dim, lexical=place.lexical, owner=owner,
                              index=INDEXES[index][:2], scalar=server.scalar_indexes)
            client.load_collection(place.collection)
            newest = 0
        # nothing is born at newest + 1 yet: the store starts empty, and writable
        return cls(dim, client, place.collection, uri, lite=place.uri is None, low=newest + 1,
                   generation=newest + 1, committed=False, lexical=place.lexical, owner=owner, index=index,
                   search_width=place.search_width)

    @classmethod
    def load(cls, folder: Path, dim: int, place: Place | None = None) -> MilvusDenseStore:
        """The committed store a generation folder names (``folder/milvus.json``), read-only.

        The folder is data: the server it names is opened only when it is the one the user gave
        (``place.uri``, from ``--milvus-uri``), and Milvus Lite only in the index folder's own ``milvus.db``.

        Raises:
            StoreUnavailable: the folder names another server than the user's, or the server fails.
        """
        place = place or Place()
        settings = json.loads((folder / SETTINGS_FILE).read_text(encoding="utf-8"))
        if not isinstance(settings, dict) or settings.get("dim") != dim:
            raise ValueError(f"{folder / SETTINGS_FILE} does not hold {dim}-d vectors")
        recorded = settings.get("uri")
        directory = folder.resolve().parent.parent  # DIR/gen-…/dense
        lite = str(directory / LITE_FILE)
        if place.uri is not None or (recorded is not None and "://" in str(recorded)):
            if recorded != place.uri:
                raise StoreUnavailable(
                    f"{directory} names the Milvus server {recorded}, not the one given ({place.uri}): open it "
                    f"with --milvus-uri {recorded} if you trust it" if recorded else
                    f"{directory} keeps its vectors in Milvus Lite in the index folder: open it without --milvus-uri")
        elif recorded not in (None, lite):
            raise StoreUnavailable(f"{folder / SETTINGS_FILE} names a Milvus Lite file outside the index folder "
                                   f"({recorded}): refused")
        uri = place.uri or lite
        if place.uri is None and not Path(uri).exists():
            raise ValueError(f"the Milvus Lite file {uri} is missing")
        client = connect(uri, place.token, timeout=place.timeout, token_name=place.token_name)
        collection = str(settings.get("collection"))
        if not client.has_collection(collection):
            raise ValueError(f"the Milvus collection {collection!r} at {uri} is missing")
        client.load_collection(collection)
        return cls(dim, client, collection, uri, lite=uri.endswith(".db"), low=int(settings["low"]),
                   generation=int(settings["generation"]), committed=True, lexical=bool(settings.get("lexical")),
                   owner=str(settings.get("owner", "")), index=str(settings.get("index", "flat")),
                   search_width=place.search_width)

    # ---- the protocol --------------------------------------------------------------------------------

    def _visible(self) -> str:
        g = self.generation
        return f"born >= {self.low} and born <= {g} and (retired == 0 or retired > {g})"

    def __len__(self) -> int:
        # every row less the hidden ones (a build's retirements, a killed build's rows: few), because Milvus Lite
        # counts the whole collection without reading rows, but reads every row a filter matches (see _count)
        everything = self._client.query(self.collection, filter="", output_fields=["count(*)"], **STRONG)
        return int(everything[0]["count(*)"]) - self._count(f"not ({self._visible()})")

    def _count(self, expression: str) -> int:
        """The rows meeting ``expression``. Milvus Lite answers ``count(*)`` over a filter by making every matching
        row a Python dict, its vector a list of floats (~17 KB a 512-d row: 9 GB at 564,467 rows), so there the
        primary keys are counted a page at a time."""
        if not self._lite:
            rows = self._client.query(self.collection, filter=expression, output_fields=["count(*)"], **STRONG)
            return int(rows[0]["count(*)"])
        return sum(len(page) for page in _pages(self._client, self.collection, expression, ["pk"]))

    def add(self, ids: Ids, vectors: np.ndarray, facts: Sequence[RowFacts] | None = None) -> None:
        """Add rows; ``facts`` (one per row: the letter's id, agency, date…) make filters scalar expressions."""
        self._check_writable()
        ids = as_ids(ids)
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        known = list(facts) if facts is not None else [RowFacts("", "", 0)] * len(ids)
        if len(known) != len(ids):
            raise ValueError(f"{len(known)} row facts for {len(ids)} ids")
        for start in range(0, len(ids), BATCH):
            rows = [{"pk": (self.generation << _SHIFT) + self._added + i, "chunk": int(chunk),
                     "born": self.generation, "retired": 0, "vector": vector.tolist(), **fact.fields(self.lexical)}
                    for i, (chunk, vector, fact) in enumerate(zip(ids[start:start + BATCH],
                                                                  vectors[start:start + BATCH],
                                                                  known[start:start + BATCH], strict=True))]
            self._client.insert(self.collection, rows)
            self._added += len(rows)
            self._unflushed += len(rows)
            if self._lite and self._unflushed >= LITE_FLUSH_ROWS:
                self._client.flush(self.collection)
                self._unflushed = 0

    def remove(self, ids: Ids) -> None:
        self._check_writable()
        ids = as_ids(ids)
        for start in range(0, len(ids), BATCH):
            wanted = f"({self._visible()}) and chunk in {ids[start:start + BATCH].tolist()}"
            rows = self._client.query(self.collection, filter=wanted, output_fields=self._stored_fields(), **STRONG)
            ours = [row["pk"] for row in rows if row["born"] == self.generation]
            if ours:  # added by this uncommitted view: nobody else can see them
                self._client.delete(self.collection, ids=ours)
            older = [{**row, "retired": self.generation} for row in rows if row["born"] != self.generation]
            for at in range(0, len(older), BATCH):
                self._client.upsert(self.collection, older[at:at + BATCH])

    def search(self, query: np.ndarray, k: int, allowed: Ids | None = None,
               where: str | None = None) -> tuple[Ids, np.ndarray]:
        """The ``k`` best chunks; ``where`` (a Milvus expression over the row facts, see
        :func:`rag.retrieve.filters.milvus_expression`) filters like ``allowed`` without listing ids."""
        expression = self.where(where)
        if allowed is not None:
            allowed = as_ids(allowed)
            if not len(allowed):
                return as_ids([]), np.zeros(0, np.float32)
            expression += f" and chunk in {allowed.tolist()}"
        if k < 1:
            return as_ids([]), np.zeros(0, np.float32)
        vector = [np.asarray(query, np.float32).reshape(-1).tolist()]
        if self.server.groups:
            limit = min(k, MAX_TOPK)
            return best_per_chunk(self._client.search(
                self.collection, data=vector, limit=limit, filter=expression, output_fields=["chunk"],
                group_by_field="chunk", search_params=self.search_params(limit), **READ)[0])
        # rows come best first: each chunk's best row among the top rows ranks it as grouping would, once at
        # least k chunks are in (a chunk missing from them scores below every one that is)
        limit = min(k * ROWS_ASKED, MAX_TOPK)
        while True:
            rows = self._client.search(self.collection, data=vector, limit=limit, filter=expression,
                                       output_fields=["chunk"], search_params=self.search_params(limit), **READ)[0]
            ids, scores = best_per_chunk(rows)
            if len(ids) >= k or len(rows) < limit or limit == MAX_TOPK:
                return ids[:k], scores[:k]
            limit = min(limit * 4, MAX_TOPK)

    def search_params(self, limit: int) -> dict[str, Any]:
        """The metric and the index's search breadth for ``limit`` rows (HNSW's ef is at least the limit)."""
        _, _, name, default = INDEXES.get(self.index, INDEXES["flat"])
        if not name:
            return {"metric_type": "IP"}
        width = self.search_width or default
        return {"metric_type": "IP", "params": {name: max(width, limit) if name != "nprobe" else width}}

    def where(self, condition: str | None = None) -> str:
        """The expression selecting this store's rows (and, given, those meeting ``condition``)."""
        return self._visible() + (f" and ({condition})" if condition else "")

    @property
    def client(self) -> Any:
        """The ``MilvusClient`` (for searches over the lexical fields, :mod:`rag.retrieve.milvus_side`)."""
        return self._client

    def holds(self, keys: Ids) -> bool:
        """Whether the rows' chunk ids look like exactly ``keys`` (sorted, distinct), without reading every row:
        no row outside ``keys``'s range, and an even sample of 64 keys all present (the count is checked apart)."""
        keys = as_ids(keys)
        if not len(keys):
            return len(self) == 0
        outside = self._count(self.where(f"chunk < {int(keys[0])} or chunk > {int(keys[-1])}"))
        sample = np.unique(keys[np.linspace(0, len(keys) - 1, num=min(64, len(keys))).astype(np.int64)])
        rows = self._client.query(self.collection, filter=self.where(f"chunk in {sample.tolist()}"),
                                  output_fields=["chunk"], **STRONG)
        return outside == 0 and {int(r["chunk"]) for r in rows} == set(sample.tolist())

    def ids(self) -> Ids:
        chunks = [row["chunk"] for row in _all_rows(self._client, self.collection, self._visible(), ["chunk"])]
        return np.unique(as_ids(chunks))

    def copy(self) -> MilvusDenseStore:
        """The writable view of the next generation (a committed store first clears what killed writers left)."""
        if self._committed:
            self._clean_up()
        self._writable = False  # its rows are now the copy's starting point
        self._claim(self.generation + 1)
        return self._view(self.low, self.generation + 1)

    def pending(self, shard: int = 0) -> MilvusDenseStore:
        """The writable view of the next generation *without* the clean-up of :meth:`copy`: the view several
        ``rag build --shard`` processes write into at once (each its own primary keys), and their commit adopts."""
        low, generation = self.low, self.generation + 1
        if not self._committed:  # a new index: generation 1, in a collection holding nothing else
            low = generation = 1
            if self._count("born != 1 or retired != 0"):
                raise StoreUnavailable(f"the Milvus collection {self.collection!r} holds rows of earlier builds: a "
                                       "sharded build of a new index needs an empty collection (drop it, or use "
                                       "another --collection)")
        self._claim(generation)
        view = self._view(low, generation)
        view._added = shard << _SHARD_SHIFT
        return view

    def drop_new(self, ids: Ids) -> None:
        """Delete this view's own new rows under ``ids`` (what a killed run of the same shard left)."""
        self._check_writable()
        ids = as_ids(ids)
        for start in range(0, len(ids), BATCH):
            self._client.delete(self.collection, filter=f"born == {self.generation} and "
                                                        f"chunk in {ids[start:start + BATCH].tolist()}")

    def new_rows(self) -> int:
        """How many rows are born in this view's generation (added by it, or by the shards it adopts)."""
        return self._count(f"born == {self.generation}")

    def save(self, folder: Path) -> None:
        """Commit: record the collection and generation in ``folder`` (the manifest switch makes it current).

        A server keeps every acknowledged write in its log, so only Milvus Lite, which keeps unflushed rows in
        memory, is flushed here (a server's flush is rate-limited from 2.4 and would seal tiny segments).
        """
        if self._lite:
            self._client.flush(self.collection)
        uri: str | None = self._location
        if self._lite and folder.resolve().parent.parent == Path(self._location).parent:
            uri = None  # the Lite file beside the manifest: the index folder can be moved
        settings = {"uri": uri, "collection": self.collection, "low": self.low, "generation": self.generation,
                    "dim": self.dim, "lexical": self.lexical, "owner": self.owner, "index": self.index}
        (folder / SETTINGS_FILE).write_text(json.dumps(settings, indent=1), encoding="utf-8")
        self._committed, self._writable = True, False

    def stats(self) -> Stats:
        return {"backend": self.backend, "vectors": len(self), "dim": self.dim, "collection": self.collection,
                "uri": LITE_FILE if self._lite else self._location, "generation": self.generation, "low": self.low,
                "owner": self.owner, "index": self.index, "server": self.server.version}

    # ---- generations ---------------------------------------------------------------------------------

    def _claim(self, generation: int) -> None:
        """Record ``generation`` as the newest one writing rows, before any is written: the next rebuild reads it
        there instead of scanning every row for the highest generation."""
        if int(collection_property(self._client, self.collection, NEWEST_PROPERTY) or 0) < generation:
            self._client.alter_collection_properties(self.collection, properties={NEWEST_PROPERTY: str(generation)})

    def _clean_up(self) -> None:
        """Drop rows no committed reader needs: a killed build's, retired ones, those from before a rebuild."""
        g = self.generation
        self._client.delete(self.collection, filter=f"born > {g} or born < {self.low} or "
                                                    f"(retired > 0 and retired <= {g})")
        revived = [{**row, "retired": 0} for row in _all_rows(self._client, self.collection, f"retired > {g}",
                                                               self._stored_fields())]
        for start in range(0, len(revived), BATCH):  # retired by a build that never committed
            self._client.upsert(self.collection, revived[start:start + BATCH])

    def _stored_fields(self) -> list[str]:
        """The fields a row is written with (not ``bm25``: Milvus computes it from ``text``)."""
        lexical = ["text", "lex"] if self.lexical else []
        return ["pk", "chunk", "born", "retired", "letter", "agency", "day", "vector", *lexical]

    def _check_writable(self) -> None:
        if not self._writable:
            raise RuntimeError("this Milvus store is read-only (committed, or already copied): write to .copy()")


def best_per_chunk(found: Any) -> tuple[Ids, np.ndarray]:
    """A Milvus result list as (chunk ids, scores), each chunk once, at its first (best) row."""
    best: dict[int, float] = {}
    for hit in found:
        best.setdefault(int(hit["entity"]["chunk"]), float(hit["distance"]))
    return as_ids(list(best)), np.asarray(list(best.values()), dtype=np.float32)


def _owner_id(directory: Path | None) -> str:
    """This index's id, kept beside its manifest from the first build on (an index in memory gets a new one)."""
    if directory is None:
        return uuid.uuid4().hex
    path = Path(directory) / OWNER_FILE
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(uuid.uuid4().hex + "\n", encoding="utf-8")
    return path.read_text(encoding="utf-8").strip()


def _vector_index(client: Any, name: str) -> str:
    """The ``INDEXES`` name of the collection's vector index (what its searches take)."""
    try:
        described = client.describe_index(name, "vector")
    except StoreUnavailable:
        return "flat"
    kind = str((described or {}).get("index_type", "FLAT")).upper()
    return next((key for key, (made, *_) in INDEXES.items() if made == kind), "flat")


def _newest_generation(client: Any, name: str) -> int:
    """The highest generation any row was born or retired in: recorded in the collection (:meth:`_claim`), or for
    a collection made before that was recorded, found by a scan."""
    recorded = collection_property(client, name, NEWEST_PROPERTY)
    if recorded is not None:
        return int(recorded)
    pages = _pages(client, name, "born >= 0", ["born", "retired"])
    return max((max(int(row["born"]), int(row["retired"])) for page in pages for row in page), default=0)


def _all_rows(client: Any, name: str, expression: str, fields: list[str]) -> list[dict[str, Any]]:
    return [row for page in _pages(client, name, expression, fields) for row in page]


def _pages(client: Any, name: str, expression: str, fields: list[str]) -> Iterator[list[dict[str, Any]]]:
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
