"""Keep uploaded letter files under the index folder: sanitised names, checked to be readable before they are kept."""

from __future__ import annotations

import os
import re
import shutil
import unicodedata
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from rag.config import Config
from rag.ingest import SUPPORTED_SUFFIXES, Skipped, UnreadableFile, read_document
from rag.ingest.ocr import Ocr

FOLDER = "uploads"
_MAX_STEM = 100
_UNSAFE = re.compile(r"[^\w\-.()（）〔〕【】［］]+")
_RESERVED = frozenset({"con", "prn", "aux", "nul", *(f"{dev}{i}" for dev in ("com", "lpt") for i in range(1, 10))})


class _ScanFound(Exception):
    """A file passed every check up to OCR: a scan, read (slowly, with progress) when it is indexed."""


class _NoOcrYet(Ocr):
    """Checks an upload without running OCR: reading it twice would double the slowest step."""

    def load(self) -> None:
        raise _ScanFound


@dataclass(frozen=True)
class Upload:
    """An accepted file: the name it was uploaded under and where it is stored now."""

    name: str
    path: Path


def safe_filename(name: str, default: str = "letter") -> str:
    """A file name safe to create in one folder: no directories, no hidden files, no odd characters.

    Example:
        >>> safe_filename("../../etc/passwd.txt"), safe_filename("慈卫建〔2021〕15号 答复.TXT")
        ('passwd.txt', '慈卫建〔2021〕15号_答复.txt')
    """
    name = unicodedata.normalize("NFC", str(name))
    name = re.split(r"[\\/]", name)[-1]
    name = "".join(c for c in name if unicodedata.category(c)[0] != "C")
    name = _UNSAFE.sub("_", name)
    name = re.sub(r"\.{2,}", ".", name).strip("_- ")
    stem, dot, suffix = name.rpartition(".")
    if not dot:
        stem, suffix = name, ""
    suffix = suffix.strip("._- ")
    stem = stem.strip("._- ")[:_MAX_STEM] or default
    if stem.lower() in _RESERVED:
        stem = f"_{stem}"
    return f"{stem}.{suffix.lower()}" if suffix else stem


def store_uploads(files: Iterable[str | Path], folder: str | Path, max_bytes: int = 20_000_000,
                  config: Config | None = None) -> tuple[list[Upload], list[Skipped]]:
    """Check uploaded files and copy the good ones into ``folder`` under sanitised names.

    A file is refused (with the reason) when its type is not supported, it is too large, or it
    cannot be read as a letter; nothing is written for it. A scan is checked up to its OCR, which
    runs once, when it is indexed. A stored file with the same name is
    replaced, so uploading a corrected letter updates it.

    Args:
        files: the uploaded files (their own names are the names the user chose).
        folder: where to keep them (``<index>/uploads``); created if missing.
        max_bytes: the size limit per file.
        config: the other input limits (decompressed size, characters), as :func:`rag.ingest.read_document`.

    Returns:
        The stored uploads and the refused files (``Skipped.path`` is the uploaded name).
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    root = folder.resolve()
    stored: list[Upload] = []
    refused: list[Skipped] = []
    taken: set[str] = set()
    for source in map(Path, files):
        name = source.name
        suffix = source.suffix.lower()
        if suffix not in SUPPORTED_SUFFIXES:
            refused.append(Skipped(name, f"unsupported file type {suffix or '(none)'!r}; "
                                         f"supported: {', '.join(sorted(SUPPORTED_SUFFIXES))}"))
            continue
        try:
            size = source.stat().st_size
            if size > max_bytes:
                raise UnreadableFile(f"too large ({size / 1e6:.1f} MB; the limit is {max_bytes / 1e6:.0f} MB)")
            read_document(source, max_bytes=max_bytes, config=config, ocr=_NoOcrYet())
        except _ScanFound:
            pass
        except UnreadableFile as exc:
            refused.append(Skipped(name, str(exc)))
            continue
        except OSError as exc:
            refused.append(Skipped(name, f"cannot open: {exc.strerror or exc}"))
            continue
        target_name = safe_filename(name)
        stem, suffix = Path(target_name).stem, Path(target_name).suffix
        number = 1
        while target_name.lower() in taken:
            number += 1
            target_name = f"{stem}-{number}{suffix}"
        taken.add(target_name.lower())
        target = root / target_name
        if target.parent != root:  # safe_filename guarantees this; refuse rather than trust it
            refused.append(Skipped(name, "unsafe file name"))
            continue
        partial = root / f".incoming-{uuid.uuid4().hex}{suffix}"
        shutil.copyfile(source, partial)
        os.replace(partial, target)
        stored.append(Upload(name, target))
    return stored, refused


def discard(paths: Iterable[str | Path], folder: str | Path) -> list[Path]:
    """Delete the files among ``paths`` that are stored directly in ``folder``; others are left alone."""
    root = Path(folder).resolve()
    deleted = []
    for path in map(Path, paths):
        resolved = path.resolve()
        if resolved.parent == root and resolved.is_file():
            resolved.unlink()
            deleted.append(resolved)
    return deleted


__all__ = ["FOLDER", "Upload", "discard", "safe_filename", "store_uploads"]
