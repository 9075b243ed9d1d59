"""OFD (GB/T 33190, China's fixed-layout document format): the text of every page, read from its XML.

An OFD file is a zip of XML: ``OFD.xml`` names the document (``DocBody/DocRoot``), whose
``Document.xml`` lists the pages (``Pages/Page@BaseLoc``); each page's content holds ``TextObject``
elements (``Boundary="x y w h"`` in millimetres, ``Size``) with ``TextCode`` runs placed at ``X``/``Y``
inside them. The zip is read under the archive caps first (:func:`rag.archive.check_zip`); the
positioned runs then go through the same layout clean-up as OCR, which rejoins paragraphs.
We read the XML ourselves: easyofd (checked 2026-04) writes the file into the working directory and
extracts every member to disk without size caps, to render pages, which is more than text needs.
"""

from __future__ import annotations

import posixpath
import zipfile
from xml.etree import ElementTree

from ..archive import ArchiveTooLarge, check_zip
from ..config import Config
from .document import UnreadableFile
from .layout import TextLine, recover_text

_NS = "{http://www.ofdspec.org/2016}"


def read_ofd(data: bytes, config: Config) -> str:
    """Text of an OFD document, page by page, paragraphs rejoined.

    Raises:
        UnreadableFile: not a zip, over a cap, missing or malformed XML parts, too many pages.
    """
    try:
        archive = check_zip(data, max_bytes=config.max_archive_bytes, max_entries=config.max_archive_entries,
                            kind=".ofd")
    except ArchiveTooLarge as exc:
        raise UnreadableFile(str(exc)) from exc
    except zipfile.BadZipFile as exc:
        raise UnreadableFile(f"corrupt or truncated .ofd ({exc})") from exc
    with archive:
        # every page may name the same content part: the bytes parsed are counted per document, not per member
        budget = _Budget(config.max_archive_bytes)
        try:
            root = _xml(archive, "OFD.xml", budget)
            doc_root = (root.findtext(f"{_NS}DocBody/{_NS}DocRoot") or "").strip()
            document = _xml(archive, doc_root, budget)
            pages = [page.get("BaseLoc", "") for page in document.iter(f"{_NS}Page")]
            if len(pages) > config.max_archive_entries:
                raise UnreadableFile(f".ofd has {len(pages):,} pages; the limit is {config.max_archive_entries:,} "
                                     "(Config.max_archive_entries)")
            folder = posixpath.dirname(doc_root)
            lines = [_page_lines(_xml(archive, _resolve(folder, loc), budget)) for loc in pages]
        except (KeyError, ElementTree.ParseError, ValueError) as exc:
            raise UnreadableFile(f"corrupt .ofd ({exc.__class__.__name__}: {exc})") from exc
    return recover_text(lines)


def _resolve(folder: str, location: str) -> str:
    location = location.strip()
    return location.lstrip("/") if location.startswith("/") else posixpath.normpath(posixpath.join(folder, location))


class _Budget:
    """The XML bytes one document may still parse (a part is counted each time it is parsed)."""

    def __init__(self, most: int) -> None:
        self.most = most
        self.parsed = 0

    def spend(self, size: int) -> None:
        self.parsed += size
        if self.parsed > self.most:
            raise UnreadableFile(f".ofd pages parse to more than {self.most / 1e6:,.0f} MB of XML (its pages repeat "
                                 f"one large part?); the limit is Config.max_archive_bytes = {self.most:,}")


def _xml(archive: zipfile.ZipFile, name: str, budget: _Budget) -> ElementTree.Element:
    """One XML part; a document type declaration (entity expansion) is refused: OFD never needs one."""
    if not name:
        raise ValueError("no DocRoot in OFD.xml")
    data = archive.read(name)  # at most max_archive_bytes: check_zip has read every member within it
    budget.spend(len(data))
    if b"<!DOCTYPE" in data or b"<!ENTITY" in data:
        raise ValueError(f"{name} declares a document type")
    return ElementTree.fromstring(data)


def _numbers(text: str | None, count: int) -> list[float]:
    values = [float(v) for v in (text or "").split()]
    return (values + [0.0] * count)[:count]


def _page_lines(page: ElementTree.Element) -> list[TextLine]:
    """Each text run of a page as a box in millimetres (a character is about ``Size`` wide, Latin half that)."""
    lines = []
    for text_object in page.iter(f"{_NS}TextObject"):
        x, y, _width, height = _numbers(text_object.get("Boundary"), 4)
        size = float(text_object.get("Size") or height or 1)
        for code in text_object.iter(f"{_NS}TextCode"):
            text = code.text or ""
            if not text.strip():
                continue
            left = x + float(code.get("X") or 0)
            baseline = y + float(code.get("Y") or size)
            width = sum(size if ord(c) > 0x2E7F else size / 2 for c in text)
            lines.append(TextLine(text, left, baseline - size, left + width, baseline))
    return lines
