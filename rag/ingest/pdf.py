"""PDF files: the text layer through pypdf, under caps on pages and inflated stream bytes; image-only pages by OCR."""

from __future__ import annotations

import io
from itertools import groupby
from typing import TYPE_CHECKING, Any

from ..config import Config
from .document import UnreadableFile
from .ocr import Ocr

if TYPE_CHECKING:
    from PIL import Image
    from pypdf import PageObject, PdfReader


def read_pdf(data: bytes, config: Config, ocr: Ocr) -> str:
    """Text of a PDF: each page's text layer, or for a page without one the OCR of its largest image.

    Raises:
        UnreadableFile: corrupt, over a cap, or image-only without the ``ocr`` extra installed.
    """
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
    try:
        with apply_configuration(**limits):
            reader = PdfReader(io.BytesIO(data))
            if len(reader.pages) > config.max_archive_entries:
                raise UnreadableFile(f"PDF has {len(reader.pages):,} pages; the limit is "
                                     f"{config.max_archive_entries:,} (Config.max_archive_entries)")
            pages: list[str | None] = []
            inflated = 0
            for page in reader.pages:
                contents = page.get_contents()
                inflated += len(contents.get_data()) if contents is not None else 0
                if inflated > cap:
                    raise UnreadableFile(over)
                text = page.extract_text() or ""
                pages.append(text if text.strip() or not _has_image(page) else None)
            text = _with_ocr(reader, pages, config, ocr)
    except LimitReachedError as exc:
        raise UnreadableFile(over) from exc
    except (PdfReadError, ValueError, KeyError, OSError) as exc:
        raise UnreadableFile(f"corrupt PDF ({exc.__class__.__name__})") from exc
    if not text.strip():
        raise UnreadableFile("no text layer and no images: blank pages")
    return text


def _image_xobjects(page: PageObject) -> dict[str, Any]:
    """The page's image objects by resource name (``/Im0``), not yet decoded."""
    resources: Any = page.get("/Resources")
    xobjects: Any = resources.get_object().get("/XObject") if resources is not None else None
    if xobjects is None:
        return {}
    found = {str(name): ref.get_object() for name, ref in xobjects.get_object().items()}
    return {name: xobject for name, xobject in found.items() if xobject.get("/Subtype") == "/Image"}


def _has_image(page: PageObject) -> bool:
    return bool(_image_xobjects(page))


def _with_ocr(reader: PdfReader, pages: list[str | None], config: Config, ocr: Ocr) -> str:
    """The pages' text, each run of image-only pages (``None``) read by OCR and cleaned up as one scan."""
    scanned = [i for i, text in enumerate(pages) if text is None]
    if not scanned:
        return "\n".join(text or "" for text in pages)
    if len(scanned) > config.max_ocr_pages:
        raise UnreadableFile(f"{len(scanned):,} scanned pages to OCR; the limit is {config.max_ocr_pages:,} "
                             "(Config.max_ocr_pages)")
    ocr.load()
    parts: list[str] = []
    for is_scan, group in groupby(range(len(pages)), key=lambda i: pages[i] is None):
        run = list(group)
        if is_scan:
            images = (_largest_image(reader.pages[i], config) for i in run)
            parts.append(ocr.read_pages(images, len(scanned), start=scanned.index(run[0])))
        else:
            parts.append("\n".join(pages[i] or "" for i in run))
    return "\n".join(parts)


def _largest_image(page: PageObject, config: Config) -> Image.Image:
    """The page's biggest image (a scanned page is one), its size checked before it is decoded."""
    best, area = "", 0
    for name, xobject in _image_xobjects(page).items():
        pixels = int(xobject.get("/Width", 0)) * int(xobject.get("/Height", 0))
        if pixels > config.max_image_pixels:
            raise UnreadableFile(f"scanned page too large ({pixels:,} pixels; the limit is "
                                 f"{config.max_image_pixels:,}: Config.max_image_pixels)")
        if pixels > area:
            best, area = name, pixels
    image = page.images[best].image
    if image is None:
        raise UnreadableFile("a scanned page's image cannot be decoded")
    return image
