"""The index folder on disk: manifest, checksummed data files in a generation folder, atomic swaps, a build lock."""

from __future__ import annotations

import errno
import hashlib
import json
import os
import shutil
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from .checked import folder_entries, listed_entries, manifest_problem, read_bounded
from .generations import GENERATION_NAME, remove_leftovers

FORMAT_VERSION = 6  # 2: stores in their own folders, chunks keyed by integer ids; 3: segment files linked across saves;
# 4: letters parsed with page chrome told apart from their fields and fixed-width lines rejoined;
# 5: the lexical vocabulary's pinyin; 6: letters carry their region
MANIFEST = "manifest.json"
LOCK = ".build.lock"
MARKER = ".policy-rag-index"  # written when policy-rag makes a folder an index: only such a folder is written to
MARKER_TEXT = '{"policy-rag-index": 1}\n'
HASH_ALWAYS_BELOW = 16 * 1024 * 1024  # bytes: smaller files are re-hashed on every load


class IndexFolderError(Exception):
    """Base for problems with an index folder; ``str()`` is a message for a person, naming the fix."""


class IndexLoadError(IndexFolderError):
    """The index cannot be used (missing, corrupt, other format, other encoder)."""


class IndexLocked(IndexFolderError):
    """Another build holds the index folder's lock."""


class NotAnIndex(IndexFolderError):
    """The folder given as an index holds files and is not an index: policy-rag writes nothing there."""


class DiskFull(IndexFolderError):
    """The device filled up while a new generation was written; the index in force is unchanged."""


def is_index_folder(directory: Path) -> bool:
    """Whether policy-rag made ``directory`` an index: its marker, or (written before markers) a manifest of ours."""
    if (directory / MARKER).is_file():
        return True
    if directory.is_dir() and {p.name for p in directory.iterdir()} == {LOCK, ".build"}:
        return True  # an older version's first build, interrupted: its lock and checkpoint, nothing else
    try:
        manifest = json.loads(read_bounded(directory / MANIFEST, 1 << 20))  # a FIFO of the user's is not read
    except (OSError, ValueError):
        return False
    return (isinstance(manifest, dict) and isinstance(manifest.get("generation"), str)
            and GENERATION_NAME.fullmatch(manifest["generation"]) is not None)


def claim_folder(directory: Path) -> None:
    """Make ``directory`` an index folder if it is missing or empty; accept one that already is.

    Raises:
        NotAnIndex: the folder holds other files (a folder of letters, say): nothing there is touched.
    """
    refuse_foreign_folder(directory)
    directory.mkdir(parents=True, exist_ok=True)
    if not (directory / MARKER).is_file():
        (directory / MARKER).write_text(MARKER_TEXT, encoding="utf-8")


def refuse_foreign_folder(directory: Path) -> None:
    """Raise :class:`NotAnIndex` for a folder that holds files and is not an index (nothing is written)."""
    if directory.is_dir() and is_index_folder(directory):
        return
    if directory.exists() and (not directory.is_dir() or any(directory.iterdir())):
        raise NotAnIndex(f"{directory} is not a policy-rag index and not empty (it has no {MARKER} file); "
                         "give --index a new or empty folder: policy-rag writes and removes files there")


def rebuild_hint(directory: Path, sources: Iterable[str] = (), model: str | None = None,
                 config: dict[str, Any] | None = None) -> str:
    """The command rebuilding ``directory``; ``config`` (the index's, as in its manifest) adds its store's flags."""
    paths = " ".join(_shell_quote(s) for s in sources) or "LETTERS..."
    model_flag = f" --model {_shell_quote(model)}" if model else ""
    return f"rag build {paths} --index {_shell_quote(str(directory))}{model_flag}{_store_flags(config)} --rebuild"


def _store_flags(config: dict[str, Any] | None) -> str:
    """``--store milvus`` and the Milvus place of an index built with it; ``--sentence-rescore`` for a local one."""
    if not isinstance(config, dict):
        return ""
    if config.get("dense") != "milvus":
        return " --sentence-rescore" if config.get("sentence_rescore") else ""
    flags = " --store milvus"
    if config.get("milvus_uri"):
        flags += f" --milvus-uri {_shell_quote(str(config['milvus_uri']))}"
    if config.get("milvus_collection", "policy_rag") != "policy_rag":
        flags += f" --collection {_shell_quote(str(config['milvus_collection']))}"
    if config.get("milvus_token_env", "MILVUS_TOKEN") != "MILVUS_TOKEN":
        flags += f" --milvus-token-env {_shell_quote(str(config['milvus_token_env']))}"
    if config.get("milvus_lexical"):
        flags += " --milvus-lexical"
    if config.get("milvus_index", "auto") != "auto":
        flags += f" --milvus-index {_shell_quote(str(config['milvus_index']))}"
    return flags


def _shell_quote(text: str) -> str:
    import shlex

    return shlex.quote(text)


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _manifest_checksum(manifest: dict[str, Any]) -> str:
    body = {k: v for k, v in manifest.items() if k != "checksum"}
    return hashlib.sha256(json.dumps(body, sort_keys=True, ensure_ascii=False).encode("utf-8")).hexdigest()


def _manifest_text(manifest: dict[str, Any]) -> str:
    """The manifest as JSON, one line per top-level key: readable, and written by the C encoder (``indent``
    would take the pure-Python one: seconds for the per-letter entries of 10^5 letters)."""
    lines = [f" {json.dumps(key)}: {json.dumps(value, ensure_ascii=False)}" for key, value in manifest.items()]
    return "{\n" + ",\n".join(lines) + "\n}\n"


def write_jsonl(path: Path, rows: Iterable[dict[str, Any]]) -> None:
    with path.open("w", encoding="utf-8") as handle:
        for row in rows:
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")


def read_jsonl(path: Path) -> Iterator[dict[str, Any]]:
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                yield json.loads(line)


@contextmanager
def build_lock(directory: Path) -> Iterator[None]:
    """Hold the folder's build lock, or raise :class:`IndexLocked` at once.

    The folder is made an index first (see :func:`claim_folder`): a folder that is not one is refused.
    """
    from filelock import FileLock, Timeout

    claim_folder(directory)
    lock = FileLock(str(directory / LOCK), timeout=0)
    try:
        lock.acquire()
    except Timeout as exc:
        raise IndexLocked(
            f"another build is writing {directory} right now (lock {directory / LOCK}); "
            "wait for it to finish, then run this again"
        ) from exc
    try:
        yield
    finally:
        lock.release()


def write_generation(directory: Path, write_files: Callable[[Path], None], manifest: dict[str, Any]) -> str:
    """Write a new generation of data files and switch the manifest to it atomically; return its name.

    The files are written into a fresh folder, flushed, and checksummed into the manifest; the
    manifest is then replaced with ``os.replace``, the one atomic step. A crash before it leaves
    the previous generation in force; older generations are deleted only after it.

    A store may hard-link an unchanged file of the previous generation instead of writing it: a staged
    file that is the same inode as the previous generation's file of that name keeps that file's manifest
    entry (its size and hash are not computed again), so saving after a small change costs the change only.
    """
    directory.mkdir(parents=True, exist_ok=True)
    generation = f"gen-{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:8]}"
    staging = directory / f".{generation}.tmp"
    staging.mkdir()
    tmp = directory / f".{MANIFEST}.{uuid.uuid4().hex[:8]}.tmp"
    try:
        write_files(staging)
        files = _file_entries(staging, *_previous_generation(directory))
        os.rename(staging, directory / generation)
        manifest = {**manifest, "format_version": FORMAT_VERSION, "generation": generation, "files": files}
        manifest["checksum"] = _manifest_checksum(manifest)
        tmp.write_text(_manifest_text(manifest), encoding="utf-8")
        _fsync(tmp)
    except BaseException as exc:
        full = out_of_space(exc, directory)
        for left in (staging, directory / generation):
            shutil.rmtree(left, ignore_errors=True)
        tmp.unlink(missing_ok=True)
        if full:
            raise DiskFull(f"no space left on the device; the index is unchanged ({directory})") from exc
        raise
    os.replace(tmp, directory / MANIFEST)
    _fsync_dir(directory)
    remove_leftovers(directory, keep=generation)
    return generation


FULL_BELOW = 1 << 20  # bytes free under which a failed write is put down to a full device


def out_of_space(error: BaseException, directory: Path) -> bool:
    """Whether ``error``, raised while writing in ``directory``, came from a full device.

    Not every writer says so: numpy reports ``12288 requested and 7136 written`` and FAISS a ``RuntimeError``;
    those count when the device has (almost) no space left.
    """
    if isinstance(error, OSError) and error.errno in (errno.ENOSPC, errno.EDQUOT):
        return True
    if not isinstance(error, (OSError, RuntimeError)):
        return False
    try:
        return shutil.disk_usage(directory).free < FULL_BELOW
    except OSError:
        return False


def _previous_generation(directory: Path) -> tuple[Path | None, dict[str, Any]]:
    """The generation folder in force and its manifest's file entries (none when there is no usable manifest)."""
    try:
        manifest = read_manifest(directory)
        return directory / str(manifest["generation"]), dict(manifest["files"])
    except (IndexFolderError, KeyError, TypeError):
        return None, {}


def _file_entries(staging: Path, previous: Path | None, entries: dict[str, Any]) -> dict[str, Any]:
    """The manifest entry of every staged file: reused for a hard link to the previous generation's file."""
    files = {}
    for path in sorted(p for p in staging.rglob("*") if p.is_file()):
        name = path.relative_to(staging).as_posix()
        stat = path.stat()
        old = entries.get(name)
        if previous is not None and isinstance(old, dict) and _same_inode(stat, previous / name):
            files[name] = old
            continue
        _fsync(path)
        files[name] = {"bytes": stat.st_size, "sha256": sha256_file(path), **_signature(stat)}
    return files


def _same_inode(stat: os.stat_result, other: Path) -> bool:
    try:
        seen = other.stat()
    except OSError:
        return False
    return (seen.st_dev, seen.st_ino) == (stat.st_dev, stat.st_ino)


def _signature(stat: os.stat_result) -> dict[str, int]:
    """What identifies a large file's bytes without reading them: its inode and last modification time."""
    if stat.st_size < HASH_ALWAYS_BELOW:
        return {}
    return {"inode": stat.st_ino, "mtime_ns": stat.st_mtime_ns}


def settled(folder: Path) -> Path:
    """Where files written into ``folder`` (a staging folder of :func:`write_generation`, or one inside it) are now.

    A store that links its unchanged files into the next generation (rather than writing them again) looks
    for them here: the staging folder was renamed to its generation's name.
    """
    for staging in (folder, *folder.parents):
        name = staging.name
        if name.startswith(".gen-") and name.endswith(".tmp"):
            if staging.exists():
                return folder
            return staging.parent / name[1:-len(".tmp")] / folder.relative_to(staging)
    return folder


def read_manifest(directory: Path, max_bytes: int | None = None) -> dict[str, Any]:
    """Read and check ``manifest.json``: a regular file of at most ``max_bytes`` (default
    ``Config.max_index_json_bytes``) whose JSON has the manifest's shape and types.

    Raises:
        IndexLoadError: missing, unreadable, edited, malformed, or of another format version.
    """
    from ..config import Config

    path = directory / MANIFEST
    if not directory.exists() or not path.exists():
        raise IndexLoadError(f"no index in {directory} ({MANIFEST} is missing). Build one: "
                             f"{rebuild_hint(directory)}")
    try:
        data = read_bounded(path, Config().max_index_json_bytes if max_bytes is None else max_bytes)
        manifest = json.loads(data.decode("utf-8"))
        if not isinstance(manifest, dict):
            raise ValueError("not an object")
    except (ValueError, UnicodeDecodeError, OSError) as exc:
        raise IndexLoadError(f"{path} is corrupt ({exc}). Rebuild the index: {rebuild_hint(directory)}") from exc
    version = manifest.get("format_version")
    problem = manifest_problem(manifest)
    if problem is not None and version == FORMAT_VERSION:
        raise IndexLoadError(f"{path} is not a valid index manifest ({problem}). Rebuild the index: "
                             f"{rebuild_hint(directory)}")
    sources = manifest.get("sources", ()) if problem is None else ()
    stored = manifest.get("config") if problem is None else None
    model = stored.get("model") if isinstance(stored, dict) else None
    if isinstance(version, int) and version > FORMAT_VERSION:
        raise IndexLoadError(
            f"{directory} was written by a newer policy-rag (index format {version}; this one reads "
            f"{FORMAT_VERSION}). Upgrade policy-rag, or rebuild: {rebuild_hint(directory, sources, model, stored)}")
    if version != FORMAT_VERSION:
        raise IndexLoadError(f"{directory} has index format {version!r}, not {FORMAT_VERSION}. "
                             f"Rebuild: {rebuild_hint(directory, sources, model, stored)}")
    if manifest.get("checksum") != _manifest_checksum(manifest):
        raise IndexLoadError(f"{path} was modified after it was written (checksum mismatch). "
                             f"Rebuild: {rebuild_hint(directory, sources, model, stored)}")
    return manifest


def verify_files(directory: Path, manifest: dict[str, Any], max_bytes: int | None = None,
                 max_json_bytes: int | None = None) -> Path:
    """Check every data file against the manifest's sizes and hashes; return the generation folder.

    Every name is confined to the generation folder, and each file must be a regular file (no link, FIFO or
    device, and no linked folder on the way) of at most ``max_bytes`` (default ``Config.max_index_file_bytes``; a
    ``.json`` file, read whole into memory, at most ``max_json_bytes``, default ``Config.max_index_json_bytes``);
    an entry of the folder the manifest does not list makes the index refused (a hidden file, which no store
    opens, is ignored). Every file's size is checked.
    A file under :data:`HASH_ALWAYS_BELOW` bytes is hashed on every load; a larger one (a vector segment:
    gigabytes at 10^6 chunks, 3 s of SHA-256 on this box) was hashed when it was written, and is hashed again
    only if it is no longer the same inode with the same modification time (any write to it, or a copy in its
    place, changes one of them).

    Raises:
        IndexLoadError: a file is missing, truncated, altered, of another kind or unlisted.
    """
    from ..config import Config

    limit = Config().max_index_file_bytes if max_bytes is None else max_bytes
    json_limit = Config().max_index_json_bytes if max_json_bytes is None else max_json_bytes
    generation = directory / str(manifest.get("generation", ""))
    hint = rebuild_hint(directory, manifest.get("sources", ()), manifest.get("config", {}).get("model"),
                        manifest.get("config"))
    files: dict[str, Any] = manifest.get("files", {})
    listed = listed_entries(files)
    found = folder_entries(generation)
    if found is None:
        raise IndexLoadError(f"index folder {generation} is missing or not a folder. Rebuild: {hint}")
    for name, kind in sorted(found.items()):
        if name not in listed and kind == "file" and name.rsplit("/", 1)[-1].startswith("."):
            continue  # a hidden file a copy added (.DS_Store): ignored, as no store opens a hidden name
        if listed.get(name) != kind:
            what = "a link" if kind == "link" else "not listed in the manifest" if name not in listed else \
                f"a {kind} where the manifest lists a {listed[name]}"
            raise IndexLoadError(f"index entry {generation / name} is {what}; an index holds only the regular "
                                 f"files its manifest lists. Rebuild: {hint}")
    for name, expected in files.items():
        path = generation / name
        if name not in found:
            raise IndexLoadError(f"index file {path} is missing. Rebuild: {hint}")
        stat = path.stat(follow_symlinks=False)
        bound, setting = (json_limit, "max_index_json_bytes") if name.endswith(".json") else \
            (limit, "max_index_file_bytes")
        if stat.st_size > bound:
            raise IndexLoadError(f"index file {path} has {stat.st_size:,} bytes; the limit is {bound:,} "
                                 f"(Config.{setting})")
        unchanged = "inode" in expected and _signature(stat) == {k: expected.get(k) for k in ("inode", "mtime_ns")}
        if stat.st_size != expected["bytes"] or (not unchanged and sha256_file(path) != expected["sha256"]):
            raise IndexLoadError(f"index file {path} is corrupt or truncated (size or checksum differs from "
                                 f"the manifest). Rebuild: {hint}")
    return generation


def _fsync(path: Path) -> None:
    with path.open("rb+") as handle:
        os.fsync(handle.fileno())


def _fsync_dir(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:  # pragma: no cover - platforms without directory fds
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
