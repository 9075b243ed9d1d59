"""What a Milvus row carries besides its vector: the letter's id, agency, date and region (for filters), and optionally
the chunk's text (Milvus's BM25 with jieba) and policy-rag's own BM25 terms as a sparse vector.

The dense store (:mod:`rag.stores.dense_milvus`) keeps one row per vector (a chunk and each of its sentences); every
row of a chunk carries that chunk's facts. The lexical fields exist only in a collection made with them
(``Config.milvus_lexical``): they are there to measure the lexical side in Milvus against policy-rag's own. The
collection's schema is made here, and checked here when an index opens a collection that already exists; so are
what a collection records besides its rows (its owner, its vector index, the newest generation).
"""

from __future__ import annotations

import hashlib
import math
import uuid
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..chunk import Chunk
from ..parse import Letter, Region
from ..retrieve.filters import MAX_FIELD_CHARS, REGION_FIELDS, day_number, field_text
from .base import OutdatedStore, StoreUnavailable
from .milvus_server import pages

BM25_K1, BM25_B = 1.5, 0.75  # bm25s's defaults (its "lucene" variant), so the sparse side ranks as the local one
MAX_TEXT_CHARS = 8_000  # a chunk's text in Milvus (chunks are ~360 characters, a heading included)
_EMPTY = {0: 1e-9}  # Milvus refuses an empty sparse vector; term indices start at 1, so this one matches nothing
# the fields a row is written with besides the lexical ones (not ``bm25``: Milvus computes it from ``text``)
ROW_FIELDS = ("pk", "chunk", "born", "retired", "letter", "agency", "day", *REGION_FIELDS, "vector")


OWNER_FILE = "milvus-owner.txt"  # beside the manifest: the id the collection records as its index's
# the index each Config.milvus_index names, its build parameters, and its search parameter's name and default
INDEXES: dict[str, tuple[str, dict[str, int], str, int]] = {
    "ivf_flat": ("IVF_FLAT", {"nlist": 1024}, "nprobe", 32),
    "hnsw": ("HNSW", {"M": 16, "efConstruction": 200}, "ef", 128),
    "ivf_sq8": ("IVF_SQ8", {"nlist": 1024}, "nprobe", 32),
    "diskann": ("DISKANN", {}, "search_list", 100),
    "flat": ("FLAT", {}, "", 0),
}


@dataclass(frozen=True)
class RowFacts:
    """The scalar fields of one chunk's rows (and its lexical fields, used only when the collection has them)."""

    letter: str
    agency: str
    day: int
    text: str = ""
    terms: Mapping[int, float] | None = None
    region: Region = Region()

    @classmethod
    def of(cls, chunk: Chunk, letter: Letter, terms: Mapping[int, float] | None = None) -> RowFacts:
        return cls(letter.letter_id, letter.agency or "", day_number(letter.date),
                   chunk.text[:MAX_TEXT_CHARS], terms, letter.region)

    def fields(self, lexical: bool) -> dict[str, Any]:
        levels = self.region.as_json()  # province, city, county
        row: dict[str, Any] = {"letter": field_text(self.letter), "agency": field_text(self.agency), "day": self.day,
                               **{name: field_text(levels[name] or "") for name in REGION_FIELDS}}
        if lexical:
            row.update(text=self.text, lex=dict(self.terms or {}) or _EMPTY)
        return row


def term_index(token: str) -> int:
    """A token's index in policy-rag's sparse vectors (1 … 2^31-1; 0 is the empty vector's)."""
    return 1 + int.from_bytes(hashlib.blake2b(token.encode("utf-8"), digest_size=4).digest(), "little") % (2**31 - 2)


def document_terms(token_lists: Sequence[Sequence[str]]) -> list[dict[int, float]]:
    """BM25's document side of each token list: ``tf / (tf + k1 (1 - b + b dl / avgdl))``, ``avgdl`` over these lists.

    (The query side brings the IDF.) ``avgdl`` is that of the lists given, i.e. of the build that adds them:
    exact for a fresh build, an approximation for letters added later.
    """
    lengths = [len(tokens) for tokens in token_lists]
    average = (sum(lengths) / len(lengths)) if lengths and sum(lengths) else 1.0
    vectors = []
    for tokens, length in zip(token_lists, lengths, strict=True):
        norm = BM25_K1 * (1 - BM25_B + BM25_B * length / average)
        vectors.append({term_index(t): tf / (tf + norm) for t, tf in Counter(tokens).items() if t})
    return vectors


def query_terms(weights: Mapping[str, float], documents: int, frequency: Any) -> dict[int, float]:
    """BM25's query side: each token's IDF (bm25s's ``log(1 + (N - df + 0.5) / (df + 0.5))``) times its weight."""
    terms: dict[int, float] = {}
    for token, weight in weights.items():
        df = int(frequency(token))
        if token and df and weight > 0:
            key = term_index(token)
            terms[key] = terms.get(key, 0.0) + weight * math.log(1 + (documents - df + 0.5) / (df + 0.5))
    return terms


def chunk_facts(owners: Sequence[int], chunks: Mapping[int, Chunk], letters: Mapping[str, Letter],
                tokens: Mapping[int, Sequence[str]] | None = None) -> list[RowFacts]:
    """The facts of each row to add: ``owners`` gives each row's chunk id."""
    terms = dict(zip(tokens, document_terms(list(tokens.values())), strict=True)) if tokens is not None else {}
    made: dict[int, RowFacts] = {}
    for key in set(owners):
        chunk = chunks[key]
        made[key] = RowFacts.of(chunk, letters[chunk.letter_id], terms.get(key))
    return [made[key] for key in owners]


def create_collection(client: Any, pymilvus: Any, name: str, dim: int, *, lexical: bool, owner: str,
                      index: tuple[str, dict[str, int]] = ("FLAT", {}),
                      scalar: tuple[str, str] = ("INVERTED", "INVERTED")) -> None:
    """A collection of rows: pk, chunk, born, retired, letter, agency, day, province, city, county, vector (and
    text, bm25, lex).

    Args:
        index: the vector index's type and build parameters (inner product).
        scalar: the index types for the integer and the text fields every search filters on (generations,
            chunk, date; letter, agency, the region's levels), so that a filter does not read every row.
    """
    types = pymilvus.DataType
    schema = client.create_schema(auto_id=False)
    schema.add_field("pk", types.INT64, is_primary=True)
    for field in ("chunk", "born", "retired", "day"):
        schema.add_field(field, types.INT64)
    schema.add_field("letter", types.VARCHAR, max_length=MAX_FIELD_CHARS * 4)  # bytes: 4 per character at most
    schema.add_field("agency", types.VARCHAR, max_length=MAX_FIELD_CHARS * 4)
    for field in REGION_FIELDS:
        schema.add_field(field, types.VARCHAR, max_length=MAX_FIELD_CHARS * 4)
    schema.add_field("vector", types.FLOAT_VECTOR, dim=dim)
    indexes = client.prepare_index_params()
    indexes.add_index(field_name="vector", index_type=index[0], metric_type="IP", params=dict(index[1]))
    for field in ("chunk", "born", "retired", "day"):
        indexes.add_index(field_name=field, index_type=scalar[0])
    for field in ("letter", "agency", *REGION_FIELDS):
        indexes.add_index(field_name=field, index_type=scalar[1])
    if lexical:
        schema.add_field("text", types.VARCHAR, max_length=MAX_TEXT_CHARS * 4, enable_analyzer=True,
                         analyzer_params={"tokenizer": "jieba"})
        schema.add_field("bm25", types.SPARSE_FLOAT_VECTOR)
        schema.add_field("lex", types.SPARSE_FLOAT_VECTOR)
        schema.add_function(pymilvus.Function(name="text_bm25", function_type=pymilvus.FunctionType.BM25,
                                              input_field_names=["text"], output_field_names=["bm25"]))
        indexes.add_index(field_name="bm25", index_type="SPARSE_INVERTED_INDEX", metric_type="BM25")
        indexes.add_index(field_name="lex", index_type="SPARSE_INVERTED_INDEX", metric_type="IP")
    # readers ask for Session (their own writes) and writers for Strong, call by call: this is the fallback
    client.create_collection(name, schema=schema, index_params=indexes, consistency_level="Session",
                             properties={OWNER_PROPERTY: owner})


OWNER_PROPERTY = "policy_rag.index"
NEWEST_PROPERTY = "policy_rag.newest"  # the highest generation any writer has claimed (rows born or retired)


def collection_fields(client: Any, name: str) -> dict[str, dict[str, Any]]:
    """The collection's fields by name (as ``describe_collection`` gives them)."""
    return {field["name"]: field for field in client.describe_collection(name).get("fields", [])}


def collection_property(client: Any, name: str, key: str) -> str | None:
    """A property recorded in the collection (None: not recorded)."""
    properties = client.describe_collection(name).get("properties", {}) or {}
    value = properties.get(key)
    return None if value is None else str(value)


def collection_owner(client: Any, name: str) -> str | None:
    """The index id recorded in the collection when it was made (None: made by another program)."""
    return collection_property(client, name, OWNER_PROPERTY)


def check_owner(client: Any, name: str, owner: str, uri: str) -> None:
    """Refuse a collection another index made (two indexes' generations would overwrite each other)."""
    recorded = collection_owner(client, name)
    if recorded != owner:
        whose = f"another index (id {recorded})" if recorded else "another program or policy-rag version"
        raise StoreUnavailable(f"the Milvus collection {name!r} at {uri} belongs to {whose}, not to this index "
                               f"(id {owner}): give this index its own --collection, or drop that collection "
                               "if nothing uses it any more")


def check_schema(client: Any, name: str, dim: int, lexical: bool) -> None:
    """Refuse a collection whose vectors or fields do not fit this index."""
    fields = collection_fields(client, name)
    vector = fields.get("vector", {})
    if int(vector.get("params", {}).get("dim", dim)) != dim:
        raise ValueError(f"the Milvus collection {name!r} holds {vector['params']['dim']}-d vectors, not {dim}-d: "
                         "use another --collection")
    wanted = {"letter", "agency", "day", *REGION_FIELDS, *(("text", "lex") if lexical else ())}
    if not wanted <= set(fields):
        raise ValueError(f"the Milvus collection {name!r} lacks the fields {sorted(wanted - set(fields))} this "
                         "index needs: use another --collection")


def lacks_region(client: Any, name: str) -> bool:
    """Whether the collection was made before rows carried their letter's region (it cannot filter by region)."""
    return not set(REGION_FIELDS) <= set(collection_fields(client, name))


def reusable(client: Any, name: str, owner: str, uri: str) -> bool:
    """Whether this index can go on writing into the collection ``name``: False when there is none, or when it
    was made before rows carried their region (it is dropped: the index it served is refused on load, and its
    rebuild makes it again).

    Raises:
        StoreUnavailable: the collection belongs to another index (see :func:`check_owner`).
    """
    if not client.has_collection(name):
        return False
    check_owner(client, name, owner, uri)
    if lacks_region(client, name):
        client.drop_collection(name)
        return False
    return True


def refuse_without_region(client: Any, name: str, uri: str) -> None:
    """Refuse a collection made before rows carried their region (the index is refused with its rebuild command)."""
    if lacks_region(client, name):
        raise OutdatedStore(f"the Milvus collection {name!r} at {uri} was made before its rows carried their "
                            "letter's region (province, city, county), which region filters need")


def owner_id(directory: Path | None) -> str:
    """This index's id, kept beside its manifest from the first build on (an index in memory gets a new one)."""
    if directory is None:
        return uuid.uuid4().hex
    path = Path(directory) / OWNER_FILE
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(uuid.uuid4().hex + "\n", encoding="utf-8")
    return path.read_text(encoding="utf-8").strip()


def vector_index(client: Any, name: str) -> str:
    """The ``INDEXES`` name of the collection's vector index (what its searches take)."""
    try:
        described = client.describe_index(name, "vector")
    except StoreUnavailable:
        return "flat"
    kind = str((described or {}).get("index_type", "FLAT")).upper()
    return next((key for key, (made, *_) in INDEXES.items() if made == kind), "flat")


def newest_generation(client: Any, name: str) -> int:
    """The highest generation any row was born or retired in: recorded in the collection (by the dense store as it
    claims one), or for a collection made before that was recorded, found by a scan."""
    recorded = collection_property(client, name, NEWEST_PROPERTY)
    if recorded is not None:
        return int(recorded)
    found = pages(client, name, "born >= 0", ["born", "retired"])
    return max((max(int(row["born"]), int(row["retired"])) for page in found for row in page), default=0)
