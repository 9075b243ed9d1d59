"""Generated test scans: letter text rendered onto A4 pages at 150 dpi, slightly rotated, with speckle noise.

Each page carries a running header (the agency) and a page number (``— 1 —`` or ``第 1 页 共 3 页``), as
printed letters do; clean-up must drop both. Used by tests/test_ocr.py and the README's OCR measurement.
"""

from __future__ import annotations

import random
import unicodedata
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

FONT = Path("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc")
DPI = 150
PAGE = (1240, 1754)  # A4 at 150 dpi
MARGIN = 130
FONT_PX = 30  # about 14 pt
LINE_PX = 52
INDENT = "\u3000\u3000"


def _wrap(paragraph: str, font: ImageFont.FreeTypeFont, width: int) -> list[str]:
    lines, line = [], ""
    for char in paragraph:
        if font.getlength(line + char) > width:
            lines.append(line)
            line = char
        else:
            line += char
    return [*lines, line] if line else lines


def layout(text: str, font: ImageFont.FreeTypeFont, lines_per_page: int = 0) -> list[list[str]]:
    """The text's paragraphs wrapped to the page width and split into pages of lines."""
    width = PAGE[0] - 2 * MARGIN
    per_page = lines_per_page or (PAGE[1] - 2 * MARGIN - 2 * LINE_PX) // LINE_PX
    lines: list[str] = []
    for paragraph in text.split("\n"):
        paragraph = paragraph.strip().replace("\u3000", "")
        if paragraph:
            lines.extend(_wrap(INDENT + paragraph, font, width))
    return [lines[i:i + per_page] for i in range(0, len(lines), per_page)]


def render_pages(text: str, header: str = "", *, numbers: str = "dash", seed: int = 0, rotate: float = 0.6,
                 speckles: int = 1500, lines_per_page: int = 0) -> list[Image.Image]:
    """Greyscale page images of ``text``: numbered pages, a running header, slight rotation, speckles."""
    rng = random.Random(seed)
    font = ImageFont.truetype(str(FONT), FONT_PX)
    small = ImageFont.truetype(str(FONT), 22)
    pages = layout(text, font, lines_per_page)
    images = []
    for n, lines in enumerate(pages, start=1):
        page = Image.new("L", PAGE, 255)
        draw = ImageDraw.Draw(page)
        if header:
            draw.text((MARGIN, MARGIN - 60), header, font=small, fill=60)
        for row, line in enumerate(lines):
            draw.text((MARGIN, MARGIN + row * LINE_PX), line, font=font, fill=rng.randint(0, 40))
        number = f"— {n} —" if numbers == "dash" else f"第 {n} 页 共 {len(pages)} 页"
        draw.text((PAGE[0] // 2 - small.getlength(number) / 2, PAGE[1] - MARGIN + 40), number, font=small, fill=40)
        for _ in range(speckles):
            x, y, r = rng.randrange(PAGE[0]), rng.randrange(PAGE[1]), rng.choice((0, 1, 1, 2))
            draw.ellipse((x, y, x + r, y + r), fill=rng.randint(0, 120))
        angle = rng.uniform(-rotate, rotate)
        images.append(page.rotate(angle, resample=Image.Resampling.BICUBIC, fillcolor=255))
    return images


def scanned_pdf(text: str, path: Path, header: str = "", **options: object) -> Path:
    """An image-only PDF (no text layer) of ``text``."""
    pages = render_pages(text, header, **options)  # type: ignore[arg-type]
    pages[0].save(path, "PDF", resolution=DPI, save_all=True, append_images=pages[1:])
    return path


def photo_jpeg(text: str, path: Path, header: str = "", **options: object) -> Path:
    """A JPEG of ``text``'s pages stacked into one tall image (a photographed or scanned multi-page letter)."""
    pages = render_pages(text, header, **options)  # type: ignore[arg-type]
    sheet = Image.new("L", (PAGE[0], PAGE[1] * len(pages)), 255)
    for i, page in enumerate(pages):
        sheet.paste(page, (0, i * PAGE[1]))
    sheet.save(path, "JPEG", quality=85, dpi=(DPI, DPI))
    return path


def edit_distance(a: str, b: str) -> int:
    """Levenshtein distance between two strings (characters)."""
    if len(a) < len(b):
        a, b = b, a
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, start=1):
        current = [i]
        for j, cb in enumerate(b, start=1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        previous = current
    return previous[-1]


def cer(reference: str, hypothesis: str) -> float:
    """Character error rate of ``hypothesis`` against ``reference``: NFKC (``,`` = ``，``), whitespace ignored."""
    ref = "".join(unicodedata.normalize("NFKC", reference).split())
    hyp = "".join(unicodedata.normalize("NFKC", hypothesis).split())
    return edit_distance(ref, hyp) / max(1, len(ref))


def measure(names: tuple[str, ...] = ("x002", "x006", "x011", "x044", "004_dce9e1310b5c7813")) -> None:
    """Print CER and pages/second of rag's OCR (and of Tesseract chi_sim, when pytesseract is installed)
    on generated scans of the shared letters: ``python -m tests.scans``."""
    import time

    from PIL import ImageFilter

    from rag.ingest.ocr import Ocr

    letters = Path(__file__).resolve().parents[2] / "shared" / "letters"
    scans = [(letters.joinpath(f"{name}.txt").read_text(encoding="utf-8"), i) for i, name in enumerate(names)]
    pages = {seed: render_pages(text, seed=seed) for text, seed in scans}
    total = sum(len(p) for p in pages.values())
    ocr = Ocr()
    ocr.load()
    engines: dict[str, object] = {"rapidocr-onnxruntime (PP-OCRv4)": lambda images: ocr.read_pages(images, len(images))}
    try:
        import pytesseract

        def tesseract(images: list[Image.Image]) -> str:
            return "\n".join(pytesseract.image_to_string(image.filter(ImageFilter.MedianFilter(3)),
                                                         lang="chi_sim+eng", config="--psm 6") for image in images)

        engines["tesseract 5 chi_sim+eng (despeckled, --psm 6)"] = tesseract
    except ImportError:
        pass
    for name, engine in engines.items():
        start = time.perf_counter()
        errors = [cer(text, engine(pages[seed])) for text, seed in scans]  # type: ignore[operator]
        seconds = time.perf_counter() - start
        print(f"{name}: CER {sum(errors) / len(errors):.2%} (per letter {', '.join(f'{e:.2%}' for e in errors)}); "
              f"{total} pages in {seconds:.0f} s = {total / seconds:.2f} pages/s")


if __name__ == "__main__":
    measure()
