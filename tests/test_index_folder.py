"""The user's folders: an index writes only in a folder it made, removes only what it wrote, reads no links out."""

from __future__ import annotations

import argparse
import os
import shutil
from pathlib import Path

import pytest

from rag import Analyzer, Config, Index, IndexFolderError
from rag.cli import main
from rag.ui.app import app_config, open_index, parse_args
from rag.updates import plan_removal

from .conftest import LETTER_000, LETTER_004, FakeEncoder


def _users_folder(folder: Path) -> list[Path]:
    """A folder of letters with things of the user's whose names look like an index's own."""
    folder.mkdir()
    shutil.copy(LETTER_000, folder / LETTER_000.name)
    (folder / "gen-results").mkdir()
    (folder / "gen-results" / "table.csv").write_text("a,b\n", encoding="utf-8")
    (folder / "report.docx.tmp").write_bytes(b"draft")
    (folder / ".build" / "debug").mkdir(parents=True)
    (folder / ".build" / "debug" / "log.txt").write_text("log", encoding="utf-8")
    shutil.copy(LETTER_004, folder / "gen-2023-答复.txt")
    return sorted(folder.rglob("*"))


def test_build_into_the_letters_own_folder_is_refused_and_deletes_nothing(tmp_path: Path,
                                                                         capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "work"
    before = _users_folder(folder)
    cwd = os.getcwd()
    os.chdir(folder)
    try:
        code = main(["build", ".", "--index", ".", "--quiet"])
    finally:
        os.chdir(cwd)
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1 and err.startswith("error: . is not a policy-rag index and not empty")
    assert sorted(folder.rglob("*")) == before


def test_the_app_refuses_a_users_folder_as_its_index(tmp_path: Path) -> None:
    folder = tmp_path / "work"
    before = _users_folder(folder)
    args: argparse.Namespace = parse_args(["--index", str(folder), "--letters", str(folder)])
    with pytest.raises(IndexFolderError, match="not a policy-rag index"):
        open_index(args, app_config(args))
    assert sorted(folder.rglob("*")) == before


def test_an_index_removes_only_the_entries_it_made(tmp_path: Path, analyzer: Analyzer) -> None:
    letters = tmp_path / "letters"
    letters.mkdir()
    shutil.copy(LETTER_000, letters / LETTER_000.name)
    directory = tmp_path / "index"
    Index.build([letters], directory, encoder=FakeEncoder(), analyzer=analyzer)
    assert (directory / ".policy-rag-index").is_file()
    (directory / "gen-results").mkdir()
    (directory / "report.docx.tmp").write_bytes(b"draft")
    (directory / ".build" / "debug").mkdir(parents=True)
    (directory / "gen-2023-答复.txt").write_text("mine", encoding="utf-8")
    shutil.copy(LETTER_004, letters / LETTER_004.name)
    index = Index.build([letters], directory, encoder=FakeEncoder(), analyzer=analyzer)
    index.remove([LETTER_000.stem])
    assert {p.name for p in directory.iterdir()} >= {"gen-results", "report.docx.tmp", ".build", "gen-2023-答复.txt"}
    assert (directory / ".build" / "debug").is_dir()
    assert (directory / "gen-2023-答复.txt").read_text(encoding="utf-8") == "mine"


def test_an_empty_folder_becomes_an_index(tmp_path: Path, analyzer: Analyzer) -> None:
    (tmp_path / "empty").mkdir()
    Index.build([LETTER_000], tmp_path / "empty", encoder=FakeEncoder(), analyzer=analyzer)
    assert Index.load(tmp_path / "empty", encoder=FakeEncoder(), analyzer=analyzer).letters


def test_a_linked_letter_pointing_outside_the_folder_is_skipped(tmp_path: Path, analyzer: Analyzer) -> None:
    outside = tmp_path / "secret.txt"
    outside.write_text("关于口令的答复。\n密码为 hunter2，请妥善保管。", encoding="utf-8")
    letters = tmp_path / "letters"
    letters.mkdir()
    shutil.copy(LETTER_000, letters / LETTER_000.name)
    (letters / "passwd.txt").symlink_to(outside)
    (letters / "again.txt").symlink_to(letters / LETTER_000.name)  # inside the folder: read
    index = Index.build([letters], tmp_path / "index", encoder=FakeEncoder(), analyzer=analyzer)
    assert [s.path for s in index.report.skipped] == [str(letters / "passwd.txt")]
    assert "outside" in index.report.skipped[0].reason
    assert not any("hunter2" in chunk.text for chunk in index.chunks)
    assert index.report.duplicates == ((str(letters / "again.txt"), LETTER_000.stem),)


def test_removing_a_file_name_two_letters_share_lists_them(tmp_path: Path, analyzer: Analyzer,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    for place, source in (("a", LETTER_000), ("b", LETTER_004)):
        (tmp_path / place).mkdir()
        shutil.copy(source, tmp_path / place / "reply.txt")
    index = Index.build([tmp_path / "a", tmp_path / "b"], tmp_path / "index", config=Config(),
                        encoder=FakeEncoder(), analyzer=analyzer)
    ids = sorted(letter.letter_id for letter in index.letters)
    with pytest.raises(KeyError) as refused:
        plan_removal(index._stores.letters.metadata, ["reply.txt"])
    message = str(refused.value)
    assert all(lid in message for lid in ids) and str(tmp_path / "a" / "reply.txt") in message
    assert len(Index.load(tmp_path / "index", encoder=FakeEncoder(), analyzer=analyzer).letters) == 2
    assert plan_removal(index._stores.letters.metadata, [str(tmp_path / "b" / "reply.txt")]).removed == (ids[1],)


def _files(directory: Path) -> dict[str, bytes]:
    return {str(p.relative_to(directory)): p.read_bytes() for p in sorted(directory.rglob("*")) if p.is_file()}


def test_a_full_device_is_one_error_line_and_the_index_is_unchanged(fake_index: Index,
                                                                    monkeypatch: pytest.MonkeyPatch,
                                                                    capsys: pytest.CaptureFixture[str]) -> None:
    import shutil as shell
    from collections import namedtuple

    import faiss
    import numpy as np

    directory = fake_index.directory
    assert directory is not None
    before = _files(directory)
    usage = namedtuple("usage", "total used free")

    def faiss_short_write(index: object, path: str) -> None:  # FAISS's own words when its write comes up short
        Path(path).write_bytes(b"IxM2" + b"\0" * 100)
        raise RuntimeError("Error in faiss::FileIOWriter::operator()(...): write error: ret == (size_t)(n)")

    monkeypatch.setattr(faiss, "write_index", faiss_short_write)
    monkeypatch.setattr(shell, "disk_usage", lambda path: usage(10**9, 10**9 - 4096, 4096))
    assert main(["remove", LETTER_000.stem, "--index", str(directory)]) == 2
    err = capsys.readouterr().err
    assert err == f"error: no space left on the device; the index is unchanged ({directory})\n"
    assert _files(directory) == before
    monkeypatch.undo()

    def numpy_short_write(file: object, array: object, allow_pickle: bool = True) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(np, "save", numpy_short_write)
    assert main(["remove", LETTER_000.stem, "--index", str(directory)]) == 2
    assert capsys.readouterr().err == f"error: no space left on the device; the index is unchanged ({directory})\n"
    assert _files(directory) == before
