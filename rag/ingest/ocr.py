"""Scanned pages and photos → text lines, offline, by rapidocr-onnxruntime (the ``ocr`` extra; models in its wheel).

Chosen by measurement on generated scans of real letters (A4, 150 dpi, slight rotation, speckles):
rapidocr's PP-OCRv4 models read them at about 2% character error rate; Tesseract 5.3 ``chi_sim+eng``
from Debian at 6-9% after the same despeckling (22-27% without), and more slowly on this 2-core machine.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any

from ..config import Config
from .document import UnreadableFile
from .layout import TextLine, normalize_doc_numbers, recover_text

if TYPE_CHECKING:
    from PIL import Image

OCR_INSTALL = "pip install 'policy-rag[ocr]'"
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".tif", ".tiff"}

PageFn = Callable[[int, int], None]


class Ocr:
    """Reads the text lines off page images; the recognition models load on first use, once.

    Example:
        >>> ocr = Ocr(on_page=lambda done, total: print(f"page {done}/{total}"))  # doctest: +SKIP
        >>> recover_text([ocr.read(image) for image in pages])  # doctest: +SKIP
    """

    def __init__(self, on_page: PageFn | None = None) -> None:
        self.on_page = on_page
        self._engine: Any = None

    def load(self) -> Any:
        """The recognition engine, loaded once.

        Raises:
            UnreadableFile: the ``ocr`` extra is not installed (the message names the install command).
        """
        if self._engine is None:
            try:
                from rapidocr_onnxruntime import RapidOCR
            except ImportError as exc:
                raise UnreadableFile(f"no text layer: needs OCR ({OCR_INSTALL})") from exc
            self._engine = RapidOCR()
        return self._engine

    def read(self, image: Image.Image) -> list[TextLine]:
        """The recognised boxes of one page, in page pixels.

        Raises:
            UnreadableFile: the ``ocr`` extra is not installed (the message names the install command).
        """
        import numpy as np
        from PIL import ImageFilter

        engine = self.load()
        # a 3×3 median removes scanner speckles, which the detector otherwise reads as dots and commas
        clean = image.convert("L").filter(ImageFilter.MedianFilter(3)).convert("RGB")
        # no line-angle classifier: letters are upright, and it turns whole lines of them upside down, which are
        # then read as noise and dropped (one line in ten on some generated scans); it is also a third of the time
        found, _ = engine(np.asarray(clean), use_cls=False)
        lines = []
        for box, text, _score in found or []:
            xs, ys = [p[0] for p in box], [p[1] for p in box]
            lines.append(TextLine(str(text), float(min(xs)), float(min(ys)), float(max(xs)), float(max(ys))))
        return lines

    def read_pages(self, images: Iterable[Image.Image], total: int, start: int = 0) -> str:
        """Letter text of page images, reporting each to ``on_page`` as (``start`` + pages read, ``total``)."""
        pages = []
        for done, image in enumerate(images, start=start + 1):
            pages.append(self.read(image))
            if self.on_page is not None:
                self.on_page(done, total)
        # "丨" (a radical no letter uses) is how OCR reads a table's "|"
        return normalize_doc_numbers(recover_text(pages, specks=True)).replace("丨", "|")


def _frames(image: Image.Image, config: Config) -> Iterator[Image.Image]:
    from PIL import ImageSequence

    for i, frame in enumerate(ImageSequence.Iterator(image)):
        if i >= config.max_ocr_pages:
            break
        _check_pixels(*frame.size, config)  # a TIFF's later frames may be larger than its first
        yield frame.copy()


def _check_pixels(width: int, height: int, config: Config) -> None:
    if width * height > config.max_image_pixels:
        raise UnreadableFile(f"image too large ({width}×{height} pixels; the limit is "
                             f"{config.max_image_pixels:,}: Config.max_image_pixels)")


def _bomb_pixels(error: Exception) -> str:
    """The pixel count in Pillow's refusal of an image far over its own limit ("Image size (400000000 pixels)…")."""
    found = re.search(r"\((\d+) pixels\)", str(error))
    return f"{int(found.group(1)):,} pixels" if found else "too many pixels"


def read_image(data: bytes, config: Config, ocr: Ocr) -> str:
    """Text of a photographed or scanned letter (.png, .jpg, .tif; every frame of a multi-page TIFF).

    Raises:
        UnreadableFile: not an image, too many pixels or frames, or OCR is not installed.
    """
    try:
        from PIL import Image, UnidentifiedImageError
    except ImportError as exc:
        raise UnreadableFile(f"no text layer: needs OCR ({OCR_INSTALL})") from exc
    try:
        # reads the header only: the size is checked before decoding. Pillow refuses an image of more than twice its
        # own MAX_IMAGE_PIXELS already here, with an exception of its own that is no OSError
        image = Image.open(io.BytesIO(data))
        _check_pixels(*image.size, config)
        frames = getattr(image, "n_frames", 1)
        if frames > config.max_ocr_pages:
            raise UnreadableFile(f"image has {frames:,} pages; the limit is {config.max_ocr_pages:,} "
                                 "(Config.max_ocr_pages)")
        ocr.load()
        return ocr.read_pages(_frames(image, config), frames)
    except Image.DecompressionBombError as exc:
        raise UnreadableFile(f"image too large ({_bomb_pixels(exc)}; the limit is {config.max_image_pixels:,}: "
                             "Config.max_image_pixels)") from exc
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise UnreadableFile(f"corrupt or unrecognised image ({exc.__class__.__name__})") from exc
