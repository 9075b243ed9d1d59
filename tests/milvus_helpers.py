"""Helpers for the Milvus Lite tests: an embedded server holds its file's lock until this process releases it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rag.stores.dense_milvus import LITE_FILE
from rag.stores.milvus_server import connect


def release_all_lite() -> None:
    """Stop every embedded Milvus Lite server of this process (releasing the files' locks)."""
    from milvus_lite.server_manager import server_manager_instance

    server_manager_instance.release_all()


def lite_client(index_dir: Path) -> Any:
    """A client of an index's Milvus Lite file (release it with :func:`release_all_lite` before others open it)."""
    client = connect(str(index_dir.resolve() / LITE_FILE))
    client.load_collection("policy_rag")
    return client


def raw_rows(index_dir: Path, collection: str = "policy_rag") -> list[dict[str, Any]]:
    """Every row physically in an index's Milvus Lite collection, whatever generation it belongs to."""
    client = connect(str(index_dir.resolve() / LITE_FILE))
    client.load_collection(collection)
    return list(client.query(collection, filter="pk >= 0", output_fields=["pk", "chunk", "born", "retired"]))
