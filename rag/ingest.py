"""Read letter files (.txt/.md/.docx/.pdf/.html) into plain text; report every file that cannot be read."""

from __future__ import annotations

import hashlib
import io
import re
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

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
    an unsupported file named explicitly is reported as skipped.
    """
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            for child in sorted(p for p in path.rglob("*") if p.is_file()):
                if child.name.startswith("."):
                    continue
                if child.suffix.lower() in SUPPORTED_SUFFIXES:
                    yield child
        elif path.is_file():
            if path.suffix.lower() in SUPPORTED_SUFFIXES:
                yield path
            else:
                yield Skipped(str(path), f"unsupported file type {path.suffix or '(none)'!r}; "
                              f"supported: {', '.join(sorted(SUPPORTED_SUFFIXES))}")
        else:
            yield Skipped(str(path), "no such file or folder")


def read_documents(
    paths: Iterable[str | Path], max_bytes: int = 20_000_000
) -> tuple[list[Document], list[Skipped]]:
    """Read every letter under ``paths``.

    Args:
        paths: files or folders.
        max_bytes: files larger than this are skipped (a reply letter is a few kB).

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
            documents.append(read_document(item, max_bytes=max_bytes))
        except UnreadableFile as exc:
            skipped.append(Skipped(str(item), str(exc)))
        except OSError as exc:
            skipped.append(Skipped(str(item), f"cannot open: {exc.strerror or exc}"))
    return documents, skipped


def read_document(path: str | Path, max_bytes: int = 20_000_000) -> Document:
    """Read one file into a :class:`Document`.

    Raises:
        UnreadableFile: empty, binary, undecodable, corrupt, too large or without a text layer.
    """
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
        text, encoding = _read_docx(data), "docx"
    elif suffix == ".pdf":
        text, encoding = _read_pdf(data), "pdf"
    elif suffix in HTML_SUFFIXES:
        raw, encoding = decode_bytes(data)
        text = html_to_text(raw)
    else:
        text, encoding = decode_bytes(data)
    text = normalize_newlines(text)
    if not text.strip():
        raise UnreadableFile("empty file (whitespace only)" if suffix not in {".pdf", ".docx"} else
                             "no text layer: needs OCR" if suffix == ".pdf" else "no text in the document")
    return Document(str(path), text, hashlib.sha256(text.encode("utf-8")).hexdigest(), encoding)


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


def _read_docx(data: bytes) -> str:
    try:
        import docx
    except ImportError as exc:  # pragma: no cover - part of the default install
        raise UnreadableFile("reading .docx needs python-docx (pip install python-docx)") from exc
    try:
        document = docx.Document(io.BytesIO(data))
    except (zipfile.BadZipFile, KeyError, ValueError) as exc:
        raise UnreadableFile(f"corrupt or truncated .docx ({exc.__class__.__name__})") from exc
    except Exception as exc:  # python-docx raises assorted lxml/opc errors on damaged files
        raise UnreadableFile(f"corrupt .docx ({exc.__class__.__name__}: {exc})") from exc
    lines = [p.text for p in document.paragraphs]
    for table in document.tables:
        for row in table.rows:
            lines.append(" | ".join(cell.text.strip() for cell in row.cells))
    return "\n".join(lines)


def _read_pdf(data: bytes) -> str:
    try:
        from pypdf import PdfReader
        from pypdf.errors import PdfReadError
    except ImportError as exc:  # pragma: no cover - part of the default install
        raise UnreadableFile("reading .pdf needs pypdf (pip install pypdf)") from exc
    try:
        reader = PdfReader(io.BytesIO(data))
        pages = [page.extract_text() or "" for page in reader.pages]
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
