"""Hostile inputs (issue #15): zip bombs, inflating PDFs, huge letters, missing paths, bad query lines, forged names."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import zipfile
import zlib
from pathlib import Path

import pytest

from rag import Config, Index
from rag.cli import main
from rag.ingest import UnreadableFile, read_document, read_documents
from rag.updates import NothingToIndex

from .conftest import LETTER_000, ROOT, FakeEncoder

MB = 1_000_000


def write_docx_bomb(path: Path, inflated: int = 500 * MB, entries: int = 2) -> Path:
    """A .docx whose word/document.xml inflates to ``inflated`` bytes, written block by block (small in memory)."""
    block = b"<w:t>" + b"A" * (MB - 11) + b"</w:t>\n"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        archive.writestr("[Content_Types].xml", '<?xml version="1.0"?><Types/>')
        for n in range(entries - 2):
            archive.writestr(f"word/media/part{n}.xml", "<x/>")
        with archive.open("word/document.xml", "w", force_zip64=True) as member:
            for _ in range(inflated // len(block)):
                member.write(block)
    return path


def write_pdf_bomb(path: Path, pages: int = 6, per_page: int = 40 * MB) -> Path:
    """A PDF of ``pages`` pages, each with a Flate content stream inflating to ``per_page`` bytes."""
    squeezer = zlib.compressobj(9)
    line = b"0 0 m\n" * 100_000
    stream = b"".join(squeezer.compress(line) for _ in range(per_page // len(line))) + squeezer.flush()
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>",
               b"<< /Type /Pages /Kids [" + b" ".join(b"%d 0 R" % (3 + 2 * i) for i in range(pages))
               + b"] /Count %d >>" % pages]
    for i in range(pages):
        objects.append(b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents %d 0 R >>" % (4 + 2 * i))
        objects.append(b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(stream) + stream + b"\nendstream")
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    path.write_bytes(bytes(out))
    return path


def _measured_cli(*args: str) -> tuple[subprocess.CompletedProcess[str], float, float]:
    """``rag ARGS`` in a fresh process: the result, the seconds it took and its peak RSS in MB.

    The peak is the process's own ``VmHWM`` (ru_maxrss would carry over the forking test process's).
    """
    code = ("import sys; from rag.cli import main; code = main(sys.argv[1:]); "
            "print([l for l in open('/proc/self/status') if l.startswith('VmHWM')][0].split()[1], file=sys.stderr); "
            "sys.exit(code)")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1"}
    started = time.monotonic()
    result = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, cwd=ROOT, env=env,
                            timeout=300)
    seconds = time.monotonic() - started
    peak_kb = int(result.stderr.strip().splitlines()[-1])
    return result, seconds, peak_kb / 1024


# ---- archives ---------------------------------------------------------------------------------

def test_zip_bomb_docx_is_refused_in_seconds_with_bounded_memory(tmp_path: Path):
    bomb = write_docx_bomb(tmp_path / "bomb.docx")
    assert bomb.stat().st_size < 20 * MB  # passes the file-size check: only the inflated size gives it away

    result, seconds, peak_mb = _measured_cli("build", str(bomb), "--index", str(tmp_path / "idx"), "--quiet")

    assert result.returncode == 2
    assert "bomb.docx" in result.stderr and "Config.max_archive_bytes" in result.stderr
    assert not (tmp_path / "idx").exists()
    assert seconds < 30 and peak_mb < 500, (seconds, peak_mb)
    print(f"zip bomb refused by the CLI in {seconds:.1f} s, peak RSS {peak_mb:.0f} MB")


def test_zip_bomb_beside_good_letters_is_skipped_and_the_rest_indexed(tmp_path: Path, letters_dir: Path, analyzer):
    write_docx_bomb(letters_dir / "bomb.docx", inflated=60 * MB)
    index = Index.build([letters_dir], tmp_path / "idx", encoder=FakeEncoder(), analyzer=analyzer)
    reasons = {Path(s.path).name: s.reason for s in index.report.skipped}
    assert "decompression bomb" in reasons["bomb.docx"] and "Config.max_archive_bytes" in reasons["bomb.docx"]
    assert len(index.letters) == 2


def test_docx_with_too_many_entries_is_refused_before_inflating(tmp_path: Path):
    many = write_docx_bomb(tmp_path / "many.docx", inflated=MB, entries=50)
    with pytest.raises(UnreadableFile, match=r"50 entries; the limit is 10 \(Config.max_archive_entries\)"):
        read_document(many, config=Config(max_archive_entries=10))


def test_pdf_whose_streams_inflate_past_the_cap_is_refused(tmp_path: Path):
    bomb = write_pdf_bomb(tmp_path / "bomb.pdf")
    started = time.monotonic()
    documents, skipped = read_documents([bomb])
    seconds = time.monotonic() - started
    assert documents == [] and "Config.max_archive_bytes" in skipped[0].reason
    assert seconds < 30, seconds


def test_upload_of_a_zip_bomb_is_refused_and_not_kept(fake_index: Index, tmp_path: Path):
    gr = pytest.importorskip("gradio")
    from rag.ui.events import Events
    from rag.ui.layout import build_layout

    with gr.Blocks():
        layout = build_layout(fake_index, "en")
        events = Events(fake_index, layout, exports=tmp_path / "exports")
    bomb = write_docx_bomb(tmp_path / "bomb.docx", inflated=200 * MB)
    started = time.monotonic()
    updates = events.upload([str(bomb)], "en")
    assert time.monotonic() - started < 30
    report = updates[layout.library.report]
    assert "bomb.docx" in report and "Config.max_archive_bytes" in report
    assert not any(events.uploads.glob("*bomb*")) and len(fake_index.letters) == 2


# ---- input that costs more than its size ---------------------------------------------------------

def nested_html(depth: int) -> str:
    return "<div>" * depth + "关于答复。" + "</div>" * depth


def test_deeply_nested_html_is_skipped_before_parsing_naming_the_limit(tmp_path: Path):
    # parsing is quadratic in the depth: 200,000 took minutes; 5,000 shows the bound within a test's time
    (tmp_path / "nested.html").write_text(nested_html(5_000), encoding="utf-8")
    (tmp_path / "tables.html").write_text("<table><tr><td>" * 40 + "关于答复。" + "</td></tr></table>" * 40,
                                          encoding="utf-8")
    documents, skipped = read_documents([tmp_path], config=Config(max_html_depth=1_000))
    assert [Path(d.path).name for d in documents] == ["tables.html"] and documents[0].text == "关于答复。"
    assert [(Path(s.path).name, s.reason) for s in skipped] == [
        ("nested.html", "HTML elements nested more than 1,000 deep; the limit is Config.max_html_depth = 1,000")]


def test_upload_of_deeply_nested_html_is_refused_at_once(fake_index: Index, tmp_path: Path):
    gr = pytest.importorskip("gradio")
    from rag.ui.events import Events
    from rag.ui.layout import build_layout

    with gr.Blocks():
        layout = build_layout(fake_index, "en")
        events = Events(fake_index, layout, exports=tmp_path / "exports")
    page = tmp_path / "nested.html"
    page.write_text(nested_html(5_000), encoding="utf-8")
    report = events.upload([str(page)], "en")[layout.library.report]
    assert "nested.html" in report and "Config.max_html_depth" in report
    assert not any(events.uploads.glob("*nested*")) and len(fake_index.letters) == 2


# ---- letters too long ---------------------------------------------------------------------------

def test_letter_over_the_character_limit_is_skipped_naming_the_limit(tmp_path: Path):
    long = tmp_path / "long.txt"
    long.write_text(LETTER_000.read_text(encoding="utf-8") * 3, encoding="utf-8")
    _, skipped = read_documents([long], config=Config(max_letter_chars=5_000))
    assert skipped[0].reason.startswith("too long for one letter (") and "Config.max_letter_chars" in skipped[0].reason


def test_letter_over_the_chunk_limit_is_skipped_and_its_indexed_version_kept(fake_index: Index, letters_dir: Path):
    strict = Index.load(fake_index.directory, encoder=FakeEncoder(), analyzer=fake_index.analyzer,
                        config=Config(max_letter_chunks=3))
    before = {c.chunk_id for c in strict.chunks}
    changed = letters_dir / LETTER_000.name
    changed.write_text(changed.read_text(encoding="utf-8") + "\n补充说明。", encoding="utf-8")

    report = strict.add([changed])

    assert report.updated == () and report.added == ()
    assert "Config.max_letter_chunks" in report.skipped[0].reason and report.skipped[0].path == str(changed)
    assert {c.chunk_id for c in strict.chunks} == before and len(strict.letters) == 2


# ---- missing sources ----------------------------------------------------------------------------

def test_rebuild_with_missing_sources_keeps_the_index_and_exits_2(fake_index: Index, tmp_path: Path, capsys):
    directory = fake_index.directory
    manifest = (directory / "manifest.json").read_bytes()
    code = main(["build", str(tmp_path / "leters"), "--index", str(directory), "--rebuild", "--quiet"])
    assert code == 2
    assert "no such file or folder" in capsys.readouterr().err
    assert (directory / "manifest.json").read_bytes() == manifest
    assert len(Index.load(directory, encoder=FakeEncoder())) == len(fake_index)


def test_build_from_a_missing_path_creates_no_index(tmp_path: Path, capsys):
    assert main(["build", "/nonexistent", "--index", str(tmp_path / "new")]) == 2
    assert "error: no such file or folder: /nonexistent" in capsys.readouterr().err
    assert not (tmp_path / "new").exists()
    (tmp_path / "empty.txt").write_text("", encoding="utf-8")
    assert main(["build", str(tmp_path / "empty.txt"), "--index", str(tmp_path / "new")]) == 2
    assert "error: no letter could be read from" in capsys.readouterr().err
    with pytest.raises(NothingToIndex):
        Index.build([tmp_path / "empty.txt"], tmp_path / "new", encoder=FakeEncoder())
    assert not (tmp_path / "new").exists()


def test_unreadable_subfolder_is_reported_as_skipped(letters_dir: Path, monkeypatch):
    locked = letters_dir / "locked"
    locked.mkdir()
    real = os.scandir

    def scandir(path):  # noqa: ANN001, ANN202 - os.scandir's signature; root bypasses chmod, so deny here
        if Path(path) == locked:
            raise PermissionError(13, "Permission denied", str(path))
        return real(path)

    monkeypatch.setattr(os, "scandir", scandir)
    documents, skipped = read_documents([letters_dir])
    assert len(documents) == 2
    assert [(s.path, s.reason) for s in skipped] == [(str(locked), "cannot read folder: Permission denied")]


# ---- the command line's other inputs ------------------------------------------------------------

def test_bad_query_lines_give_one_error_each_and_the_batch_goes_on(fake_index: Index, tmp_path: Path, capsys,
                                                                  monkeypatch):
    monkeypatch.setattr("rag.embed.load_encoder", lambda name: FakeEncoder())
    queries = tmp_path / "q.jsonl"
    queries.write_text("\n".join([
        json.dumps({"id": "a", "question": "创新券"}), json.dumps({"id": "b", "question": 5}),
        '{"id": "c", "question": "\\ud800 医疗器械"}', "not json", json.dumps({"id": "e", "question": "  "}),
        json.dumps({"id": "f", "question": "临床试验"})]), encoding="utf-8")
    for command in ("search", "ask"):
        code = main([command, "--queries", str(queries), "--index", str(fake_index.directory), "--json", "--model",
                     "fake-bigrams"])
        rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
        assert code == 2
        assert [row["id"] for row in rows] == ["a", "b", "c", "line 4", "e", "f"]
        errors = {row["id"]: row["error"] for row in rows if "error" in row}
        assert set(errors) == {"b", "c", "line 4", "e"}
        assert "must be text" in errors["b"] and "lone surrogate" in errors["c"] and "empty" in errors["e"]


@pytest.mark.parametrize("value", ["2023-13-45", "banana", "2023-1-5", "20230105"])
def test_dates_must_be_real_iso_dates(fake_index: Index, capsys, value: str):
    assert main(["search", "创新券", "--index", str(fake_index.directory), "--from", value]) == 2
    assert capsys.readouterr().err.startswith(f"error: the from date {value!r} is not a date: expected YYYY-MM-DD")


def test_forged_letter_names_are_printed_safely(tmp_path: Path, capsys, monkeypatch, analyzer):
    monkeypatch.setattr("rag.embed.load_encoder", lambda name: FakeEncoder())
    folder = tmp_path / "letters"
    folder.mkdir()
    forged = "x\n000_fake\t慈卫建〔2099〕1号\x1b[31mred"
    (folder / f"{forged}.txt").write_text(LETTER_000.read_text(encoding="utf-8"), encoding="utf-8")
    Index.build([folder], tmp_path / "idx", encoder=FakeEncoder(), analyzer=analyzer)

    assert main(["letters", "--index", str(tmp_path / "idx")]) == 0
    out = capsys.readouterr().out
    assert out.count("\n") == 1 and "\x1b" not in out
    assert out.startswith("x\\n000_fake\\t慈卫建〔2099〕1号\\x1b[31mred\t")
