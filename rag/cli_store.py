"""The CLI's store flags (``--dense``, ``--ivf-*``, ``--store milvus …``, ``--shard``, ``--commit-shards``) and
what they build."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .config import Config

if TYPE_CHECKING:
    from .index import Index
    from .updates import BuildReport


def dense_args(build: argparse.ArgumentParser) -> None:
    """``rag build``'s flags choosing the local dense store and its parameters."""
    build.add_argument("--dense", default="auto", metavar="BACKEND",
                       help="dense store for a new index: auto (the default: flat below --dense-auto-vectors "
                            "vectors, ivf above), flat (exact FAISS scan), ivf (FAISS inverted lists: approximate, "
                            "for large corpora) or milvus; see rag.stores.DENSE_BACKENDS")
    build.add_argument("--dense-auto-vectors", type=int, default=Config().dense_auto_vectors, metavar="N",
                       help="with --dense auto: vectors from which the store is ivf (default: %(default)s)")
    build.add_argument("--ivf-nlist", type=int, default=0, metavar="N",
                       help="ivf cells (default 0: about 4 x the square root of the vectors, at most 2048)")
    build.add_argument("--ivf-nprobe", type=int, default=Config().ivf_nprobe, metavar="N",
                       help="ivf cells scanned per query (default: %(default)s)")
    build.add_argument("--ivf-codes", choices=["auto", "flat", "sq8"], default="auto",
                       help="how ivf keeps vectors: flat (float32), sq8 (a byte per dimension) or auto (sq8 from "
                            "262,144 vectors on; the default)")
    build.add_argument("--sentence-rescore", action="store_true",
                       help="keep one vector per chunk in the dense store and its sentence vectors beside it "
                            "(memory-mapped float16), re-scoring the dense candidates (README: Dense stores)")


def add_store_args(parser: argparse.ArgumentParser) -> None:
    """``rag build``'s flags choosing and placing the dense store."""
    parser.add_argument("--store", choices=["local", "milvus"], default="local",
                        help="where the vectors live: local (FAISS files in the index folder, the default) or milvus "
                             "(Milvus Lite in DIR/milvus.db, or the server given by --milvus-uri)")
    server_args(parser)
    parser.add_argument("--collection", default=Config().milvus_collection, metavar="NAME",
                        help="the Milvus collection, one per index (default: %(default)s)")
    parser.add_argument("--milvus-index", default=Config().milvus_index,
                        choices=["auto", "ivf_flat", "hnsw", "ivf_sq8", "diskann", "flat"],
                        help="a new collection's vector index (default: auto, i.e. flat on Milvus Lite and ivf_flat "
                             "on a server; docs/milvus.md says which index fits which size)")
    parser.add_argument("--milvus-lexical", action="store_true",
                        help="with --store milvus: also keep each chunk's text and lexical terms in Milvus, so that "
                             "Config.milvus_search can run the lexical side there (for measuring; see README)")
    parser.add_argument("--shard", metavar="i/N", help="with --store milvus: embed only share i of N of the letters "
                        "into the collection, for --commit-shards to publish (README: Milvus, sharded builds)")
    parser.add_argument("--commit-shards", type=int, metavar="N", help="publish a sharded build (all N shards in)")


def server_args(parser: argparse.ArgumentParser) -> None:
    """The flags naming the Milvus server and its token variable: an index names them too, but is opened only
    when they agree (an index folder is data; the server and the variable are the user's)."""
    parser.add_argument("--milvus-uri", metavar="URI", help="the Milvus server of an index built with --store milvus "
                        "--milvus-uri, e.g. http://host:19530 (default: Milvus Lite, embedded, in DIR/milvus.db)")
    parser.add_argument("--milvus-token-env", default=Config().milvus_token_env, metavar="VAR",
                        help="environment variable holding the Milvus server's token (default: %(default)s); "
                             "its name is recorded in the index, its value never is")
    parser.add_argument("--milvus-timeout", type=float, default=Config().milvus_timeout, metavar="SECONDS",
                        help="seconds any one call to the Milvus server may take (default: %(default)g)")
    parser.add_argument("--milvus-search-width", type=int, default=Config().milvus_search_width, metavar="N",
                        help="the Milvus index's search breadth: IVF nprobe, HNSW ef, DiskANN search_list "
                             "(default 0: the index's own, 32 / 128 / 100)")


def server_config(args: argparse.Namespace, config: Config | None = None) -> Config:
    """``config`` (default :class:`Config`) with the server flags' search settings."""
    if not args.milvus_timeout > 0:
        raise ValueError("--milvus-timeout must be a number of seconds above 0")
    return (config or Config()).with_(milvus_token_env=args.milvus_token_env, milvus_timeout=args.milvus_timeout,
                                      milvus_search_width=args.milvus_search_width)


def load_index(directory: str | Path, args: argparse.Namespace, read_env: Callable[[str], str | None],
               **kwargs: Any) -> Index:
    """The index in ``directory`` on the store server ``args`` names (the flags of :func:`server_args`), with the
    token from the variable they name, read by the caller's ``read_env`` (e.g. ``os.environ.get``): only once the
    index is found to name that server and variable."""
    from .index import Index
    from .stores.snapshot import StoreServer, token_variable

    path, config = Path(directory), server_config(args, kwargs.pop("config", None))
    server = StoreServer(args.milvus_uri, config.milvus_token_env, config.milvus_timeout)
    variable = token_variable(path, server) if (path / "manifest.json").exists() else None
    token = (read_env(variable) or None) if variable else None
    return Index.load(path, store_token=token, milvus_uri=args.milvus_uri, config=config, **kwargs)


def build_config(args: argparse.Namespace) -> Config:
    """The build settings the flags ask for (``--store milvus`` is the dense store ``milvus``)."""
    from urllib.parse import urlparse

    milvus = args.store == "milvus" or args.dense == "milvus"
    if (args.milvus_uri or args.milvus_lexical) and not milvus:
        raise ValueError(f"{'--milvus-uri' if args.milvus_uri else '--milvus-lexical'} needs --store milvus")
    if args.milvus_uri and urlparse(args.milvus_uri).password:
        raise ValueError("--milvus-uri must not hold a password (it would be written to the index's manifest): "
                         "put the credentials in an environment variable named by --milvus-token-env")
    if not milvus:
        return Config(model=args.model, dense=args.dense, dense_auto_vectors=args.dense_auto_vectors,
                      ivf_nlist=args.ivf_nlist, ivf_nprobe=args.ivf_nprobe, ivf_codes=args.ivf_codes,
                      sentence_rescore=args.sentence_rescore)
    if args.sentence_rescore:
        raise ValueError("--sentence-rescore needs a local dense store (Milvus keeps the sentence vectors)")
    return server_config(args, Config(model=args.model, dense="milvus", milvus_uri=args.milvus_uri,
                                      milvus_collection=args.collection, milvus_lexical=args.milvus_lexical,
                                      milvus_index=args.milvus_index))


def build_sharded(args: argparse.Namespace, token: str | None) -> BuildReport:
    """``rag build --shard i/N`` or ``--commit-shards N`` (``token``: the Milvus server's, read by the CLI)."""
    import sys

    from .shards import sharded_build

    if args.rebuild:
        raise ValueError("--shard and --commit-shards update the index; a sharded rebuild goes into a new --index "
                         "and --collection")
    return sharded_build(args.paths, args.index, config=build_config(args), shard=args.shard,
                         commit=args.commit_shards, store_token=token, progress=not args.quiet and sys.stderr.isatty())
