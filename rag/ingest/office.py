"""Word files: .docx through python-docx (after the zip caps), legacy .doc through Debian's antiword."""

from __future__ import annotations

import io
import shutil
import subprocess
import tempfile
import zipfile
from pathlib import Path

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




_OLE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
ANTIWORD_INSTALL = "apt-get install antiword"


def read_doc(data: bytes, config: Config) -> str:
    """Text of a legacy Word 97-2003 .doc, through Debian's ``antiword`` (one line per paragraph, UTF-8).

    Raises:
        UnreadableFile: antiword is missing, the file is not a Word binary document, damaged, or too slow.
    """
    antiword = shutil.which("antiword")
    if antiword is None:
        raise UnreadableFile(f"reading legacy .doc needs antiword (Debian: {ANTIWORD_INSTALL})")
    if data.startswith(b"{\\rtf"):
        raise UnreadableFile("an RTF file named .doc: save it as .docx")
    if not data.startswith(_OLE):
        raise UnreadableFile("not a Word 97-2003 document (.doc): no OLE header")
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder, "letter.doc")
        path.write_bytes(data)
        try:
            done = subprocess.run([antiword, "-m", "UTF-8.txt", "-w", "0", str(path)], capture_output=True,
                                  timeout=config.max_tool_seconds, check=False)
        except subprocess.TimeoutExpired as exc:
            raise UnreadableFile(f"antiword took more than {config.max_tool_seconds:g} s "
                                 "(Config.max_tool_seconds)") from exc
    if done.returncode != 0:
        reason = (done.stderr.decode("utf-8", "replace").strip().splitlines() or ["no message"])[-1]
        raise UnreadableFile(f"corrupt .doc (antiword: {reason})")
    return done.stdout.decode("utf-8", "replace")
