"""An index folder's contents: the stores of one snapshot written as a generation, with the manifest that names it."""

from __future__ import annotations

import shlex
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..config import DEFAULT_MODEL, Config
from ..embed import Encoder, EncoderIdentity, LazyEncoder, model_name
from . import Stores
from .base import DenseParams, OutdatedStore, Place
from .disk import IndexFolderError, IndexLoadError, read_manifest, rebuild_hint, verify_files, write_generation
from .generations import GenerationLease


def save_snapshot(directory: Path, stores: Stores, *, config: Config, encoder: EncoderIdentity,
                  sources: Sequence[str]) -> str:
    """Write ``stores`` as a new generation of ``directory`` and switch the manifest to it; return its name.

    The manifest names no letter: the letter store is the record of letters (ids, hashes, paths), so the
    manifest stays a few kilobytes and an update at 10^6 chunks does not rewrite, parse and hash a list of all.
    """
    manifest = {
        "built": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "sources": list(sources),
        "encoder": {"id": encoder.id, "dim": encoder.dim, "normalized": True, "metric": "inner_product"},
        "config": config.to_dict(),
        "build_settings": config.build_settings(),
        "counts": {"letters": len(stores.letters.letters), "chunks": len(stores.letters),
                   "vectors": len(stores.dense)},
        "stores": stores.stats(),
    }
    generation = write_generation(directory, stores.save, manifest)
    stores.saved_in(directory / generation)
    return generation


def dense_params(config: Config) -> DenseParams:
    """The dense store's parameters in ``config``."""
    return DenseParams(nlist=config.ivf_nlist, nprobe=config.ivf_nprobe, codes=config.ivf_codes,
                       auto_vectors=config.dense_auto_vectors, rescore=config.sentence_rescore)


SNAPSHOT_ATTEMPTS = 8  # manifests read while writers keep committing before a reader gives up


def open_snapshot(directory: Path, limits: Config | None = None) -> tuple[dict[str, Any], Path, GenerationLease]:
    """The manifest, the verified generation folder and a lease keeping it while it is read.

    ``limits`` (default :class:`Config`'s) bounds the bytes of the manifest and of each data file.

    A writer that commits meanwhile (and removes the generation just read from the manifest) makes the
    reader read the manifest again: a concurrent commit is never an error.

    Raises:
        IndexLoadError: missing, corrupt, half-written or of another format.
    """
    limits = limits or Config()
    for attempt in range(SNAPSHOT_ATTEMPTS):
        manifest = read_manifest(directory, limits.max_index_json_bytes)
        folder = directory / str(manifest.get("generation", ""))
        lease = GenerationLease.take(folder)
        try:
            verify_files(directory, manifest, limits.max_index_file_bytes, limits.max_index_json_bytes)
        except IndexLoadError:
            if lease is not None:
                lease.release()
            if attempt + 1 == SNAPSHOT_ATTEMPTS or read_manifest(directory).get("generation") == \
                    manifest.get("generation"):
                raise
            continue
        if lease is not None:
            return manifest, folder, lease
    raise IndexLoadError(f"{directory} changed {SNAPSHOT_ATTEMPTS} times while it was being opened; "
                         "try again when the builds writing it have finished")


def reload_if_changed(directory: Path, generation: str, dim: int, token: str | None = None,
                      limits: Config | None = None, server: StoreServer | None = None
                      ) -> tuple[Stores, str, tuple[str, ...], GenerationLease] | None:
    """The stores, generation, sources and lease in ``directory`` if another writer replaced ``generation``."""
    if read_manifest(directory).get("generation") == generation:
        return None
    manifest, folder, lease = open_snapshot(directory, limits)
    return (load_snapshot(directory, manifest, folder, dim, token, server), str(manifest.get("generation")),
            tuple(manifest.get("sources", ())), lease)


def stored_config(directory: Path, manifest: dict[str, Any]) -> Config:
    """The configuration the index was built with, as written in its manifest."""
    return Config.from_dict(manifest.get("config", {}))


def check_encoder(directory: Path, manifest: dict[str, Any], encoder: EncoderIdentity) -> None:
    """Refuse an encoder other than the one the index was built with, naming the rebuild command."""
    stored = manifest.get("encoder", {})
    if encoder.id != stored.get("id") or encoder.dim != stored.get("dim"):
        hint = rebuild_hint(directory, manifest.get("sources", []), model_name(encoder.id), manifest.get("config"))
        raise IndexLoadError(
            f"{directory} was built with encoder {stored.get('id')!r} (dim {stored.get('dim')}), "
            f"but the encoder given is {encoder.id!r} (dim {encoder.dim}). Query it with the same model, "
            f"or rebuild it: {hint}")


def checked_encoder(directory: Path, manifest: dict[str, Any], encoder: Encoder | None,
                    model: str | None = None) -> Encoder:
    """``encoder`` checked against the index's, or (``None``) the user's ``model``, loaded on first use.

    The model to load always comes from the caller (``--model``; the bundled one by default), never from the
    index: a shared index could name a folder it ships, or a Hub name that sends a search online. An index
    built with another model is refused, naming the flag; when ``model`` is None that is found only when the
    model is needed, so listing or removing letters loads nothing and asks for nothing.

    Raises:
        IndexLoadError: ``model`` is not the index's, or lies inside the index folder.
    """
    if encoder is None:
        asked = DEFAULT_MODEL if model in (None, "use", "usem3") else model_name(str(model))
        refusal = model_refusal(directory, stored_config(directory, manifest).model, asked)
        if refusal is not None and model is not None:
            raise IndexLoadError(refusal)
        stored = manifest.get("encoder", {})
        encoder = LazyEncoder(asked, str(stored.get("id")), int(stored.get("dim") or 0),
                              check=lambda loaded: check_encoder(directory, manifest, loaded),
                              refusal=None if refusal is None else IndexLoadError(refusal))
    check_encoder(directory, manifest, encoder)
    return encoder


def model_refusal(directory: Path, built: str, asked: str) -> str | None:
    """Why the model ``asked`` must not be loaded for the index in ``directory`` built with ``built``, or None."""
    if Path(asked).exists() and Path(asked).resolve().is_relative_to(directory.resolve()):
        return (f"the model {asked} is inside the index folder {directory}: a model shipped in an index is never "
                "loaded; give --model a model of your own")
    if model_name(built) != asked:
        return (f"{directory} was built with the model {built!r}, and the model to load is {asked!r}; the model is "
                f"never taken from an index: give --model {shlex.quote(built)} if you trust it, or rebuild the "
                f"index: {rebuild_hint(directory, manifest_sources(directory), asked)}")
    return None


def manifest_sources(directory: Path) -> list[str]:
    try:
        return list(read_manifest(directory).get("sources", []))
    except IndexFolderError:
        return []


def check_build_settings(directory: Path, manifest: dict[str, Any], wanted: Config) -> None:
    """Refuse an index built with other chunking, encoder or stores than ``wanted``, naming the rebuild command."""
    stored = stored_config(directory, manifest).build_settings()
    asked = wanted.build_settings()
    if asked["dense"] == "auto" and stored["dense"] in ("auto", "flat", "ivf"):  # auto takes the index's store
        asked = {**asked, **{k: v for k, v in stored.items() if k == "dense" or k.startswith(("dense_", "ivf_"))}}
    if asked != stored:
        diff = ", ".join(f"{k}: index {v!r}, asked {asked[k]!r}" for k, v in stored.items() if asked[k] != v)
        raise IndexLoadError(f"{directory} was built with other settings ({diff}). "
                             "Rebuild it: "
                             f"{rebuild_hint(directory, manifest.get('sources', []), wanted.model, wanted.to_dict())}")


def store_place(directory: Path | None, config: Config, token: str | None = None) -> Place:
    """Where a database-backed store of an index built with ``config`` keeps its rows."""
    return Place(directory=directory, uri=config.milvus_uri, collection=config.milvus_collection, token=token,
                 lexical=config.milvus_lexical, index=config.milvus_index, search_width=config.milvus_search_width,
                 timeout=config.milvus_timeout, token_name=config.milvus_token_env)


@dataclass(frozen=True)
class StoreServer:
    """The store server the user names (``--milvus-uri``, ``--milvus-token-env``, ``--milvus-timeout``): an index
    folder is data, so the server it names is contacted, and the variable it names read, only when they are these."""

    uri: str | None = None
    token_env: str = Config().milvus_token_env
    timeout: float = Config().milvus_timeout

    def check(self, directory: Path, config: Config) -> None:
        """Refuse an index whose store server or token variable is not the user's, naming the flag to give."""
        if config.dense != "milvus":
            return
        named = config.milvus_uri
        if named != self.uri:
            raise IndexLoadError(
                f"{directory} keeps its vectors in Milvus Lite in the index folder: open it without --milvus-uri"
                if named is None else
                f"{directory} keeps its vectors on the Milvus server {str(named)!r}, and policy-rag connects only "
                f"to a server you name: open it with --milvus-uri {shlex.quote(str(named))} if you trust it")
        if named is not None and config.milvus_token_env != self.token_env:
            raise IndexLoadError(
                f"{directory} reads its Milvus token from the environment variable "
                f"{str(config.milvus_token_env)!r}, and policy-rag reads only a variable you name: open it with "
                f"--milvus-token-env {shlex.quote(str(config.milvus_token_env))} if that is where your token is")


def token_variable(directory: Path, server: StoreServer | None = None) -> str | None:
    """The environment variable to read ``directory``'s store server token from (None: no server, none to read):
    the user's own (``server.token_env``), once the index is found to name the user's server and variable.

    The CLI and the app read it; the variable's name is in the manifest, its value never is.

    Raises:
        IndexLoadError: the index names another server or variable than ``server`` (the user's flags).
    """
    server = server or StoreServer()
    config = stored_config(directory, read_manifest(directory))
    server.check(directory, config)
    return server.token_env if config.dense == "milvus" and config.milvus_uri else None


def load_snapshot(directory: Path, manifest: dict[str, Any], generation: Path, dim: int,
                  token: str | None = None, server: StoreServer | None = None) -> Stores:
    """Read the stores of a verified generation and check they agree with each other and the manifest.

    Args:
        server: the store server the user names (default: none, i.e. Milvus Lite in the index folder).

    Raises:
        IndexLoadError: unreadable or inconsistent, with the rebuild command; or its store server is not ``server``.
    """
    server = server or StoreServer()
    config = stored_config(directory, manifest)
    server.check(directory, config)
    hint = rebuild_hint(directory, manifest.get("sources", []), config.model, config.to_dict())
    place = store_place(directory, config.with_(milvus_timeout=server.timeout), token)
    try:
        stores = Stores.load(generation, dim, config.dense, config.lexical, place, dense_params(config))
    except IndexFolderError:
        raise
    except OutdatedStore as exc:
        raise IndexLoadError(f"{directory} cannot be used by this policy-rag: {exc}. Rebuild: {hint}") from exc
    except Exception as exc:  # any unreadable piece means the same thing to the user
        raise IndexLoadError(f"{directory} is corrupt ({exc.__class__.__name__}: {exc}). Rebuild: {hint}") from exc
    counts = manifest.get("counts", {})
    found = (len(stores.letters.letters), len(stores.letters), len(stores.dense))
    problems = stores.problems()
    if found != (counts.get("letters"), counts.get("chunks"), counts.get("vectors")) or problems:
        raise IndexLoadError(f"{directory} is inconsistent: its letters, chunks and vectors do not agree "
                             f"with each other or the manifest ({'; '.join(problems) or 'counts differ'}). "
                             f"Rebuild: {hint}")
    return stores
