"""Text files in any encoding, and HTML pages, decoded into plain text; binary files named by their magic bytes."""

from __future__ import annotations

import re

from .document import UnreadableFile

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


# Elements that hold no content (void) or whose end tag may be left out (the parser closes them): neither nests
# under itself in a real page, so they do not count towards the depth
_FLAT_TAGS = frozenset("area base br col embed hr img input link meta param source track wbr "
                       "p li dt dd tr td th option optgroup thead tbody tfoot colgroup caption rb rt rp "
                       "html head body".split())
# a tag, or the start of a comment; "[^<>]" stops every attempt at the next "<", so the scan stays linear
_TAG = re.compile(r"<!--|<(/?)([A-Za-z][A-Za-z0-9:-]*)[^<>]*?(/?)>")
_RAW_TEXT = frozenset("script style textarea title".split())  # their content is text, not tags


def html_depth(html: str, most: int) -> int:
    """How deeply the elements of ``html`` nest, counted up to ``most`` + 1, in one linear pass over its tags.

    HTML parsers take time quadratic in the depth (a page of 200,000 nested ``<div>`` takes minutes), so the
    depth is estimated before parsing: an end tag closes the open elements down to its own start tag, as a
    parser does; comments, scripts and styles are skipped (an unclosed one ends the scan).
    """
    open_tags: list[str] = []
    count: dict[str, int] = {}
    deepest = 0
    position = 0
    lowered = html.lower()
    while deepest <= most and (match := _TAG.search(html, position)):
        position = match.end()
        if match.group() == "<!--":
            position = lowered.find("-->", position) + 3
        elif (name := match.group(2).lower()) in _RAW_TEXT and not match.group(1):
            position = lowered.find(f"</{name}", position) + 1
        elif name in _FLAT_TAGS or match.group(3):
            continue
        elif not match.group(1):
            open_tags.append(name)
            count[name] = count.get(name, 0) + 1
            deepest = max(deepest, len(open_tags))
        elif count.get(name):
            while (last := open_tags.pop()) != name:
                count[last] -= 1
            count[name] -= 1
        if position <= 2:  # find() found no end: the rest is a comment or a script
            break
    return deepest


_BLOCK_TAGS = ("p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "section", "article", "table")


def html_to_text(html: str, max_depth: int | None = None) -> str:
    """Visible text of an HTML page, one block element per line; scripts and styles dropped.

    Raises:
        UnreadableFile: its elements nest more than ``max_depth`` deep (None: no bound).
    """
    from selectolax.lexbor import LexborHTMLParser as HTMLParser

    if max_depth is not None and html_depth(html, max_depth) > max_depth:
        raise UnreadableFile(f"HTML elements nested more than {max_depth:,} deep; the limit is "
                             f"Config.max_html_depth = {max_depth:,}")

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
