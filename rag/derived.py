"""Data derived from a bundled dictionary, kept as JSON in a cache folder so that the next process reads it."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any


def derivation_key(sources: Iterable[Path]) -> str | None:
    """What derived data was made from: the bytes of ``sources`` (a dictionary's data files and the code that
    derives from them: a change to either is different data); None when one cannot be read."""
    digest = hashlib.sha256()
    try:
        for path in sources:
            digest.update(path.name.encode() + b"\0" + path.read_bytes())
    except OSError:
        return None
    return digest.hexdigest()


def read_derived(path: Path, key: str) -> Any:
    """The data cached in ``path`` for ``key``; None when the file is missing, was derived from something else or is
    not JSON. The caller checks the data's shape: the file may come from someone else (a shared index folder)."""
    from .config import Config
    from .stores.checked import read_bounded

    try:
        cached = json.loads(read_bounded(path, Config().max_index_json_bytes))
    except (OSError, ValueError):
        return None
    return cached.get("data") if isinstance(cached, dict) and cached.get("key") == key else None


def write_derived(path: Path, key: str, data: Any) -> None:
    """Cache ``data`` in ``path`` for ``key``, atomically; a folder that cannot be written is left as it is (the cache
    only saves time)."""
    import uuid

    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_text(json.dumps({"key": key, "data": data}, ensure_ascii=False, separators=(",", ":")),
                       encoding="utf-8")
        os.replace(tmp, path)
    except OSError:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)
