"""OFD and legacy .doc letters index with the same chunks as their text source; damaged ones are skipped, with why."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest

from rag import Config, Index
from rag.ingest import SUPPORTED_SUFFIXES, read_document, read_documents
from tests.conftest import LETTER_000, LETTER_004, SHARED, FakeEncoder
from tests.formats import make_ofd, ofd_bytes

SOURCES = [LETTER_000, LETTER_004, *(SHARED / "letters" / f"{name}.txt" for name in ("x002", "x006", "x011"))]
# 000's header holds a line of 36 spaces and space-indented lines, which no printed page can show; chunk
# lengths count whitespace, so only there would its preamble split differently: its text is compared above
PRINTABLE = SOURCES[1:]


def _chunks(index: Index) -> list[tuple[str, str]]:
    """Each chunk's section and text, whitespace removed (a printed page keeps no indentation spaces)."""
    return sorted((hit.section, "".join(hit.text.split())) for hit in index.search("答复", k=10_000))


def test_ofd_and_doc_are_supported_suffixes() -> None:
    assert {".ofd", ".doc"} <= SUPPORTED_SUFFIXES


@pytest.mark.parametrize("source", SOURCES, ids=lambda p: p.stem)
def test_an_ofd_letter_reads_as_its_text_paragraph_by_paragraph(source: Path, tmp_path: Path) -> None:
    text = source.read_text(encoding="utf-8")
    document = read_document(make_ofd(text, tmp_path / "letter.ofd"))
    assert document.encoding == "ofd"
    paragraphs = ["".join(line.split()) for line in text.splitlines() if line.strip()]
    assert ["".join(line.split()) for line in document.text.splitlines() if line] == paragraphs  # no page numbers


@pytest.mark.parametrize("source", PRINTABLE, ids=lambda p: p.stem)
def test_an_ofd_letter_indexes_with_the_same_chunks_as_its_text(source: Path, tmp_path: Path, analyzer) -> None:
    text = source.read_text(encoding="utf-8")
    typed = Index.build([source], encoder=FakeEncoder(), analyzer=analyzer)
    printed = Index.build([make_ofd(text, tmp_path / "letter.ofd")], encoder=FakeEncoder(), analyzer=analyzer)
    assert _chunks(printed) == _chunks(typed)
    fields = ("doc_number", "title", "agency", "date", "addressee")
    assert [getattr(printed.letters[0], f) for f in fields] == [getattr(typed.letters[0], f) for f in fields]


def test_damaged_ofd_files_are_skipped_with_the_reason(tmp_path: Path) -> None:
    good = ofd_bytes(LETTER_000.read_text(encoding="utf-8"))
    (tmp_path / "cut.ofd").write_bytes(good[: len(good) // 2])
    members = io.BytesIO()
    with zipfile.ZipFile(members, "w") as archive:
        archive.writestr("OFD.xml", "<ofd:OFD xmlns:ofd='http://www.ofdspec.org/2016'><ofd:DocBody>"
                         "<ofd:DocRoot>Doc_0/Document.xml</ofd:DocRoot></ofd:DocBody></ofd:OFD>")
    (tmp_path / "no-document.ofd").write_bytes(members.getvalue())
    entities = io.BytesIO()
    with zipfile.ZipFile(entities, "w") as archive:
        archive.writestr("OFD.xml", '<!DOCTYPE x [<!ENTITY a "aaaa">]><x>&a;</x>')
    (tmp_path / "entities.ofd").write_bytes(entities.getvalue())
    bomb = io.BytesIO()
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("OFD.xml", b"<" + b" " * 2_000_000 + b">")
    (tmp_path / "bomb.ofd").write_bytes(bomb.getvalue())
    _, skipped = read_documents([tmp_path], config=Config(max_archive_bytes=1_000_000))
    reasons = {Path(s.path).name: s.reason for s in skipped}
    assert reasons["cut.ofd"].startswith("corrupt or truncated .ofd")
    assert reasons["no-document.ofd"] == ("corrupt .ofd (KeyError: \"There is no item named 'Doc_0/Document.xml' "
                                          "in the archive\")")
    assert reasons["entities.ofd"] == "corrupt .ofd (ValueError: OFD.xml declares a document type)"
    assert reasons["bomb.ofd"] == (".ofd inflates to more than 1 MB (a decompression bomb?); "
                                   "the limit is Config.max_archive_bytes = 1,000,000")


def test_an_ofd_whose_pages_all_repeat_one_large_part_is_skipped_by_the_bytes_parsed(tmp_path: Path) -> None:
    # 200 pages naming one 20 kB content part: the zip inflates to 22 kB, its pages parse to 4 MB
    ns = "http://www.ofdspec.org/2016"
    runs = "".join(f'<ofd:TextObject ID="{i}" Boundary="20 {20 + i % 200} 170 6" Size="4"><ofd:TextCode X="0" '
                   f'Y="4">关于答复。</ofd:TextCode></ofd:TextObject>' for i in range(150))
    pages = "".join(f'<ofd:Page ID="{n}" BaseLoc="Pages/Page_0/Content.xml"/>' for n in range(200))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("OFD.xml", f'<ofd:OFD xmlns:ofd="{ns}"><ofd:DocBody><ofd:DocRoot>Doc_0/Document.xml'
                                    '</ofd:DocRoot></ofd:DocBody></ofd:OFD>')
        archive.writestr("Doc_0/Document.xml", f'<ofd:Document xmlns:ofd="{ns}"><ofd:Pages>{pages}</ofd:Pages>'
                                               '</ofd:Document>')
        archive.writestr("Doc_0/Pages/Page_0/Content.xml", f'<ofd:Page xmlns:ofd="{ns}"><ofd:Content><ofd:Layer '
                                                           f'ID="1">{runs}</ofd:Layer></ofd:Content></ofd:Page>')
    (tmp_path / "pages.ofd").write_bytes(buffer.getvalue())
    documents, skipped = read_documents([tmp_path], config=Config(max_archive_bytes=1_000_000))
    assert documents == []
    assert [s.reason for s in skipped] == [".ofd pages parse to more than 1 MB of XML (its pages repeat one large "
                                           "part?); the limit is Config.max_archive_bytes = 1,000,000"]


FIXTURES = Path(__file__).parent / "fixtures"


@pytest.mark.parametrize("source", [LETTER_000, LETTER_004], ids=lambda p: p.stem)
def test_a_legacy_doc_reads_as_its_text(source: Path) -> None:
    document = read_document(FIXTURES / f"{source.stem}.doc")  # made by LibreOffice from the text (fixtures/README.md)
    assert document.encoding == "doc"
    # antiword drops trailing spaces, so 000's line of 36 spaces comes back empty: compare the lines' text
    assert [line.rstrip() for line in document.text.strip().splitlines()] == [
        line.rstrip() for line in source.read_text(encoding="utf-8").strip().splitlines()]


def test_a_legacy_doc_indexes_with_the_same_chunks_as_its_text(analyzer) -> None:
    typed = Index.build([LETTER_004], encoder=FakeEncoder(), analyzer=analyzer)
    word = Index.build([FIXTURES / f"{LETTER_004.stem}.doc"], encoder=FakeEncoder(), analyzer=analyzer)
    assert _chunks(word) == _chunks(typed)
    fields = ("doc_number", "title", "agency", "date", "addressee")
    assert [getattr(word.letters[0], f) for f in fields] == [getattr(typed.letters[0], f) for f in fields]


def test_damaged_doc_files_are_skipped_with_the_reason(tmp_path: Path) -> None:
    data = (FIXTURES / "000_3530caffdd2f932b.doc").read_bytes()
    (tmp_path / "cut.doc").write_bytes(data[:3000])
    (tmp_path / "rich.doc").write_bytes(b"{\\rtf1\\ansi letter}")
    (tmp_path / "text.doc").write_text("一、这不是 Word 文件。", encoding="utf-8")
    _, skipped = read_documents([tmp_path])
    reasons = {Path(s.path).name: s.reason for s in skipped}
    assert reasons["cut.doc"].startswith("corrupt .doc (antiword: ")
    assert reasons["rich.doc"] == "an RTF file named .doc: save it as .docx"
    assert reasons["text.doc"] == "not a Word 97-2003 document (.doc): no OLE header"


def test_without_antiword_a_doc_is_skipped_naming_the_package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # no antiword on the PATH
    _, skipped = read_documents([FIXTURES / "000_3530caffdd2f932b.doc"])
    assert [s.reason for s in skipped] == ["reading legacy .doc needs antiword (Debian: apt-get install antiword)"]
