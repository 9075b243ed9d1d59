"""Read letter files into plain text, and report every file that cannot be read with the reason.

Formats: .txt/.md in any encoding and .html (text.py), .docx and legacy .doc (office.py), .pdf with a
text layer or scanned (pdf.py), photos and scans .png/.jpg/.tif (ocr.py, the ``ocr`` extra) and OFD
(ofd.py). Scanned and fixed-layout pages go through layout.py, which rebuilds paragraphs.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from ..config import Config
from .document import Document, Skipped, UnreadableFile, normalize_newlines, printable, printable_lines
from .layout import join_wrapped_lines
from .ocr import IMAGE_SUFFIXES, Ocr, read_image
from .ofd import read_ofd
from .office import read_doc, read_docx
from .pdf import read_pdf
from .text import decode_bytes, html_to_text, sniff_binary

__all__ = ["SUPPORTED_SUFFIXES", "Document", "OcrProgressFn", "Skipped", "UnreadableFile", "decode_bytes",
           "html_to_text", "iter_files", "normalize_newlines", "print_ocr_page", "printable", "printable_lines",
           "read_document", "read_documents", "sniff_binary"]

TEXT_SUFFIXES = {".txt", ".md", ".text"}
HTML_SUFFIXES = {".html", ".htm", ".xhtml"}
SUPPORTED_SUFFIXES = TEXT_SUFFIXES | HTML_SUFFIXES | IMAGE_SUFFIXES | {".docx", ".doc", ".pdf", ".ofd"}
# (path, pages read, pages to read) while a scan is read by OCR
OcrProgressFn = Callable[[str, int, int], None]


def print_ocr_page(path: str, done: int, total: int) -> None:
    """An :data:`OcrProgressFn` for the programs: one line on stderr per scanned page read (OCR is slow)."""
    import sys

    print(f"  OCR {printable(Path(path).name)}: page {done}/{total}", file=sys.stderr, flush=True)


def iter_files(paths: Iterable[str | Path]) -> Iterator[Path | Skipped]:
    """Expand files and folders (recursively, sorted) into candidate letter files.

    Unsupported suffixes found inside folders are ignored silently (folders hold other files);
    an unsupported file named explicitly is reported as skipped, and so is a folder that cannot be read.
    """
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            yield from _walk(path)
        elif path.is_file():
            if path.suffix.lower() in SUPPORTED_SUFFIXES:
                yield path
            else:
                yield Skipped(str(path), f"unsupported file type {path.suffix or '(none)'!r}; "
                              f"supported: {', '.join(sorted(SUPPORTED_SUFFIXES))}")
        else:
            yield Skipped(str(path), "no such file or folder")


def _walk(folder: Path) -> Iterator[Path | Skipped]:
    """The supported, visible files under ``folder`` in sorted order; unreadable subfolders as skipped.

    Linked folders are not entered; a linked file is read only when it points inside ``folder`` (a link to
    ``/etc/passwd`` dropped among the letters is skipped, with the reason).
    """
    errors: list[OSError] = []
    found: list[Path] = []
    for root, dirs, names in os.walk(folder, onerror=errors.append):
        dirs.sort()
        found.extend(Path(root, name) for name in names
                     if not name.startswith(".") and Path(name).suffix.lower() in SUPPORTED_SUFFIXES)
    for error in errors:
        yield Skipped(str(error.filename), f"cannot read folder: {error.strerror or error}")
    inside = folder.resolve()
    for path in sorted(found):
        if path.is_symlink() and not path.resolve().is_relative_to(inside):
            yield Skipped(str(path), f"a link to a file outside {folder}: not followed")
        elif path.is_file():
            yield path


def read_documents(paths: Iterable[str | Path], max_bytes: int | None = None, *, config: Config | None = None,
                   on_ocr_page: OcrProgressFn | None = None) -> tuple[list[Document], list[Skipped]]:
    """Read every letter under ``paths``.

    Args:
        paths: files or folders.
        max_bytes: files larger than this are skipped (default ``config.max_file_bytes``).
        config: the input limits (sizes, decompressed sizes, characters); default :class:`Config`'s.
        on_ocr_page: called with (path, pages read, pages to read) as each scanned page is read.

    Returns:
        The readable documents and the skipped files with their reasons.
    """
    ocr = Ocr()  # one engine for every scan in the folder: loading the models takes a second
    documents: list[Document] = []
    skipped: list[Skipped] = []
    for item in iter_files(paths):
        if isinstance(item, Skipped):
            skipped.append(item)
            continue
        if on_ocr_page is not None:
            ocr.on_page = (lambda done, total, path=str(item): on_ocr_page(path, done, total))
        try:
            documents.append(read_document(item, max_bytes=max_bytes, config=config, ocr=ocr))
        except UnreadableFile as exc:
            skipped.append(Skipped(str(item), str(exc)))
        except OSError as exc:
            skipped.append(Skipped(str(item), f"cannot open: {exc.strerror or exc}"))
    return documents, skipped


def read_document(path: str | Path, max_bytes: int | None = None, *, config: Config | None = None,
                  ocr: Ocr | None = None) -> Document:
    """Read one file into a :class:`Document`.

    Args:
        path: the file.
        max_bytes: the largest file read (default ``config.max_file_bytes``).
        config: the input limits; default :class:`Config`'s.
        ocr: the OCR engine for scans (default: a new one, loaded only if the file is a scan).

    Raises:
        UnreadableFile: empty, binary, undecodable, corrupt, over a limit or without a text layer.
    """
    config = config or Config()
    max_bytes = config.max_file_bytes if max_bytes is None else max_bytes
    path = Path(path)
    size = path.stat().st_size
    if size > max_bytes:
        raise UnreadableFile(f"too large ({size / 1e6:.1f} MB; the limit is {max_bytes / 1e6:.0f} MB)")
    data = path.read_bytes()
    if not data:
        raise UnreadableFile("empty file")
    if not data.strip():
        raise UnreadableFile("empty file (whitespace only)")
    suffix = path.suffix.lower()
    text, encoding = _read_text(data, suffix, config, ocr or Ocr())
    text = join_wrapped_lines(normalize_newlines(text))  # a scan's or a copied page's fixed-width lines rejoined
    if not text.strip():
        raise UnreadableFile("empty file (whitespace only)" if suffix in TEXT_SUFFIXES | HTML_SUFFIXES else
                             "no text found in the scan" if suffix in IMAGE_SUFFIXES else "no text in the document")
    if len(text) > config.max_letter_chars:
        raise UnreadableFile(f"too long for one letter ({len(text):,} characters; the limit is "
                             f"{config.max_letter_chars:,}: raise Config.max_letter_chars to index it)")
    return Document(str(path), text, hashlib.sha256(text.encode("utf-8")).hexdigest(), encoding)




def _read_text(data: bytes, suffix: str, config: Config, ocr: Ocr) -> tuple[str, str]:
    """The file's text and how it was read (an encoding, or the format's name)."""
    if suffix == ".docx":
        return read_docx(data, config), "docx"
    if suffix == ".pdf":
        return read_pdf(data, config, ocr), "pdf"
    if suffix in IMAGE_SUFFIXES:
        return read_image(data, config, ocr), "ocr"
    if suffix == ".doc":
        return read_doc(data, config), "doc"
    if suffix == ".ofd":
        return read_ofd(data, config), "ofd"
    if suffix in HTML_SUFFIXES:
        raw, encoding = decode_bytes(data)
        return html_to_text(raw, config.max_html_depth), encoding
    return decode_bytes(data)
