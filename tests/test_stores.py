"""The stores behind their protocols: the FAISS flat and BM25 stores, and a second dense backend plugged in."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from rag import Config, Filters, Index
from rag.stores import (
    DENSE_BACKENDS,
    AutoDenseStore,
    BM25Store,
    DenseParams,
    DenseStore,
    FlatDenseStore,
    IVFDenseStore,
    LexicalStore,
    MilvusDenseStore,
    Place,
    dense_backend,
)
from rag.stores.base import Ids, Stats, as_ids, distinct_ids

from .milvus_helpers import release_all_lite


class NumpyDenseStore:
    """A second dense backend, written here against the protocol only: a brute-force numpy scan."""

    backend = "numpy"

    def __init__(self, dim: int, ids: np.ndarray | None = None, vectors: np.ndarray | None = None) -> None:
        self.dim = dim
        self._ids = ids if ids is not None else as_ids([])
        self._vectors = vectors if vectors is not None else np.zeros((0, dim), np.float32)

    def __len__(self) -> int:
        return len(self._ids)

    def add(self, ids: Ids, vectors: np.ndarray) -> None:
        self._ids = np.concatenate([self._ids, as_ids(ids)])
        self._vectors = np.concatenate([self._vectors, np.asarray(vectors, np.float32)])

    def remove(self, ids: Ids) -> None:
        keep = ~np.isin(self._ids, as_ids(ids))
        self._ids, self._vectors = self._ids[keep], self._vectors[keep]

    def search(self, query: np.ndarray, k: int, allowed: Ids | None = None) -> tuple[Ids, np.ndarray]:
        scores = self._vectors @ np.asarray(query, np.float32)
        if allowed is not None:
            scores = np.where(np.isin(self._ids, allowed), scores, -np.inf)
        best: dict[int, float] = {}
        for row in np.argsort(-scores, kind="stable"):
            if np.isfinite(scores[row]) and int(self._ids[row]) not in best:
                best[int(self._ids[row])] = float(scores[row])
            if len(best) >= k:
                break
        return as_ids(list(best)), np.asarray(list(best.values()), np.float32)

    def ids(self) -> Ids:
        return np.unique(self._ids)

    def copy(self) -> NumpyDenseStore:
        return NumpyDenseStore(self.dim, self._ids.copy(), self._vectors.copy())

    def save(self, folder: Path) -> None:
        np.save(folder / "ids.npy", self._ids, allow_pickle=False)
        np.save(folder / "vectors.npy", self._vectors, allow_pickle=False)

    @classmethod
    def load(cls, folder: Path, dim: int) -> NumpyDenseStore:
        return cls(dim, np.load(folder / "ids.npy", allow_pickle=False),
                   np.load(folder / "vectors.npy", allow_pickle=False))

    def stats(self) -> Stats:
        return {"backend": self.backend, "vectors": len(self)}


def unit_rows(count: int, dim: int = 8, seed: int = 0) -> np.ndarray:
    rows = np.random.default_rng(seed).normal(size=(count, dim)).astype(np.float32)
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def milvus_lite(dim: int, folder: Path) -> MilvusDenseStore:
    return MilvusDenseStore.create(dim, Place(directory=folder))


def auto_past_threshold(dim: int) -> AutoDenseStore:
    """The auto store made IVF by its first vectors (float32 codes: scores exact, as the tests below expect)."""
    return AutoDenseStore(dim, DenseParams(auto_vectors=1, codes="flat"))


@pytest.fixture(params=[FlatDenseStore, IVFDenseStore, AutoDenseStore, auto_past_threshold, NumpyDenseStore,
                        milvus_lite],
                ids=["flat", "ivf", "auto", "auto-ivf", "numpy", "milvus"])
def dense(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[DenseStore]:
    lite = request.param is milvus_lite
    store = milvus_lite(8, tmp_path) if lite else request.param(8)  # Lite's file in the folder it is saved to
    vectors = unit_rows(6)
    store.add(as_ids([10, 10, 11, 12, 12, 12]), vectors)
    yield store
    if lite:
        release_all_lite()


def test_dense_store_returns_each_id_once_with_its_best_score(dense: DenseStore):
    vectors = unit_rows(6)
    ids, scores = dense.search(vectors[4], k=5)
    assert ids[0] == 12 and scores[0] == pytest.approx(1.0, abs=1e-5)
    assert sorted(ids.tolist()) == [10, 11, 12] and list(scores) == sorted(scores, reverse=True)
    expected_10 = max(float(vectors[0] @ vectors[4]), float(vectors[1] @ vectors[4]))
    assert scores[ids.tolist().index(10)] == pytest.approx(expected_10, abs=1e-5)
    assert len(dense.search(vectors[4], k=2)[0]) == 2


def test_dense_store_filters_removes_copies_and_saves(dense: DenseStore, tmp_path: Path):
    vectors = unit_rows(6)
    assert dense.search(vectors[4], k=5, allowed=as_ids([10, 11]))[0].tolist() in ([10, 11], [11, 10])
    assert isinstance(dense, DenseStore) and len(dense) == 6 and dense.ids().tolist() == [10, 11, 12]
    twin = dense.copy()
    twin.remove(as_ids([12, 99]))
    assert twin.ids().tolist() == [10, 11] and len(twin) == 3 and dense.ids().tolist() == [10, 11, 12]
    saved = tmp_path / "gen-1" / "dense"  # where an index keeps it (Milvus Lite's file is the index folder's)
    saved.mkdir(parents=True)
    dense.save(saved)
    loaded = type(dense).load(saved, 8)  # type: ignore[attr-defined]  # (a saved Milvus store is committed)
    assert loaded.ids().tolist() == [10, 11, 12]
    assert loaded.search(vectors[2], k=3)[0].tolist() == dense.search(vectors[2], k=3)[0].tolist()


def test_flat_store_looks_deeper_when_one_id_holds_many_vectors():
    store = FlatDenseStore(8)
    crowd = np.tile(unit_rows(1), (40, 1))  # 40 identical vectors under one id crowd out the rest
    store.add(as_ids([1] * 40 + [2, 3]), np.concatenate([crowd, unit_rows(2, seed=1)]))
    ids, _ = store.search(crowd[0], k=3)
    assert ids.tolist()[0] == 1 and sorted(ids.tolist()) == [1, 2, 3]


def test_bm25_store_ranks_filters_counts_and_round_trips(tmp_path: Path):
    store = BM25Store()
    store.add(as_ids([5, 6, 7]), [["医疗器械", "补助", "补助"], ["养老", "补助"], ["养老", "服务"]])
    assert isinstance(store, LexicalStore) and store.documents == 3
    assert store.search(["补助"], k=5)[0].tolist() == [5, 6]
    assert store.search(["补助"], k=5, allowed=as_ids([6, 7]))[0].tolist() == [6]
    assert store.search(["不存在"], k=5)[0].tolist() == []
    assert store.document_frequency("养老") == 2 and store.document_frequency("不存在") == 0
    twin = store.copy()
    twin.remove(as_ids([6]))
    assert twin.search(["养老"], k=5)[0].tolist() == [7] and store.search(["养老"], k=5)[0].tolist() in ([6, 7], [7, 6])
    store.save(tmp_path)
    loaded = BM25Store.load(tmp_path)
    assert loaded.ids().tolist() == [5, 6, 7]
    assert loaded.search(["补助"], k=5)[0].tolist() == [5, 6]


def test_unknown_dense_backend_names_the_known_ones():
    with pytest.raises(ValueError, match="unknown dense store 'ivf-nope'; known: auto, flat, ivf"):
        dense_backend("ivf-nope")


def test_a_second_dense_backend_plugs_in_through_the_protocol(letters_dir: Path, tmp_path: Path, fake_encoder,
                                                              analyzer, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setitem(DENSE_BACKENDS, "numpy", NumpyDenseStore)
    question = "what subsidies exist for Class II device registration"
    flat = Index.build([letters_dir], None, config=Config(), encoder=fake_encoder, analyzer=analyzer)
    built = Index.build([letters_dir], tmp_path / "numpy-index", config=Config(dense="numpy"), encoder=fake_encoder,
                        analyzer=analyzer)

    manifest = json.loads((tmp_path / "numpy-index" / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["stores"]["dense"]["backend"] == "numpy" and manifest["build_settings"]["dense"] == "numpy"
    expected = [(h.chunk_id, round(h.score, 4)) for h in flat.search(question, k=5)]
    assert [(h.chunk_id, round(h.score, 4)) for h in built.search(question, k=5)] == expected
    loaded = Index.load(tmp_path / "numpy-index", encoder=fake_encoder, analyzer=analyzer)
    assert [(h.chunk_id, round(h.score, 4)) for h in loaded.search(question, k=5)] == expected
    assert loaded.remove(["004_dce9e1310b5c7813"]) == ("004_dce9e1310b5c7813",)
    assert {h.letter_id for h in loaded.search(question, k=10)} == {"000_3530caffdd2f932b"}


def clustered_rows(count: int, dim: int = 32, clusters: int = 20, seed: int = 0) -> np.ndarray:
    """Unit vectors around a few centres, as real sentence embeddings cluster by topic."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(clusters, dim))
    rows = centres[rng.integers(0, clusters, count)] + 0.4 * rng.normal(size=(count, dim))
    rows = rows.astype(np.float32)
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def test_ivf_store_finds_nearly_what_an_exact_scan_finds():
    vectors = clustered_rows(4000)
    ids = as_ids(np.arange(4000) // 2)  # two vectors per id, as a chunk and its sentence
    exact, ivf = FlatDenseStore(32), IVFDenseStore(32)  # default nprobe 32 of 102 cells
    for store in (exact, ivf):
        store.add(ids, vectors)
    assert ivf.stats()["nlist"] == min(int(4 * 4000 ** 0.5), 4000 // 39) == 102
    queries = clustered_rows(50, seed=1)
    overlap = [len(set(ivf.search(q, 10)[0].tolist()) & set(exact.search(q, 10)[0].tolist())) / 10 for q in queries]
    assert np.mean(overlap) >= 0.95  # measured: 0.75 at nprobe 4, 0.93 at 8, 0.99 at 16, 1.0 at 32
    found, scores = ivf.search(queries[0], 10)
    pairs = vectors.reshape(2000, 2, 32)[found] @ queries[0]  # each id's two vectors
    assert np.allclose(scores, pairs.max(axis=1), atol=1e-5)  # scores are exact: the best of the id's vectors


def test_ivf_store_widens_its_search_rather_than_drop_results():
    vectors = clustered_rows(4000)
    store = IVFDenseStore(32, nprobe=1)
    store.add(as_ids(np.arange(4000)), vectors)
    far = as_ids(np.argsort(vectors @ vectors[0])[:300])  # the ids least like the query: other cells
    ids, _ = store.search(vectors[0], k=100, allowed=far)
    assert len(ids) == 100 and set(ids.tolist()) <= set(far.tolist())
    assert len(store.search(vectors[0], k=5000)[0]) == 4000  # more than it holds: every id, once


# (backend, the backend of the fresh in-memory build it must equal): Milvus's FLAT index is exact, like FAISS's
@pytest.mark.parametrize(("backend", "reference"), [("ivf", "ivf"), ("milvus", "flat")])
def test_index_updated_in_place_matches_a_fresh_build(backend: str, reference: str, letters_dir: Path,
                                                      shared_letters: Path, tmp_path: Path, fake_encoder, analyzer):
    import shutil

    extra = sorted(shared_letters.glob("x0*.txt"))[:6]
    for path in extra:
        shutil.copy(path, letters_dir / path.name)
    fresh = Index.build([letters_dir], None, config=Config(dense=reference), encoder=fake_encoder, analyzer=analyzer)
    grown = Index.build([letters_dir / "000_3530caffdd2f932b.txt"], tmp_path / backend, config=Config(dense=backend),
                        encoder=fake_encoder, analyzer=analyzer)
    assert grown.add([letters_dir]).added and not grown.add([letters_dir]).added  # the second add is a no-op
    grown.remove([extra[0].name])
    fresh.remove([extra[0].name])
    filters = Filters(agency="卫生")
    for question in ("what subsidies exist for Class II device registration", "养老服务补贴标准"):
        expected = [(h.chunk_id, round(h.score, 4)) for h in fresh.search(question, k=10)]
        assert [(h.chunk_id, round(h.score, 4)) for h in grown.search(question, k=10)] == expected
        reloaded = Index.load(tmp_path / backend, encoder=fake_encoder, analyzer=analyzer)
        assert [(h.chunk_id, round(h.score, 4)) for h in reloaded.search(question, k=10)] == expected
        narrowed = [(h.chunk_id, round(h.score, 4)) for h in fresh.search(question, k=5, filters=filters)]
        assert narrowed and [(h.chunk_id, round(h.score, 4))
                             for h in reloaded.search(question, k=5, filters=filters)] == narrowed
        assert {h.letter_id for h in reloaded.search(question, k=40)} == {lt.letter_id for lt in fresh.letters}
    manifest = json.loads((tmp_path / backend / "manifest.json").read_text())
    assert manifest["stores"]["dense"]["backend"] == backend == manifest["build_settings"]["dense"]
    assert manifest["counts"]["vectors"] == len(fresh._stores.dense)
    release_all_lite()


def test_distinct_ids_match_numpy_unique_for_dense_sparse_and_negative_ids():
    rng = np.random.default_rng(3)
    for ids in (rng.integers(0, 1000, 5000), np.asarray([7, 7, 3]), np.asarray([5, 10**12, 5]),
                np.asarray([-4, 2, 2, -4]), np.asarray([], np.int64)):
        found = distinct_ids(ids)
        assert found.dtype == np.int64 and found.tolist() == np.unique(ids).tolist()
