"""Generated OFD files (GB/T 33190): letter text laid out on A4 pages as positioned TextObjects, zipped.

The layout is what OFD writers of government systems produce: one ``TextObject`` per printed line
(``Boundary`` in millimetres), paragraphs indented by two characters, a page number ``— n —`` at the
foot of each page; the text itself is only in ``TextCode`` elements.
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path
from xml.sax.saxutils import escape

NS = "http://www.ofdspec.org/2016"
SIZE = 4.2  # mm: a 12 pt character
LEFT, TOP, WIDTH, LINE, LINES_PER_PAGE = 25.0, 30.0, 160.0, 7.0, 30


def _units(char: str) -> float:
    return 1.0 if ord(char) > 0x2E7F else 0.5


def wrap(text: str) -> list[tuple[str, float]]:
    """Printed lines as (text, left offset in mm): paragraphs indented by two characters, wrapped at the width."""
    lines: list[tuple[str, float]] = []
    for paragraph in text.split("\n"):
        paragraph = paragraph.strip().replace("\u3000", "")
        if not paragraph:
            lines.append(("", 0.0))  # an empty line: a vertical gap on the page
            continue
        indent, line, used = 2 * SIZE, "", 2.0
        for char in paragraph:
            if (used + _units(char)) * SIZE > WIDTH:
                lines.append((line, indent))
                indent, line, used = 0.0, "", 0.0
            line += char
            used += _units(char)
        lines.append((line, indent))
    return lines


def _text_object(object_id: int, text: str, x: float, y: float) -> str:
    return (f'<ofd:TextObject ID="{object_id}" Boundary="{x:.2f} {y:.2f} {WIDTH:.2f} {LINE:.2f}" Font="1" '
            f'Size="{SIZE}"><ofd:TextCode X="0" Y="{SIZE:.2f}">{escape(text)}</ofd:TextCode></ofd:TextObject>')


def ofd_bytes(text: str) -> bytes:
    """An OFD document of ``text``: OFD.xml, Doc_0/Document.xml and one Content.xml per page."""
    lines = wrap(text)
    pages = [lines[i:i + LINES_PER_PAGE] for i in range(0, len(lines), LINES_PER_PAGE)]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("OFD.xml", f'<?xml version="1.0" encoding="UTF-8"?><ofd:OFD xmlns:ofd="{NS}" Version="1.1" '
                         'DocType="OFD"><ofd:DocBody><ofd:DocInfo><ofd:DocID>test</ofd:DocID></ofd:DocInfo>'
                         '<ofd:DocRoot>Doc_0/Document.xml</ofd:DocRoot></ofd:DocBody></ofd:OFD>')
        page_list = "".join(f'<ofd:Page ID="{n + 1}" BaseLoc="Pages/Page_{n}/Content.xml"/>' for n in range(len(pages)))
        archive.writestr("Doc_0/Document.xml", f'<?xml version="1.0" encoding="UTF-8"?><ofd:Document xmlns:ofd="{NS}">'
                         '<ofd:CommonData><ofd:MaxUnitID>9999</ofd:MaxUnitID><ofd:PageArea><ofd:PhysicalBox>0 0 210 '
                         f'297</ofd:PhysicalBox></ofd:PageArea></ofd:CommonData><ofd:Pages>{page_list}</ofd:Pages>'
                         '</ofd:Document>')
        for n, page in enumerate(pages):
            objects = [_text_object(10 + i, line, LEFT + indent, TOP + i * LINE)
                       for i, (line, indent) in enumerate(page) if line]
            objects.append(_text_object(9, f"— {n + 1} —", 98.0, 280.0))
            archive.writestr(f"Doc_0/Pages/Page_{n}/Content.xml",
                             f'<?xml version="1.0" encoding="UTF-8"?><ofd:Page xmlns:ofd="{NS}"><ofd:Content>'
                             f'<ofd:Layer ID="2">{"".join(objects)}</ofd:Layer></ofd:Content></ofd:Page>')
    return buffer.getvalue()


def make_ofd(text: str, path: Path) -> Path:
    path.write_bytes(ofd_bytes(text))
    return path
