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

Servers differ: the client reads the server's version once and adapts (:class:`~rag.stores.milvus_server.Server`):
grouping a search's rows by chunk on the server (2.4 on), or (2.3, Milvus Lite) asking for more rows and keeping
each chunk's best one here, with the same results; BM25 fields only where the server has the function (2.5 on).
Searches read at Session consistency (this process's own writes, no wait for the server's time tick); the counts
that check a store against its manifest when it opens, and every read a writer acts on, are Strong. Every call has a
timeout, and every failure is a :class:`~rag.stores.base.StoreUnavailable` naming its cause.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import numpy as np

from .base import Ids, Place, Stats, StoreUnavailable, as_ids
from .milvus_rows import (
    INDEXES,
    NEWEST_PROPERTY,
    ROW_FIELDS,
    RowFacts,
    check_schema,
    collection_property,
    create_collection,
    newest_generation,
    owner_id,
    refuse_without_region,
    reusable,
    vector_index,
)
from .milvus_server import COLLECTION_NAME, STRONG, Server, all_rows, connect, pages, pymilvus_module

SETTINGS_FILE = "milvus.json"
LITE_FILE = "milvus.db"
BATCH = 1_000  # rows per insert/upsert, ids per "in [...]" filter
# Milvus Lite turns its write buffer (128 MiB by default, ~60,000 rows of 512-d) into a segment by making every cell a
# Python object (~17 KB a 512-d row, 1.5 GB at once): flushing it every LITE_FLUSH_ROWS rows bounds that spike
LITE_FLUSH_ROWS = 20_000
MAX_TOPK = 16_384  # Milvus's largest limit for one search
_SHIFT = 32  # a row's primary key: its generation in the high bits, its place in the generation below
_SHARD_SHIFT = 26  # … and in a sharded build, the shard above that place (64 shards of 64 million rows)
ROWS_ASKED = 8  # without server-side grouping: rows asked per chunk wanted (a chunk has ~5.6 rows), then 4× more
READ = {"consistency_level": "Session"}  # searches: this process's writes, no wait for the server's time tick


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
        owner = owner_id(place.directory)
        client = connect(uri, place.token, timeout=place.timeout, token_name=place.token_name)
        server: Server = client.server
        if place.lexical and not server.bm25:
            raise StoreUnavailable(f"--milvus-lexical needs Milvus 2.5 or later (its BM25 function); "
                                   f"{client.where} runs {server.version}: build without --milvus-lexical")
        index = place.index if place.index != "auto" else "flat" if server.lite else "ivf_flat"
        if index == "diskann" and server.lite:
            raise StoreUnavailable("Milvus Lite has no DiskANN index: use --milvus-index hnsw, or a Milvus server")
        if reusable(client, place.collection, owner, uri):
            client.load_collection(place.collection)
            check_schema(client, place.collection, dim, place.lexical)
            newest = newest_generation(client, place.collection)
            index = vector_index(client, place.collection)
        else:
            create_collection(client, pymilvus_module(), place.collection, dim, lexical=place.lexical, owner=owner,
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
        refuse_without_region(client, collection, uri)
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
        return sum(len(page) for page in pages(self._client, self.collection, expression, ["pk"]))

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
        chunks = [row["chunk"] for row in all_rows(self._client, self.collection, self._visible(), ["chunk"])]
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
        revived = [{**row, "retired": 0} for row in all_rows(self._client, self.collection, f"retired > {g}",
                                                               self._stored_fields())]
        for start in range(0, len(revived), BATCH):  # retired by a build that never committed
            self._client.upsert(self.collection, revived[start:start + BATCH])

    def _stored_fields(self) -> list[str]:
        """The fields a row is written with (not ``bm25``: Milvus computes it from ``text``)."""
        return [*ROW_FIELDS, *(("text", "lex") if self.lexical else ())]

    def _check_writable(self) -> None:
        if not self._writable:
            raise RuntimeError("this Milvus store is read-only (committed, or already copied): write to .copy()")


def best_per_chunk(found: Any) -> tuple[Ids, np.ndarray]:
    """A Milvus result list as (chunk ids, scores), each chunk once, at its first (best) row."""
    best: dict[int, float] = {}
    for hit in found:
        best.setdefault(int(hit["entity"]["chunk"]), float(hit["distance"]))
    return as_ids(list(best)), np.asarray(list(best.values()), dtype=np.float32)
