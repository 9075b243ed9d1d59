"""Dense stores that grow in place: IVF segments and tombstones, hard-linked saves, compaction, the auto backend."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from rag import Config, Index
from rag.stores import AutoDenseStore, DenseParams, FlatDenseStore, IVFDenseStore, ivf_lists
from rag.stores import disk as disk_module
from rag.stores.base import as_ids
from rag.stores.disk import IndexLoadError

from .test_stores import clustered_rows


def _top(store, queries: np.ndarray, k: int = 10) -> list[list[int]]:
    return [store.search(q, k)[0].tolist() for q in queries]


def _grown(vectors: np.ndarray, ids: np.ndarray, params: DenseParams, batches: int = 5) -> IVFDenseStore:
    """An IVF store built by several adds (each on a copy, as an index update does)."""
    store = IVFDenseStore(vectors.shape[1], params)
    for rows in np.array_split(np.arange(len(ids)), batches):
        store = store.copy()
        store.add(ids[rows], vectors[rows])
    return store


def test_ivf_store_grown_in_place_finds_what_a_fresh_build_finds():
    vectors, queries = clustered_rows(3000), clustered_rows(40, seed=1)
    ids = as_ids(np.arange(3000) // 3)
    gone = as_ids(np.arange(0, 1000, 7))
    keep = ~np.isin(ids, gone)
    fresh = IVFDenseStore(32, DenseParams(codes="flat"))
    fresh.add(ids[keep], vectors[keep])
    grown = _grown(vectors, ids, DenseParams(codes="flat"))
    grown.remove(gone)
    assert len(grown) == len(fresh) and grown.ids().tolist() == fresh.ids().tolist()
    # trained on other samples, the cells differ: the default nprobe finds nearly the same ids …
    overlap = [len(set(a) & set(b)) / 10 for a, b in zip(_top(grown, queries), _top(fresh, queries), strict=True)]
    assert np.mean(overlap) >= 0.9
    # … and scanning every cell finds exactly the same ids with the same (exact, float32) scores
    everything = DenseParams(codes="flat", nprobe=10_000)
    grown.configure(everything)
    fresh.configure(everything)
    for query in queries:
        found, expected = grown.search(query, 10), fresh.search(query, 10)
        assert found[0].tolist() == expected[0].tolist() and np.allclose(found[1], expected[1], atol=1e-6)


def test_tombstoned_ids_never_come_back_after_save_and_load(tmp_path: Path):
    vectors = clustered_rows(600)
    store = _grown(vectors, as_ids(np.arange(600) // 2), DenseParams(codes="flat"), batches=3)
    store.remove(as_ids([0, 5, 299]))
    store.add(as_ids([299, 299]), vectors[:2])  # an id used again (the index reuses the last ids) is new
    (tmp_path / "a").mkdir()
    store.save(tmp_path / "a")
    loaded = IVFDenseStore.load(tmp_path / "a", 32)
    for candidate in (store, loaded):
        found, scores = candidate.search(vectors[0], k=10_000)
        assert 0 not in found.tolist() and 5 not in found.tolist()
        assert found.tolist().count(299) == 1 and scores[found.tolist().index(299)] == pytest.approx(1.0, abs=1e-5)
        assert len(found) == 300 - 3 + 1 and len(candidate) == 600 - 6 + 2
    assert json.loads((tmp_path / "a" / "segments.json").read_text())["vectors"] == 596


def test_compaction_drops_deleted_vectors_and_gives_the_same_hits(tmp_path: Path):
    vectors, queries = clustered_rows(6000), clustered_rows(20, seed=2)
    ids = as_ids(np.arange(6000) // 2)
    store = _grown(vectors, ids, DenseParams(codes="flat", nprobe=10_000), batches=3)
    before = store.copy()
    store.remove(as_ids(np.arange(0, 3000, 4)))  # 1,500 vectors: over 1,000 and 20% of what is left
    assert "compacted 3 segments into one, dropping 1,500 deleted vectors" in store.maintenance
    assert store.stats()["segments"] == 1 and store.stats()["deleted_rows"] == 0
    before.configure(DenseParams(codes="flat", nprobe=10_000))
    for query in queries:
        expected = [i for i in before.search(query, 40)[0].tolist() if i % 4][:10]
        assert store.search(query, 10)[0].tolist() == expected
    (tmp_path / "c").mkdir()
    store.save(tmp_path / "c")
    assert not (tmp_path / "c" / "tombstones.npy").exists()
    assert IVFDenseStore.load(tmp_path / "c", 32).ids().tolist() == store.ids().tolist()


def test_a_store_grown_four_times_past_its_training_is_retrained():
    vectors = clustered_rows(8000)
    store = IVFDenseStore(32, DenseParams(codes="flat"))
    store.add(as_ids(np.arange(1000)), vectors[:1000])
    assert store.stats()["trained_on"] == 1000 and store.stats()["nlist"] == 25
    store.add(as_ids(np.arange(1000, 8000)), vectors[1000:])
    assert "retrained" in store.maintenance and store.stats()["trained_on"] == 8000
    assert store.stats()["nlist"] == min(int(4 * 8000 ** 0.5), 8000 // 39)
    exact = FlatDenseStore(32)
    exact.add(as_ids(np.arange(8000)), vectors)
    queries = clustered_rows(30, seed=3)
    overlap = [len(set(a) & set(b)) / 10 for a, b in zip(_top(store, queries), _top(exact, queries), strict=True)]
    assert np.mean(overlap) >= 0.95


def test_sq8_codes_keep_a_quarter_of_the_bytes_and_nearly_the_same_hits():
    vectors, queries = clustered_rows(4000), clustered_rows(30, seed=4)
    exact, sq8 = FlatDenseStore(32), IVFDenseStore(32, DenseParams(codes="sq8"))
    for store in (exact, sq8):
        store.add(as_ids(np.arange(4000)), vectors)
    assert sq8.stats()["codes"] == "sq8" and sq8.stats()["bytes"] == 4000 * (32 + 8)
    overlap = [len(set(a) & set(b)) / 10 for a, b in zip(_top(sq8, queries), _top(exact, queries), strict=True)]
    assert np.mean(overlap) >= 0.9
    found, scores = sq8.search(queries[0], 10)
    assert np.allclose(scores, vectors[found] @ queries[0], atol=0.02)  # one byte per dimension: close, not exact


def test_k_beyond_the_probed_cells_widens_over_every_segment():
    vectors = clustered_rows(3000)
    store = _grown(vectors, as_ids(np.arange(3000)), DenseParams(codes="sq8", nprobe=1), batches=4)
    store.remove(as_ids(np.arange(10)))
    assert len(store.search(vectors[0], k=5000)[0]) == 2990
    far = as_ids(np.argsort(vectors @ vectors[0])[:200])
    found = store.search(vectors[0], k=150, allowed=far)[0].tolist()
    assert len(found) == 150 and set(found) <= set(far.tolist()) - set(range(10))


def test_auto_store_is_flat_until_its_threshold_then_ivf(tmp_path: Path):
    vectors = clustered_rows(3000)
    store = AutoDenseStore(32, DenseParams(auto_vectors=2000, codes="flat"))
    store.add(as_ids(np.arange(1500)), vectors[:1500])
    assert store.stats()["backend"] == "flat" and store.stats()["chosen_by"] == "auto"
    grown = store.copy()
    grown.add(as_ids(np.arange(1500, 3000)), vectors[1500:])
    assert grown.stats()["backend"] == "ivf" and "switched the dense store from flat to ivf" in grown.maintenance
    assert store.stats()["backend"] == "flat" and len(store) == 1500  # the copy changed, not the original
    for name, candidate in (("flat", store), ("ivf", grown)):
        (tmp_path / name).mkdir()
        candidate.save(tmp_path / name)
        loaded = AutoDenseStore.load(tmp_path / name, 32)
        assert loaded.stats()["backend"] == name and loaded.ids().tolist() == candidate.ids().tolist()


def _dense_files(directory: Path) -> dict[str, tuple[int, int]]:
    manifest = json.loads((directory / "manifest.json").read_text())
    generation = directory / manifest["generation"]
    return {name: (generation / name).stat().st_ino for name in manifest["files"] if name.startswith("dense/")}


def test_saving_after_an_add_writes_only_the_new_segment(letters_dir: Path, shared_letters: Path, tmp_path: Path,
                                                         fake_encoder, analyzer):
    index = Index.build([letters_dir], tmp_path / "index", config=Config(dense="ivf"), encoder=fake_encoder,
                        analyzer=analyzer)
    before = _dense_files(tmp_path / "index")
    entries = json.loads((tmp_path / "index" / "manifest.json").read_text())["files"]
    extra = sorted(shared_letters.glob("x0*.txt"))[0]
    shutil.copy(extra, letters_dir / extra.name)
    assert index.add([letters_dir / extra.name]).added
    after = _dense_files(tmp_path / "index")
    kept = {name for name in before if name.endswith((".faiss", ".codes.npy", ".ids.npy"))}
    assert kept and all(after[name] == before[name] for name in kept)  # the same inodes: hard links
    new = set(after) - set(before)
    assert len(new) == 2 and all(name.endswith((".codes.npy", ".ids.npy")) for name in new)
    manifest = json.loads((tmp_path / "index" / "manifest.json").read_text())
    assert all(manifest["files"][name] == entries[name] for name in kept)
    assert len(list((tmp_path / "index").glob("gen-*"))) == 1  # the old generation is gone; its files live on
    reloaded = Index.load(tmp_path / "index", encoder=fake_encoder, analyzer=analyzer)
    question = "what subsidies exist for Class II device registration"
    assert [h.chunk_id for h in reloaded.search(question, k=10)] == [h.chunk_id for h in index.search(question, k=10)]


@pytest.mark.parametrize("hash_below", [disk_module.HASH_ALWAYS_BELOW, 0])
def test_a_corrupt_segment_is_refused_with_the_rebuild_command(letters_dir: Path, tmp_path: Path, fake_encoder,
                                                               analyzer, monkeypatch, hash_below: int):
    monkeypatch.setattr(disk_module, "HASH_ALWAYS_BELOW", hash_below)  # 0: every file trusted by inode and mtime
    Index.build([letters_dir], tmp_path / "index", config=Config(dense="ivf"), encoder=fake_encoder,
                analyzer=analyzer)
    manifest = json.loads((tmp_path / "index" / "manifest.json").read_text())
    assert all(("inode" in entry) == (hash_below == 0) for entry in manifest["files"].values())
    segment = next((tmp_path / "index" / manifest["generation"] / "dense").glob("seg-*.codes.npy"))
    data = bytearray(segment.read_bytes())
    data[-1] ^= 0xFF  # same size, one byte differs
    segment.write_bytes(bytes(data))
    with pytest.raises(IndexLoadError, match="corrupt or truncated") as error:
        Index.load(tmp_path / "index", encoder=fake_encoder, analyzer=analyzer)
    assert "rag build" in str(error.value) and "--rebuild" in str(error.value)


def test_an_auto_index_that_grows_past_its_threshold_switches_and_says_so(letters_dir: Path, shared_letters: Path,
                                                                          tmp_path: Path, fake_encoder, analyzer):
    config = Config(dense_auto_vectors=150, ivf_codes="flat")
    index = Index.build([letters_dir / "000_3530caffdd2f932b.txt"], tmp_path / "index", config=config,
                        encoder=fake_encoder, analyzer=analyzer)
    assert len(index._stores.dense) < 150 and not index.report.notes
    for path in sorted(shared_letters.glob("x0*.txt"))[:3]:
        shutil.copy(path, letters_dir / path.name)
    report = index.add([letters_dir])
    assert any("switched the dense store from flat to ivf" in note for note in report.notes)
    assert "switched the dense store from flat to ivf" in report.summary()
    manifest = json.loads((tmp_path / "index" / "manifest.json").read_text())
    assert manifest["stores"]["dense"]["backend"] == "ivf" and manifest["stores"]["dense"]["chosen_by"] == "auto"
    assert manifest["build_settings"]["dense"] == "auto"
    reloaded = Index.load(tmp_path / "index", encoder=fake_encoder, analyzer=analyzer)
    assert reloaded._stores.dense.stats()["backend"] == "ivf" and len(reloaded) == len(index)
    again = Index.build([letters_dir], tmp_path / "index", config=Config(), encoder=fake_encoder, analyzer=analyzer)
    assert not again.report.added and again.config.dense_auto_vectors == 150  # auto takes the index's store
    with pytest.raises(IndexLoadError, match="ivf_codes"):
        Index.build([letters_dir], tmp_path / "index", config=Config(dense="ivf", ivf_codes="sq8"),
                    encoder=fake_encoder, analyzer=analyzer)


def test_a_view_with_another_nprobe_scans_more_cells_and_leaves_the_index_as_it_was(letters_dir: Path,
                                                                                     tmp_path: Path, fake_encoder,
                                                                                     analyzer):
    index = Index.build([letters_dir], tmp_path / "index", config=Config(dense="ivf", ivf_nprobe=1),
                        encoder=fake_encoder, analyzer=analyzer)
    every = index.with_config(ivf_nprobe=1_000_000)
    assert every._stores.dense.stats()["nprobe"] == 1_000_000 and index._stores.dense.stats()["nprobe"] == 1
    exact = Index.build([letters_dir], tmp_path / "exact", config=Config(dense="flat"), encoder=fake_encoder,
                        analyzer=analyzer)
    for question in ("what subsidies exist for Class II device registration", "临床试验费用能不能用创新券"):
        assert [h.chunk_id for h in every.search(question, k=10)] == [h.chunk_id for h in exact.search(question, k=10)]
    with pytest.raises(ValueError, match="rebuild"):
        index.with_config(ivf_nlist=7)


def test_many_adds_make_one_segment_and_a_grown_store_takes_the_codes_its_size_calls_for(monkeypatch):
    monkeypatch.setattr(ivf_lists, "SQ8_FROM", 2_000)
    vectors = clustered_rows(8_000)
    store = IVFDenseStore(32, DenseParams(codes="auto"))
    for rows in np.array_split(np.arange(400), 8):  # trained on the first 50, retrained at 200: float32 codes
        store.add(as_ids(rows), vectors[rows])
    assert store.stats()["codes"] == "flat"
    for rows in np.array_split(np.arange(400, 8_000), 40):  # retrained at 800 and at 3,200 (over SQ8_FROM)
        store.add(as_ids(rows), vectors[rows])
    stats = store.stats()
    # 48 adds: at most two segments, the last retraining's and the rows added since
    assert stats["codes"] == "sq8" and stats["segments"] <= 2 and "retrained" in store.maintenance
    assert store.ids().tolist() == list(range(8_000))
    found, _ = store.search(vectors[123], k=1)
    assert found.tolist() == [123]


def test_small_updates_merge_among_themselves_and_leave_the_largest_part_alone():
    vectors, queries = clustered_rows(3000), clustered_rows(10, seed=3)
    store = IVFDenseStore(32, DenseParams(nlist=8, codes="flat", nprobe=10_000))  # 8 cells: never retrained
    store.add(as_ids(range(100)), vectors[:100])
    store = store.copy()  # sealed: a small first part
    store.add(as_ids(range(100, 2100)), vectors[100:2100])
    store = store.copy()  # and a large one
    largest = max(store._parts, key=lambda part: len(part.ids))
    for start in range(2100, 3000, 100):  # nine small updates, each on a copy as an index update does
        store = store.copy()
        store.add(as_ids(range(start, start + 100)), vectors[start:start + 100])
    store.ids()
    assert len(store._parts) <= 4 and any(part is largest for part in store._parts)
    fresh = IVFDenseStore(32, DenseParams(codes="flat", nprobe=10_000))
    fresh.add(as_ids(range(3000)), vectors)
    for query in queries:  # every cell scanned: exact, whatever the cells
        assert store.search(query, 10)[0].tolist() == fresh.search(query, 10)[0].tolist()


def test_a_view_with_another_nprobe_of_a_flat_index_shares_its_vectors(letters_dir: Path, tmp_path: Path,
                                                                       fake_encoder, analyzer):
    index = Index.build([letters_dir], tmp_path / "index", config=Config(), encoder=fake_encoder, analyzer=analyzer)
    assert index._stores.dense.stats()["backend"] == "flat"  # auto, below its threshold
    assert index.with_config(ivf_nprobe=64)._stores is index._stores  # nothing to probe: no copy of the vectors


@pytest.mark.parametrize("codes", ["flat", "sq8"])
def test_lists_filled_from_saved_codes_a_slice_at_a_time_equal_the_index_they_came_from(codes: str, monkeypatch):
    import faiss

    vectors = clustered_rows(3000, seed=4)
    template = ivf_lists.trained(vectors, vectors.shape[1], 12, codes)
    whole = faiss.clone_index(template)
    whole.add_with_ids(vectors, np.arange(3000, dtype=np.int64) * 7)
    saved, ids = ivf_lists.contents(whole)  # by cell, as a segment file is
    monkeypatch.setattr(ivf_lists, "_FILL_ROWS", 257)  # slices that end inside cells
    filled = ivf_lists.filled(template, [(saved, ids, None)])
    again, again_ids = ivf_lists.contents(filled)
    assert np.array_equal(again, saved) and np.array_equal(again_ids, ids)
    whole.nprobe = filled.nprobe = 4
    assert np.array_equal(whole.search(vectors[:20], 10)[1], filled.search(vectors[:20], 10)[1])
