"""The letter store on disk: SQLite segments linked across saves, exact chunk text, arrays not objects in memory."""

from __future__ import annotations

import json
import sqlite3
import tracemalloc
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from rag import Config, Filters, Index, Letter
from rag.chunk import Chunk
from rag.stores import LetterStore


def generation_files(index_dir: Path) -> dict[str, Path]:
    generation = json.loads((index_dir / "manifest.json").read_text(encoding="utf-8"))["generation"]
    return {p.name: p for p in (index_dir / generation).iterdir() if p.is_file()}


def synthetic(letters: int, chunks_each: int, start: int = 0) -> tuple[dict[str, Letter], dict[int, Chunk]]:
    made: dict[str, Letter] = {}
    chunks: dict[int, Chunk] = {}
    key = start
    for n in range(letters):
        letter_id = f"L{start}-{n}"
        text = "".join(f"第{i}段补助内容。" for i in range(chunks_each))
        agency = "民政局" if n % 2 else "卫健委"
        made[letter_id] = Letter(letter_id, f"/x/{letter_id}.txt", text, f"{n:064d}", agency=agency,
                                 date=f"2021-0{1 + n % 9}-01", paths=(f"/x/{letter_id}.txt",))
        step = len(text) // chunks_each
        for i in range(chunks_each):
            chunks[key] = Chunk(f"{letter_id}#{i}", letter_id, "", "", i * step, (i + 1) * step,
                                text[i * step:(i + 1) * step])
            key += 1
    return made, chunks


def test_a_save_after_adding_a_letter_links_the_old_segment(letters_dir: Path, tmp_path: Path, fake_encoder,
                                                            analyzer):
    index = Index.build([letters_dir], tmp_path / "index", config=Config(), encoder=fake_encoder, analyzer=analyzer)
    before = {name: p for name, p in generation_files(tmp_path / "index").items() if name.endswith(".sqlite")}
    keep = tmp_path / "keep"  # holds the old file so its inode cannot be reused
    keep.mkdir()
    for name, path in before.items():
        (keep / name).hardlink_to(path)
    later = tmp_path / "later"
    later.mkdir()
    (later / "short.txt").write_text("关于养老服务补助的答复\n一、养老机构运营补助按床位给予支持。\n", encoding="utf-8")
    index.add([later])
    after = {name: p for name, p in generation_files(tmp_path / "index").items() if name.endswith(".sqlite")}
    assert len(before) == 2 and set(before) < set(after) and len(after) == 4  # each segment with its facts file
    assert all(after[name].stat().st_ino == (keep / name).stat().st_ino for name in before)
    loaded = Index.load(tmp_path / "index", encoder=fake_encoder, analyzer=analyzer)
    assert [(c.chunk_id, c.start, c.end, c.text) for c in loaded.chunks] == [
        (c.chunk_id, c.start, c.end, c.text) for c in index.chunks]
    assert all(loaded.letter(c.letter_id).text[c.start:c.end] == c.text for c in loaded.chunks)
    hit = loaded.search("养老机构运营补助", k=1)[0]
    assert hit.letter_id == "short" and "养老机构运营补助" in hit.text


def test_changes_then_save_and_load_equal_the_same_letters_built_at_once(tmp_path: Path):
    letters, chunks = synthetic(6, 4)
    store = LetterStore().changed(retire=(), letters=letters, chunks=chunks)
    more, more_chunks = synthetic(2, 3, start=100)
    (tmp_path / "a").mkdir()
    store.save(tmp_path / "a")
    kept = {lid: letter for lid, letter in letters.items() if lid != "L0-1"}
    moved = replace(store.metadata["L0-2"], paths=("/y/moved.txt", "/x/L0-2.txt"))  # metadata only: text kept
    changed = store.changed(retire=("L0-1",), letters={**kept, "L0-2": moved, **more}, chunks=more_chunks)
    (tmp_path / "a2").mkdir()
    changed.save(tmp_path / "a2")
    loaded = LetterStore.load(tmp_path / "a2")
    assert list(loaded.letters) == [*kept, *more] and len(loaded) == 6 * 4 - 4 + 2 * 3
    assert loaded.letters["L0-2"].paths == ("/y/moved.txt", "/x/L0-2.txt")
    assert loaded.letters["L0-2"].text == letters["L0-2"].text
    expected = {k: c for k, c in {**chunks, **more_chunks}.items() if c.letter_id != "L0-1"}
    assert dict(loaded.chunks) == expected
    assert loaded.chunk_ids(["L100-1"]).tolist() == [103, 104, 105]
    assert loaded.allowed(Filters(agency="民政局")).tolist() == sorted(
        k for k, c in expected.items() if letters.get(c.letter_id, more.get(c.letter_id)).agency == "民政局")
    assert loaded.chunk_counts()["L0-0"] == 4 and loaded.next_id == 106
    assert loaded.stats() == {"letters": 7, "chunks": 26, "segments": 2}


def test_a_missing_segment_is_refused(tmp_path: Path):
    letters, chunks = synthetic(2, 2)
    LetterStore().changed(retire=(), letters=letters, chunks=chunks).save(tmp_path)
    next(tmp_path.glob("letters-????????????.sqlite")).unlink()
    with pytest.raises(ValueError, match="missing"):
        LetterStore.load(tmp_path)


def test_a_loaded_store_holds_per_chunk_arrays_not_objects(tmp_path: Path):
    letters, chunks = synthetic(100, 500)
    LetterStore().changed(retire=(), letters=letters, chunks=chunks).save(tmp_path)
    del chunks
    tracemalloc.start()
    loaded = LetterStore.load(tmp_path)
    size, _ = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert len(loaded) == 50_000 and isinstance(loaded._layout.chunks, np.ndarray)
    assert size / len(loaded) < 100  # bytes per chunk: a Chunk object with its text would be several hundred
    assert loaded.chunk(12_345).text == letters["L0-24"].text[loaded.chunk(12_345).start:loaded.chunk(12_345).end]


def test_stored_metadata_becomes_the_stripped_letter_whatever_fields_an_earlier_writer_kept():
    from rag.stores.letter_segments import _meta, _stripped_from, stripped

    letter = Letter("a", "/x/a.txt", "一、正文。", "f" * 64, agency="民政局", date="2021-03-01",
                    paths=("/x/a.txt", "/y/a.txt"))
    fast = _stripped_from(json.loads(json.dumps(_meta(letter))))
    assert fast == stripped(letter) and hash(fast) == hash(stripped(letter)) and fast.paths == ("/x/a.txt", "/y/a.txt")
    older = {k: v for k, v in _meta(letter).items() if k not in ("phone", "paths")}  # fields it did not write yet
    assert _stripped_from(older) == replace(stripped(letter), paths=())


def test_a_load_reads_metadata_from_the_facts_files_and_a_save_writes_one_a_segment_lacked(tmp_path: Path):
    letters, chunks = synthetic(5, 2)
    letters["L0-0"] = replace(letters["L0-0"], paths=("/x/L0-0.txt", "/y/second copy.txt"))
    letters["L0-1"] = replace(letters["L0-1"], paths=())
    (tmp_path / "a").mkdir()
    LetterStore().changed(retire=(), letters=letters, chunks=chunks).save(tmp_path / "a")
    assert len(list((tmp_path / "a").glob("*.facts.sqlite"))) == 1
    loaded = LetterStore.load(tmp_path / "a")
    assert all(segment._connection is None for segment in loaded._layout.segments)  # no page of text was read
    assert dict(loaded.metadata) == {lid: replace(letter, text="", sections=()) for lid, letter in letters.items()}

    next((tmp_path / "a").glob("*.facts.sqlite")).unlink()  # a segment written before facts files
    older = LetterStore.load(tmp_path / "a")
    assert dict(older.metadata) == dict(loaded.metadata)
    kept = {lid: letter for lid, letter in older.metadata.items() if lid != "L0-3"}
    (tmp_path / "b").mkdir()
    older.changed(retire=("L0-3",), letters=kept, chunks={}).save(tmp_path / "b")
    facts = sqlite3.connect(next((tmp_path / "b").glob("*.facts.sqlite")))
    assert facts.execute("SELECT row, letter_id FROM facts").fetchall() == [  # the live rows: L0-3's is retired
        (0, "L0-0"), (1, "L0-1"), (2, "L0-2"), (4, "L0-4")]
    facts.close()
    again = LetterStore.load(tmp_path / "b")
    assert all(segment._connection is None for segment in again._layout.segments)
    assert dict(again.metadata) == {lid: loaded.metadata[lid] for lid in kept}
    assert again.letters["L0-4"].text == letters["L0-4"].text


def test_a_facts_file_written_with_fewer_fields_reads_as_the_letters_with_those_left_empty(tmp_path: Path):
    from rag.stores.letter_segments import _read_facts, _write_facts, stripped

    letters, _ = synthetic(3, 1)
    _write_facts(tmp_path / "now.facts.sqlite", enumerate(letters.values()))
    assert _read_facts(tmp_path / "now.facts.sqlite") == [(n, stripped(x)) for n, x in enumerate(letters.values())]
    older = sqlite3.connect(tmp_path / "older.facts.sqlite")
    older.execute("CREATE TABLE facts (row INTEGER PRIMARY KEY, letter_id, path, sha256, agency, paths)")
    older.execute("INSERT INTO facts VALUES (5, 'a', '/x/a.txt', ?, '民政局', ?)", ("f" * 64, "/x/a.txt\0/y/a.txt"))
    older.commit()
    older.close()
    assert _read_facts(tmp_path / "older.facts.sqlite") == [
        (5, Letter("a", "/x/a.txt", "", "f" * 64, agency="民政局", paths=("/x/a.txt", "/y/a.txt")))]


def test_letter_ids_with_quotes_backslashes_and_chinese_survive_a_save_and_load(tmp_path: Path):
    letters, chunks = synthetic(2, 1)
    odd = 'a "quoted" \\ 答复\u2028'
    letters = {odd if lid == "L0-1" else lid: replace(letter, letter_id=odd) if lid == "L0-1" else letter
               for lid, letter in letters.items()}
    chunks = {key: replace(c, letter_id=odd) if c.letter_id == "L0-1" else c for key, c in chunks.items()}
    LetterStore().changed(retire=(), letters=letters, chunks=chunks).save(tmp_path)
    loaded = LetterStore.load(tmp_path)
    assert list(loaded.letters) == ["L0-0", odd] and loaded.chunk(1).letter_id == odd


def test_letters_given_in_another_order_keep_their_chunks_and_metadata_in_that_order():
    letters, chunks = synthetic(4, 2)
    store = LetterStore().changed(retire=(), letters=letters, chunks=chunks)
    backwards = {lid: store.metadata[lid] for lid in reversed(list(letters))}
    turned = store.changed(retire=(), letters=backwards, chunks={})
    assert list(turned.letters) == list(turned.metadata) == ["L0-3", "L0-2", "L0-1", "L0-0"]
    assert turned.chunk_ids(["L0-1"]).tolist() == [2, 3] and turned.chunk(6).letter_id == "L0-3"
    assert turned.allowed(Filters(agency="民政局")).tolist() == [2, 3, 6, 7]
