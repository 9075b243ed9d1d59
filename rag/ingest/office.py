"""Word files: .docx through python-docx (after the zip caps), legacy .doc through Debian's antiword."""

from __future__ import annotations

import io
import zipfile

from ..archive import ArchiveTooLarge, check_zip
from ..config import Config
from .document import UnreadableFile


def read_docx(data: bytes, config: Config) -> str:
    """Paragraphs and table rows of a .docx, after its zip has been read within the caps."""
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


