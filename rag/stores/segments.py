"""Immutable store files shared between generations: hard-linked when unchanged, written when new.

A store that saves in segments names every segment file uniquely and never changes one once written; a
later save links the files it already has (``os.link``; a copy across file systems) from the folder it
was loaded from or last saved to, and writes only what is new. :func:`rag.stores.disk.write_generation`
then reuses the manifest entry of a linked file instead of hashing it again.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from .checked import check_faiss_header, inside, load_array
from .disk import IndexLoadError


def link_file(source: Path, target: Path) -> bool:
    """Hard-link ``source`` as ``target`` (a copy where links fail); False when ``source`` is gone."""
    if not source.is_file() or target.exists():
        return False
    try:
        os.link(source, target)
    except OSError:  # another file system, or links not allowed: a copy keeps the save whole
        try:
            shutil.copyfile(source, target)
        except OSError:
            return False
    return True


def link_or_write(origin: Path | None, folder: Path, name: str, write: Callable[[Path], None] | None) -> None:
    """Put file ``name`` into ``folder``: a hard link to ``origin / name`` if that exists, else ``write(path)``.

    Raises:
        IndexLoadError: the file is neither in ``origin`` nor in memory (its generation was deleted meanwhile).
    """
    target = folder / name
    if origin is not None and link_file(origin / name, target):
        return
    if write is None:
        raise IndexLoadError(f"cannot save {name}: its generation {origin} is gone and it is not held in memory; "
                             "load the index again")
    write(target)


def release_freed_memory() -> None:
    """Hand memory freed by large rewrites back to the system (glibc keeps freed heap pages otherwise).

    FAISS grows one list per cell; once they are freed (a compaction, a seal) glibc keeps their pages for
    reuse, so the process's resident size stays at its peak. ``malloc_trim`` returns them; elsewhere a no-op.
    """
    import ctypes
    import sys

    if sys.platform.startswith("linux"):
        try:
            ctypes.CDLL("libc.so.6").malloc_trim(0)
        except (OSError, AttributeError):  # another C library (musl): nothing to trim
            pass


def save_array(path: Path, array: np.ndarray) -> None:
    """An array as ``.npy`` (never pickled)."""
    with path.open("wb") as handle:
        np.save(handle, np.ascontiguousarray(array), allow_pickle=False)


def load_segments(folder: Path, body: dict[str, Any],
                  dim: int) -> tuple[Any, list[tuple[np.ndarray, np.ndarray, np.ndarray]], dict[int, int]]:
    """The trained template, each segment's (memory-mapped codes, ids, live-row mask) and the tombstones.

    Raises:
        ValueError: a file does not fit the others (wrong dimension, row counts, widths).
    """
    import faiss

    trained = inside(folder, body["trained"])
    check_faiss_header(trained, dim, empty=True)
    template = faiss.read_index(str(trained))
    if template.d != dim or not hasattr(template, "nlist") or template.ntotal:
        raise ValueError(f"{folder / body['trained']} is not an empty IVF index of {dim}-d vectors")
    dead: dict[int, int] = {}
    if (folder / "tombstones.npy").exists():
        pairs = load_array(folder / "tombstones.npy")
        dead = {int(i): int(seq) for i, seq in pairs.reshape(-1, 2).tolist()}
    width = int(template.sa_code_size())
    parts = []
    for segment in body["segments"]:
        codes = load_array(inside(folder, f"{segment['name']}.codes.npy"), mmap=True)
        ids = load_array(inside(folder, f"{segment['name']}.ids.npy"))
        if codes.shape != (segment["rows"], width) or ids.shape != (segment["rows"],):
            raise ValueError(f"segment {segment['name']} does not hold {segment['rows']} rows of {width} bytes")
        gone = as_dead(dead, int(segment["seq"]))
        parts.append((codes, ids.astype(np.int64), ~np.isin(ids, gone)))
    return template, parts, dead


def as_dead(dead: dict[int, int], seq: int) -> np.ndarray:
    """The tombstoned ids whose rows in segments numbered ``seq`` (or earlier) are deleted."""
    return np.asarray([i for i, upto in dead.items() if upto > seq], np.int64)
