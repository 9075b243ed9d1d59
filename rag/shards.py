"""A build split over machines: each embeds a share of the letters into one Milvus collection, one commit publishes.

``rag build LETTERS --index DIR --store milvus --milvus-uri URI --shard i/N`` plans the whole update exactly as a
build would (every shard sees the same letters and the same committed index, so chunk ids agree), but embeds and
inserts only the chunks of the fresh letters whose content hash falls in share ``i``, into the collection's
pending generation, under primary keys of its own. It then records "shard i of N done" for that plan in a small
side collection. ``rag build LETTERS --index DIR … --commit-shards N`` plans again, checks that the N records
name this very plan and that the pending rows are exactly the plan's, retires the rows of removed and changed
letters, writes the letter and lexical stores and switches the manifest: readers see nothing of the sharded
build before that switch, and everything after it. A shard killed midway is run again (it first deletes what
its killed run inserted); a plan that changed since (other letters, another commit) is refused at the commit.
Within a shard, embedding is :func:`rag.embed.embed_passages`, in the shard's process (not yet in workers); the
shard's own process writes to Milvus.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .chunk import Chunk
from .config import Config
from .embed import Encoder, dense_units, embed_passages
from .ingest import Document, Skipped
from .stored_batches import first_ids
from .stores import Stores
from .stores.base import as_ids
from .stores.dense_milvus import MilvusDenseStore
from .stores.milvus_rows import chunk_facts
from .updates import BuildReport, UpdatePlan, chunk_plan, plan_update

if TYPE_CHECKING:
    from .analyze import Analyzer
    from .index import Index

RECORDS_SUFFIX = "_shards"  # the side collection of shard-done records, beside the index's collection


@dataclass(frozen=True)
class Layout:
    """The plan of a build with every id fixed: the new chunks by id, and each dense unit's chunk and text."""

    plan: UpdatePlan
    chunks: dict[int, Chunk]
    owners: list[int]
    texts: list[str]
    skipped: tuple[Skipped, ...]
    digest: str


def parse_shard(text: str) -> tuple[int, int]:
    """``"i/N"`` as ``(i, N)`` with ``0 <= i < N <= 64``.

    Raises:
        ValueError: anything else.
    """
    try:
        shard, count = (int(part) for part in text.split("/"))
    except ValueError:
        raise ValueError(f"--shard takes i/N (e.g. 0/4), not {text!r}") from None
    if not 0 <= shard < count <= 64:
        raise ValueError(f"--shard {text}: need 0 <= i < N <= 64")
    return shard, count


def share(sha256: str, count: int) -> int:
    """The shard a letter's chunks are embedded in: its content hash, modulo the number of shards."""
    return int(sha256[:16], 16) % count


def layout(index: Index, documents: list[Document], skipped: Sequence[Skipped]) -> Layout:
    """The update ``documents`` make to ``index``, with chunk ids assigned as :func:`rag.updates.apply_plan` does."""
    stores = index._stores
    existing = stores.letters.metadata  # no letter text is read to plan
    plan, chunked, oversized = chunk_plan(plan_update(existing, documents), existing, config=index.config,
                                          splitter=index._splitter)
    first = first_ids(plan.fresh, chunked, stores.letters.next_id)
    chunks: dict[int, Chunk] = {}
    owners: list[int] = []
    texts: list[str] = []
    for letter in plan.fresh:
        for key, chunk in enumerate(chunked[letter.letter_id], start=first[letter.letter_id]):
            units = dense_units(letter, chunk, index.config)
            texts.extend(units)
            owners.extend([key] * len(units))
            chunks[key] = chunk
    fingerprint = {"generation": index._generation, "letters": [(lid, lt.sha256) for lid, lt in plan.letters.items()],
                   "fresh": [lt.letter_id for lt in plan.fresh], "retire": list(plan.retire), "units": len(texts)}
    digest = hashlib.sha256(json.dumps(fingerprint, ensure_ascii=False).encode("utf-8")).hexdigest()
    return Layout(plan, chunks, owners, texts, (*skipped, *oversized), digest)


def build_shard(index: Index, read: tuple[list[Document], list[Skipped]], shard: int, count: int, *,
                progress: bool = False) -> BuildReport:
    """Embed and insert share ``shard`` of ``count`` of the update; record it done. Writes nothing in the folder."""
    dense = _milvus(index)
    made = layout(index, *read)
    mine = {key for key, chunk in made.chunks.items() if share(made.plan.letters[chunk.letter_id].sha256, count)
            == shard}
    view = dense.pending(shard)
    view.drop_new(as_ids(sorted(mine)))  # a killed run of this shard may have inserted some already
    rows = [n for n, owner in enumerate(made.owners) if owner in mine]
    vectors = embed_passages(index.encoder, [made.texts[n] for n in rows], progress)
    owners = [made.owners[n] for n in rows]
    tokens = {key: index.analyzer.tokens(made.chunks[key].text) for key in mine} if view.lexical else None
    view.add(as_ids(owners), vectors, chunk_facts(owners, made.chunks, made.plan.letters, tokens))
    view.client.flush(view.collection)
    _record(view, shard, count, made.digest, len(rows))
    return BuildReport(added=made.plan.added, updated=made.plan.updated, unchanged=made.plan.unchanged,
                       skipped=made.skipped, new_chunks=len(mine), letters=len(made.plan.letters),
                       chunks=len(made.chunks), chars_embedded=sum(len(made.texts[n]) for n in rows))


def commit_shards(index: Index, sources: list[str], read: tuple[list[Document], list[Skipped]],
                  count: int) -> BuildReport:
    """Publish a sharded build once all ``count`` shards are in; refuse (naming the missing ones) otherwise.

    Raises:
        ValueError: a shard is missing, ran another plan, or the pending rows are not exactly the plan's.
    """
    dense = _milvus(index)
    with index._write_lock, index._folder_lock():
        index._fresh_stores()
        made = layout(index, *read)
        view = dense.pending()
        records = {r["shard"]: r for r in _records(view) if r["shards"] == count and r["plan"] == made.digest}
        missing = [str(i) for i in range(count) if i not in records]
        if missing:
            raise ValueError(f"cannot commit: shard(s) {', '.join(missing)} of {count} have not finished this "
                             f"build (run rag build … --shard i/{count} for each, with the same letters)")
        if view.new_rows() != len(made.owners) or sum(int(r["rows"]) for r in records.values()) != len(made.owners):
            raise ValueError(f"cannot commit: the collection's pending rows ({view.new_rows()}) are not the "
                             f"{len(made.owners)} this build embeds; run the shards again")
        retired = index._stores.letters.chunk_ids(made.plan.retire)
        view.remove(retired)
        lexical = index._stores.lexical.copy()
        lexical.remove(retired)
        lexical.add(as_ids(list(made.chunks)), [index.analyzer.tokens(c.text) for c in made.chunks.values()])
        letters = index._stores.letters.changed(retire=made.plan.retire, letters=made.plan.letters,
                                                chunks=made.chunks, sketches=made.plan.sketches)
        stores = Stores(letters, view, lexical, index._stores.dense_backend, index._stores.lexical_backend)
        index._commit(stores, sources if not index.sources else [*index.sources, *sources])
        view.client.delete(view.collection + RECORDS_SUFFIX, filter=f"generation <= {view.generation}")
    index.report = BuildReport.of(made.plan, stores, made.skipped, seconds=0.0, chars_embedded=0)
    return index.report


def sharded_build(paths: Sequence[str], directory: str | Path, *, config: Config, shard: str | None = None,
                  commit: int | None = None, store_token: str | None = None, encoder: Encoder | None = None,
                  analyzer: Analyzer | None = None, progress: bool = False) -> BuildReport:
    """``rag build --shard i/N`` (``shard="i/N"``) or ``rag build --commit-shards N`` (``commit=N``) on ``directory``.

    Raises:
        ValueError: a bad ``--shard``, an index without Milvus, or a commit that cannot be made (see above).
    """
    from .analyze import Analyzer
    from .embed import load_encoder, model_name
    from .index import Index
    from .stores.disk import claim_folder
    from .updates import read_sources

    if (shard is None) == (commit is None):
        raise ValueError("give one of --shard i/N and --commit-shards N")
    part = parse_shard(shard) if shard is not None else None
    if encoder is not None:
        config = config.with_(model=model_name(encoder.id))
    sources = [str(p) for p in paths]
    read = read_sources(sources, config)
    claim_folder(Path(directory))  # before Milvus Lite puts its files there
    if (Path(directory) / "manifest.json").exists():
        index = Index.load(directory, encoder=encoder, analyzer=analyzer, config=config, expect=config,
                           store_token=store_token, milvus_uri=config.milvus_uri)
    else:
        encoder = encoder or load_encoder(config.model)
        index = Index(config=config.with_(model=model_name(encoder.id)), encoder=encoder,
                      analyzer=analyzer or Analyzer(), directory=directory, store_token=store_token)
    if part is not None:
        return build_shard(index, read, *part, progress=progress)
    return commit_shards(index, sources, read, int(commit or 0))


def _milvus(index: Index) -> MilvusDenseStore:
    dense = index._stores.dense
    if not isinstance(dense, MilvusDenseStore):
        raise ValueError("--shard and --commit-shards need an index with --store milvus")
    return dense


def _record(view: MilvusDenseStore, shard: int, count: int, digest: str, rows: int) -> None:
    name = view.collection + RECORDS_SUFFIX
    if not view.client.has_collection(name):
        import pymilvus

        schema = view.client.create_schema(auto_id=False)
        schema.add_field("pk", pymilvus.DataType.INT64, is_primary=True)
        for field in ("generation", "shard", "shards", "rows"):
            schema.add_field(field, pymilvus.DataType.INT64)
        schema.add_field("plan", pymilvus.DataType.VARCHAR, max_length=64)
        schema.add_field("vector", pymilvus.DataType.FLOAT_VECTOR, dim=2)  # Milvus wants one; unused
        params = view.client.prepare_index_params()
        params.add_index(field_name="vector", index_type="FLAT", metric_type="L2")
        view.client.create_collection(name, schema=schema, index_params=params, consistency_level="Strong")
    view.client.load_collection(name)
    view.client.upsert(name, [{"pk": view.generation * 1000 + shard, "generation": view.generation, "shard": shard,
                               "shards": count, "rows": rows, "plan": digest, "vector": [0.0, 0.0]}])
    view.client.flush(name)


def _records(view: MilvusDenseStore) -> list[dict[str, Any]]:
    name = view.collection + RECORDS_SUFFIX
    if not view.client.has_collection(name):
        return []
    view.client.load_collection(name)
    return list(view.client.query(name, filter=f"generation == {view.generation}",
                                  output_fields=["shard", "shards", "rows", "plan"]))
