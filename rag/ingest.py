"""Read letter files (.txt/.md/.docx/.pdf/.html) into plain text; report every file that cannot be read."""

from __future__ import annotations

import hashlib
import io
import os
import re
import unicodedata
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .archive import ArchiveTooLarge, check_zip
from .config import Config

TEXT_SUFFIXES = {".txt", ".md", ".text"}
HTML_SUFFIXES = {".html", ".htm", ".xhtml"}
SUPPORTED_SUFFIXES = TEXT_SUFFIXES | HTML_SUFFIXES | {".docx", ".pdf"}

_MAGIC = (
    (b"\x89PNG", "PNG image"),
    (b"\xff\xd8\xff", "JPEG image"),
    (b"GIF8", "GIF image"),
    (b"%PDF", "PDF document"),
    (b"PK\x03\x04", "ZIP archive"),
    (b"\xd0\xcf\x11\xe0", "legacy Office document (.doc/.xls): save it as .docx"),
    (b"\x7fELF", "executable"),
    (b"\x1f\x8b", "gzip archive"),
)


@dataclass(frozen=True)
class Document:
    """The text of one readable file, with line ends normalised to ``\\n``."""

    path: str
    text: str
    sha256: str
    encoding: str


@dataclass(frozen=True)
class Skipped:
    """A file that was not indexed, and why."""

    path: str
    reason: str

    def __str__(self) -> str:
        return f"{self.path}: {self.reason}"


class UnreadableFile(Exception):
    """Raised by the readers with a reason a person can act on."""


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
    """The supported, visible files under ``folder`` in sorted order; unreadable subfolders as skipped."""
    errors: list[OSError] = []
    found: list[Path] = []
    for root, dirs, names in os.walk(folder, onerror=errors.append):
        dirs.sort()
        found.extend(Path(root, name) for name in names
                     if not name.startswith(".") and Path(name).suffix.lower() in SUPPORTED_SUFFIXES)
    for error in errors:
        yield Skipped(str(error.filename), f"cannot read folder: {error.strerror or error}")
    yield from (p for p in sorted(found) if p.is_file())


def read_documents(paths: Iterable[str | Path], max_bytes: int | None = None, *,
                   config: Config | None = None) -> tuple[list[Document], list[Skipped]]:
    """Read every letter under ``paths``.

    Args:
        paths: files or folders.
        max_bytes: files larger than this are skipped (default ``config.max_file_bytes``).
        config: the input limits (sizes, decompressed sizes, characters); default :class:`Config`'s.

    Returns:
        The readable documents and the skipped files with their reasons.
    """
    documents: list[Document] = []
    skipped: list[Skipped] = []
    for item in iter_files(paths):
        if isinstance(item, Skipped):
            skipped.append(item)
            continue
        try:
            documents.append(read_document(item, max_bytes=max_bytes, config=config))
        except UnreadableFile as exc:
            skipped.append(Skipped(str(item), str(exc)))
        except OSError as exc:
            skipped.append(Skipped(str(item), f"cannot open: {exc.strerror or exc}"))
    return documents, skipped


def read_document(path: str | Path, max_bytes: int | None = None, *, config: Config | None = None) -> Document:
    """Read one file into a :class:`Document`.

    Args:
        path: the file.
        max_bytes: the largest file read (default ``config.max_file_bytes``).
        config: the input limits; default :class:`Config`'s.

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
    if suffix == ".docx":
        text, encoding = _read_docx(data, config), "docx"
    elif suffix == ".pdf":
        text, encoding = _read_pdf(data, config), "pdf"
    elif suffix in HTML_SUFFIXES:
        raw, encoding = decode_bytes(data)
        text = html_to_text(raw)
    else:
        text, encoding = decode_bytes(data)
    text = normalize_newlines(text)
    if not text.strip():
        raise UnreadableFile("empty file (whitespace only)" if suffix not in {".pdf", ".docx"} else
                             "no text layer: needs OCR" if suffix == ".pdf" else "no text in the document")
    if len(text) > config.max_letter_chars:
        raise UnreadableFile(f"too long for one letter ({len(text):,} characters; the limit is "
                             f"{config.max_letter_chars:,}: raise Config.max_letter_chars to index it)")
    return Document(str(path), text, hashlib.sha256(text.encode("utf-8")).hexdigest(), encoding)


def printable(text: str) -> str:
    """Text from a file name or a letter made safe to print on one terminal line.

    Control and format characters (newlines, ANSI escape sequences, bidirectional overrides, lone
    surrogates) are shown as Python escapes, so a crafted name cannot forge or recolour output lines.
    """
    return "".join(c.encode("unicode_escape", "backslashreplace").decode("ascii")
                   if unicodedata.category(c)[0] == "C" else c for c in text)


def normalize_newlines(text: str) -> str:
    """Unify line ends and drop a BOM and NUL characters, so offsets mean the same everywhere."""
    return text.lstrip("\ufeff").replace("\r\n", "\n").replace("\r", "\n").replace("\x00", "")


def decode_bytes(data: bytes) -> tuple[str, str]:
    """Decode a text file: UTF-8 (with or without BOM), UTF-16 with BOM, GB18030/GBK, else detected.

    Raises:
        UnreadableFile: the bytes are binary or no encoding fits.
    """
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8", errors="replace"), "utf-8-sig"
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16"), "utf-16"
    kind = sniff_binary(data)
    if kind:
        raise UnreadableFile(f"binary file ({kind}), not text")
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    # Line by line: files pasted together from several sources mix UTF-8 and GBK lines.
    lines, used = [], set()
    for raw in data.split(b"\n"):
        for encoding in ("utf-8", "gb18030"):
            try:
                lines.append(raw.decode(encoding))
                if not raw.isascii():  # ASCII reads the same in both and says nothing
                    used.add(encoding)
                break
            except UnicodeDecodeError:
                continue
        else:
            lines = []
            break
    if lines:
        return "\n".join(lines), "gb18030" if used == {"gb18030"} else "mixed utf-8/gb18030"
    from charset_normalizer import from_bytes

    best = from_bytes(data).best()
    if best is None or best.encoding is None:
        raise UnreadableFile("undecodable text: not UTF-8, GB18030 or any encoding detected")
    return str(best), best.encoding


def sniff_binary(data: bytes) -> str | None:
    """Name the kind of a binary file, or ``None`` for text."""
    for magic, kind in _MAGIC:
        if data.startswith(magic):
            return kind
    head = data[:8192]
    if b"\x00" in head:
        return "contains NUL bytes"
    controls = sum(1 for b in head if b < 9 or 13 < b < 32)
    if head and controls / len(head) > 0.1:
        return "mostly control bytes"
    return None


def _read_docx(data: bytes, config: Config) -> str:
    try:
        import docx
    except ImportError as exc:  # pragma: no cover - part of the default install
        raise UnreadableFile("reading .docx needs python-docx (pip install python-docx)") from exc
    try:
        # every member is inflated incrementally under the caps first: python-docx reads whole members
        archive = check_zip(data, max_bytes=config.max_archive_bytes, max_entries=config.max_archive_entries,
                            kind=".docx")
        archive.close()
        document = docx.Document(io.BytesIO(data))
    except ArchiveTooLarge as exc:
        raise UnreadableFile(str(exc)) from exc
    except (zipfile.BadZipFile, KeyError, ValueError) as exc:
        raise UnreadableFile(f"corrupt or truncated .docx ({exc.__class__.__name__})") from exc
    except Exception as exc:  # python-docx raises assorted lxml/opc errors on damaged files
        raise UnreadableFile(f"corrupt .docx ({exc.__class__.__name__}: {exc})") from exc
    lines = [p.text for p in document.paragraphs]
    for table in document.tables:
        for row in table.rows:
            lines.append(" | ".join(cell.text.strip() for cell in row.cells))
    return "\n".join(lines)


def _read_pdf(data: bytes, config: Config) -> str:
    try:
        from pypdf import PdfReader, apply_configuration
        from pypdf.errors import LimitReachedError, PdfReadError
    except ImportError as exc:  # pragma: no cover - part of the default install
        raise UnreadableFile("reading .pdf needs pypdf (pip install pypdf)") from exc
    cap = config.max_archive_bytes
    over = (f"its streams inflate to more than {cap / 1e6:,.0f} MB (a decompression bomb?); "
            f"the limit is Config.max_archive_bytes = {cap:,}")
    # pypdf caps each stream; the content streams of all pages together are capped here, before text extraction
    limits: dict[str, Any] = {name: cap for name in (
        "zlib_maximum_output_length", "lzw_maximum_output_length", "run_length_maximum_output_length",
        "array_based_stream_maximum_output_length", "maximum_declared_stream_length", "brotli_maximum_output_length")}
    pages: list[str] = []
    try:
        with apply_configuration(**limits):
            reader = PdfReader(io.BytesIO(data))
            if len(reader.pages) > config.max_archive_entries:
                raise UnreadableFile(f"PDF has {len(reader.pages):,} pages; the limit is "
                                     f"{config.max_archive_entries:,} (Config.max_archive_entries)")
            inflated = 0
            for page in reader.pages:
                contents = page.get_contents()
                inflated += len(contents.get_data()) if contents is not None else 0
                if inflated > cap:
                    raise UnreadableFile(over)
                pages.append(page.extract_text() or "")
    except LimitReachedError as exc:
        raise UnreadableFile(over) from exc
    except (PdfReadError, ValueError, KeyError, OSError) as exc:
        raise UnreadableFile(f"corrupt PDF ({exc.__class__.__name__})") from exc
    text = "\n".join(pages)
    if not text.strip():
        raise UnreadableFile("no text layer: needs OCR")
    return text


_BLOCK_TAGS = ("p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "section", "article", "table")


def html_to_text(html: str) -> str:
    """Visible text of an HTML page, one block element per line; scripts and styles dropped."""
    from selectolax.lexbor import LexborHTMLParser as HTMLParser

    tree = HTMLParser(html)
    for node in tree.css("script, style, noscript, template, head, nav, footer"):
        node.decompose()
    root = tree.body or tree.root
    if root is None:
        return ""
    for tag in _BLOCK_TAGS:
        for node in root.css(tag):
            node.insert_after("\n")
    text = root.text(separator="", strip=False)
    lines = (re.sub(r"[ \t\u00a0]+", " ", line).strip() for line in text.split("\n"))
    return "\n".join(line for line in lines if line)
