"""Reading an index folder as someone else's data: names kept inside their folder, sizes checked before allocating."""

from __future__ import annotations

import os
import struct
from pathlib import Path
from stat import S_ISDIR, S_ISREG
from typing import Any

import numpy as np

from .generations import GENERATION_NAME

_MANIFEST_TYPES: dict[str, type] = {"format_version": int, "generation": str, "files": dict, "checksum": str,
                                    "config": dict, "sources": list, "encoder": dict, "counts": dict}
_OPTIONAL_TYPES: dict[str, type] = {"built": str, "build_settings": dict, "stores": dict}


def manifest_problem(manifest: dict[str, Any]) -> str | None:
    """Why ``manifest`` does not have the shape this version writes (the first problem found), or None."""
    from ..config import Config

    for key, wanted in (*_MANIFEST_TYPES.items(), *_OPTIONAL_TYPES.items()):
        if key not in manifest and key in _OPTIONAL_TYPES:
            continue
        if not isinstance(manifest.get(key), wanted) or isinstance(manifest.get(key), bool):
            return f"{key} must be {_TYPE_WORDS[wanted]}, not {_type_word(manifest.get(key))}"
    if not GENERATION_NAME.fullmatch(manifest["generation"]):
        return f"generation {manifest['generation']!r} is not the name of a generation folder"
    for name, entry in manifest["files"].items():
        problem = name_problem(name)
        if problem is not None:
            return f"file {name!r}: {problem}"
        if not isinstance(entry, dict) or not _whole(entry.get("bytes")) or not isinstance(entry.get("sha256"), str) \
                or not all(_whole(entry[k]) for k in ("inode", "mtime_ns") if k in entry):
            return f"the entry of file {name!r} must be an object with bytes and sha256, not {_type_word(entry)}"
    if not all(isinstance(source, str) for source in manifest["sources"]):
        return "sources must be a list of text"
    encoder = manifest["encoder"]
    if not isinstance(encoder.get("id"), str) or not _whole(encoder.get("dim")) or not encoder["dim"]:
        return "encoder must have a text id and a dimension above 0"
    if not all(_whole(manifest["counts"].get(k)) for k in ("letters", "chunks", "vectors")):
        return "counts must give whole numbers of letters, chunks and vectors"
    return Config.type_problem(manifest["config"])


def _whole(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


_TYPE_WORDS = {int: "a whole number", str: "text", dict: "an object", list: "a list"}


def _type_word(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true/false"
    return "a number" if isinstance(value, float) else _TYPE_WORDS.get(type(value), type(value).__name__)


def name_problem(name: str) -> str | None:
    """Why ``name`` (a file named by an index) could reach outside its folder, or None: it must be relative,
    in ``/``-separated parts, none of them empty, ``.`` or ``..``."""
    parts = name.split("/")
    if not name or name.startswith("/") or "\\" in name or "\0" in name or any(p in ("", ".", "..") for p in parts):
        return "a file name must be a relative path inside its generation folder"
    return None


def inside(folder: Path, name: object) -> Path:
    """``folder / name`` for a file name read from an index's own files (a segment, a vocabulary).

    A hidden name is refused too: hidden files in a generation are not checked (see ``verify_files``).

    Raises:
        ValueError: not a plain file name (a path, ``..``, an absolute name): it could reach outside ``folder``.
    """
    if not isinstance(name, str) or "/" in name or name.startswith(".") or name_problem(name) is not None:
        raise ValueError(f"{folder} names a file {name!r}: not a plain, visible file name in that folder")
    return folder / name


def load_array(path: Path, mmap: bool = False) -> np.ndarray:
    """A ``.npy`` file (never pickled) whose header's shape and type account for exactly the file's bytes.

    The header is read first: a header claiming more than the file holds is refused before anything is
    allocated (numpy would allocate the whole claimed array, then find the file short).

    Raises:
        ValueError: not a regular file, object arrays, or a header that disagrees with the file's length.
    """
    from numpy.lib import format as npy

    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    with os.fdopen(fd, "rb") as handle:
        stat = os.fstat(handle.fileno())
        if not S_ISREG(stat.st_mode):
            raise ValueError(f"{path} is not a regular file")
        version = npy.read_magic(handle)
        read_header = npy.read_array_header_1_0 if version == (1, 0) else npy.read_array_header_2_0
        shape, _, dtype = read_header(handle, max_header_size=1 << 16)
        if dtype.hasobject:
            raise ValueError(f"{path} holds Python objects")
        claimed = int(np.prod(shape, dtype=object)) * dtype.itemsize
        if handle.tell() + claimed != stat.st_size:
            raise ValueError(f"{path}: its header claims {claimed:,} bytes of data ({shape} {dtype}), the file holds "
                             f"{stat.st_size - handle.tell():,}")
        handle.seek(0)
        array: np.ndarray = np.load(path if mmap else handle, mmap_mode="r" if mmap else None, allow_pickle=False)
        return array


_FAISS_HEADER = struct.Struct("<4siqqqbi")  # fourcc, d, ntotal, two unused, is_trained, metric (faiss index_write.cpp)
_FLAT = {b"IxFI", b"IxF2", b"IxFl"}  # flat inner product, L2 and any metric


def check_faiss_header(path: Path, dim: int, *, empty: bool = False) -> None:
    """Refuse a FAISS file whose header does not fit ``dim`` and the file's length, before FAISS reads it.

    FAISS allocates what a header claims before reading it: a 1.4 MB file claiming 750 million vectors
    asks for 3 GB. An id-mapped flat index (the flat store's) is checked whole: its vector and id counts must
    account for the file's bytes. Any index: its dimension must be ``dim``, and with ``empty`` (an IVF store's
    trained template) it must hold no vectors; the vectors it claims must fit in the file.

    Raises:
        ValueError: the header disagrees with ``dim`` or the file.
    """
    size = path.stat(follow_symlinks=False).st_size
    with path.open("rb") as handle:
        head = handle.read(2 * _FAISS_HEADER.size + 24)
    if len(head) < _FAISS_HEADER.size:
        raise ValueError(f"{path} is too short for a FAISS index")
    fourcc, d, ntotal, _, _, _, metric = _FAISS_HEADER.unpack_from(head)
    if d != dim or ntotal < 0 or (empty and ntotal) or ntotal * d * 4 > size:
        raise ValueError(f"{path}: its FAISS header claims {ntotal:,} vectors of {d} dimensions; the index is "
                         f"{dim}-d{' and empty' if empty else ''} and the file holds {size:,} bytes")
    if fourcc in _IVF:
        _check_ivf_quantizer(path, head, d, size)
        return
    if fourcc not in (b"IxM2", b"IxMp"):
        return
    inner = head[_FAISS_HEADER.size:]
    if len(inner) < _FAISS_HEADER.size + 8 or metric > 1:
        raise ValueError(f"{path} is not an id-mapped flat FAISS index of the shape the flat store writes")
    kind, inner_d, inner_total, _, _, _, _ = _FAISS_HEADER.unpack_from(inner)
    (floats,) = struct.unpack_from("<q", inner, _FAISS_HEADER.size)
    expected = 2 * _FAISS_HEADER.size + 8 + 4 * floats + 8 + 8 * ntotal
    if kind not in _FLAT or (inner_d, inner_total, floats) != (d, ntotal, ntotal * d) or expected != size:
        raise ValueError(f"{path}: its FAISS header claims {floats:,} floats for {ntotal:,} vectors of {d} "
                         f"dimensions ({expected:,} bytes); the file holds {size:,}")


_IVF = {b"IwFl", b"IwSq"}  # the IVF stores' templates: IVF-flat and IVF with 8-bit scalar codes


def _check_ivf_quantizer(path: Path, head: bytes, d: int, size: int) -> None:
    """An IVF template's cell count and its quantizer's centroids (a flat index) must fit the file."""
    nlist, _ = struct.unpack_from("<qq", head, _FAISS_HEADER.size)
    inner = _FAISS_HEADER.size + 16
    if len(head) < inner + _FAISS_HEADER.size + 8:
        raise ValueError(f"{path} is too short for an IVF index")
    kind, inner_d, centroids, _, _, _, _ = _FAISS_HEADER.unpack_from(head, inner)
    (floats,) = struct.unpack_from("<q", head, inner + _FAISS_HEADER.size)
    if kind not in _FLAT or (inner_d, centroids, floats) != (d, nlist, nlist * d) or not 0 < 4 * floats <= size:
        raise ValueError(f"{path}: its FAISS header claims {nlist:,} cells and {floats:,} floats of centroids of "
                         f"{d} dimensions; the file holds {size:,} bytes")


def read_bounded(path: Path, max_bytes: int) -> bytes:
    """The bytes of ``path``, a regular file (not a link, FIFO or device) of at most ``max_bytes``.

    Raises:
        ValueError: another kind of file, or a larger one (the message names the limit).
    """
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    with os.fdopen(fd, "rb") as handle:
        stat = os.fstat(handle.fileno())
        if not S_ISREG(stat.st_mode):
            raise ValueError(f"{path} is not a regular file")
        if stat.st_size > max_bytes:
            raise ValueError(f"{path} has {stat.st_size:,} bytes; the limit is {max_bytes:,} "
                             "(Config.max_index_json_bytes)")
        return handle.read(max_bytes + 1)[:max_bytes]


def listed_entries(files: dict[str, Any]) -> dict[str, str]:
    """Every entry the manifest's files imply: each file, and each folder on the way to one."""
    listed = {}
    for name in files:
        parts = name.split("/")
        listed.update({"/".join(parts[:n]): "folder" for n in range(1, len(parts))})
    listed.update({name: "file" for name in files})
    return listed


def folder_entries(folder: Path) -> dict[str, str] | None:
    """Every entry under ``folder`` (not following links) by relative name: file, folder, link or special;
    None when ``folder`` is not a real folder."""
    try:
        if not S_ISDIR(os.stat(folder, follow_symlinks=False).st_mode):
            return None
    except OSError:
        return None
    found: dict[str, str] = {}
    pending = [(folder, "")]
    while pending:
        where, prefix = pending.pop()
        with os.scandir(where) as listing:
            for entry in listing:
                name = f"{prefix}{entry.name}"
                if entry.is_symlink():
                    found[name] = "link"
                elif entry.is_dir(follow_symlinks=False):
                    found[name] = "folder"
                    pending.append((Path(entry.path), f"{name}/"))
                else:
                    found[name] = "file" if entry.is_file(follow_symlinks=False) else "special file"
    return found
