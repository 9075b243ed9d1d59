"""Scanned letters: OCR of image-only PDFs and photos, the clean-up of page furniture, and search over the result.

The scans are generated (tests/scans.py): a real letter rendered onto A4 at 150 dpi with a running
header, page numbers, slight rotation and speckles. OCR needs the ``ocr`` extra, which ``make test`` installs.
"""

from __future__ import annotations

import struct
import sys
import zlib
from pathlib import Path

import pytest
from PIL import Image

from rag import Config, Index
from rag.ingest import SUPPORTED_SUFFIXES, Document, read_documents
from rag.ingest.layout import (
    TextLine,
    drop_furniture,
    is_page_number,
    normalize_doc_numbers,
    paragraphs,
    recover_text,
)
from rag.parse import parse_letter
from tests.conftest import SHARED, FakeEncoder
from tests.scans import cer, photo_jpeg, scanned_pdf

LETTER = SHARED / "letters" / "x011.txt"  # 文号 弥民函〔2017〕14号, sections 一、二、三、
HEADER = "弥勒市民政局"
NUMBER = "弥民函〔2017〕14号"


@pytest.fixture(scope="module")
def source(shared_letters: Path) -> str:
    return (shared_letters / LETTER.name).read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def scans(tmp_path_factory: pytest.TempPathFactory, source: str) -> Path:
    folder = tmp_path_factory.mktemp("scans")
    # two pages with a running header and "第 n 页 共 2 页"; the photo one page numbered "— 1 —"
    scanned_pdf(source, folder / "scan.pdf", HEADER, numbers="of", lines_per_page=16, seed=1)
    photo_jpeg(source, folder / "photo.jpg", seed=2)
    return folder


@pytest.fixture(scope="module")
def read(scans: Path) -> dict[str, Document]:
    pages: list[tuple[str, int, int]] = []
    documents, skipped = read_documents([scans], on_ocr_page=lambda path, done, total: pages.append(
        (Path(path).name, done, total)))
    assert skipped == []
    assert pages == [("photo.jpg", 1, 1), ("scan.pdf", 1, 2), ("scan.pdf", 2, 2)]  # progress, page by page
    return {Path(d.path).name: d for d in documents}


def _page(*lines: tuple[str, float, float]) -> list[TextLine]:
    """Text lines 30 px high, 40 px apart, from (text, left, right)."""
    return [TextLine(text, left, 100 + 40 * i, right, 130 + 40 * i) for i, (text, left, right) in enumerate(lines)]


def test_page_numbers_are_recognised() -> None:
    assert all(map(is_page_number, ["— 1 —", "-2-", "第 1 页 共 3 页", "第3页", "共3页 第1页", "Page 2 of 3", "2/3"]))
    assert not any(map(is_page_number, ["一、加强组织协调。", "2021年6月30日", "第276号建议"]))


def test_wrapped_lines_join_into_paragraphs_and_indented_lines_start_new_ones() -> None:
    page = _page(("李佳代表：", 100, 250),
                 ("您好，您提出的建议收悉，现答复", 160, 1000),  # indented: a new paragraph, wrapped
                 ("如下：早在201", 100, 1000),
                 ("8年建立了 policy", 100, 1000),
                 ("review 制度。", 100, 400),  # ends short
                 ("一、引导产业链发展。", 160, 600))
    assert paragraphs([page]) == ("李佳代表：\n\u3000\u3000您好，您提出的建议收悉，现答复如下：早在2018年建立了 policy "
                                  "review 制度。\n\u3000\u3000一、引导产业链发展。")


def test_repeated_headers_the_banner_page_numbers_and_specks_are_dropped() -> None:
    first = _page(("弥勒市民政局", 100, 400), ("弥勒市民政局", 100, 400), ("·一、成立机构。", 160, 1000),
                  ("第 1 页 共 2 页", 500, 700))
    second = _page(("弥勒市民政局", 100, 400), ("二、、调研摸底，。·", 160, 1000), ("·.", 300, 320),
                   ("第 2 页 共 2 页", 500, 700))
    assert [[line.text for line in page] for page in drop_furniture([first, second], specks=True)] == [
        ["一、成立机构。"], ["二、调研摸底，。"]]


def test_boxes_on_one_row_become_one_line() -> None:
    boxes = [TextLine("签发人：史国建", 700, 102, 950, 132), TextLine("慈卫建〔2021〕15号", 100, 100, 400, 130),
             TextLine("对第276号建议的答复", 300, 160, 800, 190)]
    assert recover_text([boxes]) == "慈卫建〔2021〕15号  签发人：史国建\n\u3000\u3000对第276号建议的答复"


def test_ocr_misread_document_number_brackets_are_restored() -> None:
    assert normalize_doc_numbers("（弥民函【2017)14号）慈卫建 [2021] 第15号 见表[2020]") == (
        "（弥民函〔2017〕14号）慈卫建〔2021〕 第15号 见表[2020]")


def test_scans_are_supported_suffixes() -> None:
    assert {".png", ".jpg", ".jpeg", ".tif", ".tiff"} <= SUPPORTED_SUFFIXES


def test_without_the_ocr_extra_a_scan_is_skipped_naming_the_install_command(
        scans: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "rapidocr_onnxruntime", None)  # import fails as when not installed
    documents, skipped = read_documents([scans / "scan.pdf", scans / "photo.jpg"])
    assert documents == []
    assert {Path(s.path).name: s.reason for s in skipped} == {
        name: "no text layer: needs OCR (pip install 'policy-rag[ocr]')" for name in ("scan.pdf", "photo.jpg")}


def test_image_limits_are_checked_before_decoding(tmp_path: Path) -> None:
    Image.new("L", (400, 300), 255).save(tmp_path / "big.png")
    (tmp_path / "bad.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 200)
    _, skipped = read_documents([tmp_path], config=Config(max_image_pixels=100_000))
    assert {Path(s.path).name: s.reason for s in skipped} == {
        "bad.png": "corrupt or unrecognised image (UnidentifiedImageError)",
        "big.png": "image too large (400×300 pixels; the limit is 100,000: Config.max_image_pixels)"}


@pytest.mark.slow
@pytest.mark.parametrize("name", ["scan.pdf", "photo.jpg"])
def test_ocr_reads_the_scan_within_3_percent_cer(read: dict[str, Document], source: str, name: str) -> None:
    document = read[name]
    assert document.encoding == ("pdf" if name == "scan.pdf" else "ocr")
    assert cer(source, document.text) <= 0.03
    assert "第 1 页" not in document.text and "第1页" not in document.text and "— 1 —" not in document.text
    assert document.text.count(HEADER) == source.count(HEADER)  # the running header is gone from page 2


@pytest.mark.slow
@pytest.mark.parametrize("name", ["scan.pdf", "photo.jpg"])
def test_the_scan_parses_into_the_same_letter(read: dict[str, Document], source: str, name: str) -> None:
    typed = parse_letter(source, letter_id="typed")
    scanned = parse_letter(read[name].text, letter_id="scanned")
    assert scanned.doc_number == typed.doc_number == NUMBER
    assert [s.marker for s in scanned.sections] == [s.marker for s in typed.sections] == ["", "一、", "二、", "三、"]
    assert [s.title[:6] for s in scanned.sections] == [s.title[:6] for s in typed.sections]
    # every paragraph of the source is one line of the scan: wrapped lines were joined
    paragraphs = [line for line in read[name].text.splitlines() if line.strip()]
    assert len(paragraphs) == len([line for line in source.splitlines() if line.strip()])


@pytest.mark.slow
def test_a_question_about_the_scanned_letter_finds_it(read: dict[str, Document], scans: Path,
                                                      tmp_path: Path) -> None:
    others = [p for p in sorted((SHARED / "letters").glob("*.txt")) if p != LETTER]
    pages: list[tuple[str, int, int]] = []
    index = Index.build([scans / "scan.pdf", *others], tmp_path / "index",
                        on_ocr_page=lambda path, done, total: pages.append((Path(path).name, done, total)))
    assert pages == [("scan.pdf", 1, 2), ("scan.pdf", 2, 2)]  # a folder build reports OCR page by page
    for question in ("瓦草冲老年人活动室建设", "Will an activity room for the elderly be built in Wacaochong?"):
        hits = index.search(question, k=5)
        assert any(hit.path.endswith("scan.pdf") for hit in hits), question
        top = next(hit for hit in hits if hit.path.endswith("scan.pdf"))
        assert top.doc_number == NUMBER
        letter = next(letter for letter in index.letters if letter.path.endswith("scan.pdf"))
        assert letter.text[top.start:top.end] == top.text  # offsets refer to the recovered text


def _png_header(width: int, height: int) -> bytes:
    """A PNG whose header states ``width``×``height`` (one-bit grey) and whose pixel data is cut short."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + chunk(b"IEND", b""))


def test_an_image_far_over_pillows_own_limit_is_one_skipped_file(letters_dir: Path, analyzer) -> None:
    # 20000×20000 is over twice Pillow's MAX_IMAGE_PIXELS: Pillow refuses it on opening, by an exception of its own
    (letters_dir / "poster.png").write_bytes(_png_header(20_000, 20_000))
    documents, skipped = read_documents([letters_dir])
    assert len(documents) == 2
    assert [(Path(s.path).name, s.reason) for s in skipped] == [
        ("poster.png", "image too large (400,000,000 pixels; the limit is 60,000,000: Config.max_image_pixels)")]
    index = Index.build([letters_dir], letters_dir.parent / "index", encoder=FakeEncoder(), analyzer=analyzer)
    assert len(index.letters) == 2 and [Path(s.path).name for s in index.report.skipped] == ["poster.png"]
