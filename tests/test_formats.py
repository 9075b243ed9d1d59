"""OFD letters index with the same chunks as their text source; damaged ones are skipped with the reason."""

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


def test_ofd_is_a_supported_suffix() -> None:
    assert ".ofd" in SUPPORTED_SUFFIXES


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
