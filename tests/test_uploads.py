"""Uploaded files: sanitised names inside the uploads folder, refused files with their reasons."""

from __future__ import annotations

from pathlib import Path

import pytest

from rag.ui.uploads import discard, safe_filename, store_uploads

LETTER = "慈溪市卫生健康局\n关于测试的答复\n张三代表：\n　　一、给予专项支持。\n"


@pytest.mark.parametrize(("name", "expected"), [
    ("../../etc/passwd.txt", "passwd.txt"),
    ("..\\..\\windows\\evil.TXT", "evil.txt"),
    ("慈卫建〔2021〕15号 答复.docx", "慈卫建〔2021〕15号_答复.docx"),
    ("<script>alert(1)</script>.html", "script.html"),
    (".hidden.txt", "hidden.txt"),
    ("..", "letter"),
    (".txt", "letter.txt"),
    ("a\x00b\n.txt", "ab.txt"),
    ("con.txt", "_con.txt"),
    ("x" * 300 + ".pdf", "x" * 100 + ".pdf"),
])
def test_safe_filename(name: str, expected: str) -> None:
    assert safe_filename(name) == expected


def _write(folder: Path, name: str, data: bytes | str) -> Path:
    path = folder / name
    path.write_bytes(data if isinstance(data, bytes) else data.encode("utf-8"))
    return path


def test_store_uploads_keeps_good_files_and_explains_bad_ones(tmp_path: Path) -> None:
    incoming = tmp_path / "incoming"
    incoming.mkdir()
    folder = tmp_path / "index" / "uploads"
    good = _write(incoming, "..\\..\\好 信.TXT", LETTER)
    exe = _write(incoming, "tool.exe", b"MZ\x00\x00")
    big = _write(incoming, "big.txt", "甲" * 400)
    empty = _write(incoming, "empty.md", "  \n")
    fake_pdf = _write(incoming, "fake.pdf", b"not a pdf at all")
    stored, refused = store_uploads([good, exe, big, empty, fake_pdf], folder, max_bytes=1000)
    assert [(u.name, u.path.name) for u in stored] == [("..\\..\\好 信.TXT", "好_信.txt")]
    assert stored[0].path.parent == folder.resolve() and stored[0].path.read_text(encoding="utf-8") == LETTER
    reasons = {s.path: s.reason for s in refused}
    assert reasons["tool.exe"].startswith("unsupported file type '.exe'")
    assert reasons["big.txt"].startswith("too large")
    assert reasons["empty.md"].startswith("empty file")
    assert reasons["fake.pdf"].startswith("corrupt PDF")
    assert sorted(p.name for p in folder.iterdir()) == ["好_信.txt"]  # nothing else written, no temp files


def test_store_uploads_same_name_twice_in_one_batch(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    first = _write(tmp_path / "a", "letter.txt", LETTER)
    second = _write(tmp_path / "b", "letter.txt", LETTER + "二、补充。\n")
    stored, refused = store_uploads([first, second], tmp_path / "up")
    assert refused == [] and [u.path.name for u in stored] == ["letter.txt", "letter-2.txt"]


def test_discard_only_deletes_inside_the_folder(tmp_path: Path) -> None:
    folder = tmp_path / "uploads"
    folder.mkdir()
    inside = _write(folder, "a.txt", LETTER)
    outside = _write(tmp_path, "b.txt", LETTER)
    assert discard([inside, outside, folder / ".." / "b.txt"], folder) == [inside.resolve()]
    assert not inside.exists() and outside.exists()


def test_scans_ofd_and_doc_uploads_are_accepted_without_running_ocr(tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    from PIL import Image

    from tests.formats import make_ofd

    monkeypatch.setitem(sys.modules, "rapidocr_onnxruntime", None)  # OCR waits for indexing (with progress)
    Image.new("L", (200, 100), 255).save(tmp_path / "scan.png")
    make_ofd(LETTER, tmp_path / "letter.ofd")
    fixture = Path(__file__).parent / "fixtures" / "004_dce9e1310b5c7813.doc"
    stored, refused = store_uploads([tmp_path / "scan.png", tmp_path / "letter.ofd", fixture], tmp_path / "up")
    assert refused == []
    assert sorted(u.name for u in stored) == ["004_dce9e1310b5c7813.doc", "letter.ofd", "scan.png"]
