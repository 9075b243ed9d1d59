"""Sentence vectors beside the dense index, re-scoring its candidates (Config.sentence_rescore)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from rag import Config, Index
from rag.stores import DenseParams, FlatDenseStore, IVFDenseStore, RescoredDenseStore, load_dense, new_dense
from rag.stores.base import as_ids
from rag.stores.disk import IndexLoadError
from rag.stores.segments import save_array
from rag.stores.sentences import MANIFEST, MAX_SEGMENTS

from .conftest import LETTER_000, LETTER_004
from .test_stores import clustered_rows

QUESTIONS = ("医疗器械注册补助", "临床试验费用能不能用创新券", "申请材料", "联系电话")
FLOAT16 = 2e-3  # sentence vectors are kept as float16: a score moves by at most about 1e-3


def _units(chunks: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Ids and vectors as an index adds them: each chunk's vector, then 0 to 5 sentence vectors, under its id."""
    rng = np.random.default_rng(seed)
    ids = np.repeat(np.arange(chunks), 1 + rng.integers(0, 6, chunks))
    return as_ids(ids), clustered_rows(len(ids), seed=seed)


def _hits(index: Index, question: str) -> list[tuple[str, float, float]]:
    return [(h.chunk_id, h.score, h.dense_score if h.dense_score is not None else -1.0)
            for h in index.search(question, k=len(index))]


def _same_hits(index: Index, other: Index) -> None:
    """The same hits with the same scores (within :data:`FLOAT16`), in the same order but for near-ties."""
    for question in QUESTIONS:
        mine, theirs = _hits(index, question), _hits(other, question)
        assert {key for key, _, _ in mine} == {key for key, _, _ in theirs}, question
        assert np.allclose([s for _, s, _ in mine], [s for _, s, _ in theirs], atol=FLOAT16), question
        score_of = {key: (score, dense) for key, score, dense in theirs}
        assert all(np.allclose(score_of[key], (score, dense), atol=FLOAT16) for key, score, dense in mine), question
        assert [key for key, _, _ in mine[:1]] == [key for key, _, _ in theirs[:1]], question


def test_rescored_store_scores_a_chunk_by_its_best_unit_like_the_store_of_every_unit():
    ids, vectors = _units(300)
    everything, rescored = FlatDenseStore(32), RescoredDenseStore(FlatDenseStore(32))
    everything.add(ids, vectors)
    rescored.add(ids, vectors)
    assert len(rescored) == len(everything) and len(rescored.inner) == 300  # every unit beside, chunk vectors in
    assert np.array_equal(rescored.ids(), np.arange(300))
    for query in clustered_rows(20, seed=3):
        want_ids, want = everything.search(query, 300)  # every chunk a candidate: the same scores exactly
        got_ids, got = rescored.search(query, 300)
        assert np.array_equal(np.sort(got_ids), np.sort(want_ids))
        order = np.argsort(want_ids)
        assert np.allclose(got[np.argsort(got_ids)], want[order], atol=FLOAT16)
        assert np.all(np.diff(got) <= 0)  # best first


def test_a_chunk_found_only_by_a_sentence_is_missed_when_its_chunk_vector_is_no_candidate():
    """The price of the mode: candidates come from chunk vectors only (README "Dense stores")."""
    eye = np.eye(4, dtype=np.float32)
    ids = as_ids([1, 1, 2])  # chunk 1: its vector is e0, one sentence is e3; chunk 2: e1
    vectors = np.stack([eye[0], eye[3], 0.6 * eye[1] + 0.8 * eye[3]])
    everything, rescored = FlatDenseStore(4), RescoredDenseStore(FlatDenseStore(4))
    everything.add(ids, vectors)
    rescored.add(ids, vectors)
    assert everything.search(eye[3], 1)[0].tolist() == [1]
    got_ids, got = rescored.search(eye[3], 1)
    assert got_ids.tolist() == [2] and got.tolist() == pytest.approx([0.8])
    assert rescored.search(eye[3], 2)[0].tolist() == [1, 2]  # with chunk 1 a candidate, its sentence counts
    assert rescored.score(eye[3], as_ids([2, 1, 9])).tolist() == pytest.approx([0.8, 1.0, -np.inf], abs=FLOAT16)


def test_sentence_vectors_of_a_removed_id_stay_gone_when_the_id_is_used_again(tmp_path: Path):
    eye = np.eye(4, dtype=np.float32)
    store = RescoredDenseStore(FlatDenseStore(4))
    store.add(as_ids([5, 5, 6]), np.stack([eye[0], eye[3], eye[1]]))
    store.remove(as_ids([5]))
    store.add(as_ids([5, 5]), np.stack([eye[0], eye[2]]))  # a new chunk under the freed id (ids are reused)
    for copy in (store, store.copy()):
        assert copy.search(eye[3], 2)[1].tolist() == pytest.approx([0.0, 0.0])
        assert copy.search(eye[2], 1)[0].tolist() == [5]
    store.save(tmp_path)
    loaded = load_dense("flat", tmp_path, 4, params=DenseParams(rescore=True))
    assert isinstance(loaded, RescoredDenseStore) and len(loaded) == len(store) == 3
    assert loaded.search(eye[3], 2)[1].tolist() == pytest.approx([0.0, 0.0])
    assert loaded.search(eye[2], 1)[1].tolist() == pytest.approx([1.0])


def test_removals_compact_the_sentence_segments_and_keep_the_same_answers():
    ids, vectors = _units(400, seed=5)
    store = RescoredDenseStore(FlatDenseStore(32))
    for rows in np.array_split(np.arange(len(ids)), 6):  # several segments, as a build's batches make
        store.add(ids[rows], vectors[rows])
    gone = as_ids(np.arange(0, 400, 3))
    store.remove(gone)
    fresh = RescoredDenseStore(FlatDenseStore(32))
    keep = ~np.isin(ids, gone)
    fresh.add(ids[keep], vectors[keep])
    assert "compacted the sentence vectors" in store.stats()["maintenance"]
    assert store.stats()["sentence_segments"] == 1 and len(store) == len(fresh)
    for query in clustered_rows(10, seed=8):
        assert store.search(query, 20)[0].tolist() == fresh.search(query, 20)[0].tolist()


def test_many_small_adds_merge_the_small_segments_and_leave_the_largest_alone():
    ids, vectors = _units(500, seed=6)
    store = RescoredDenseStore(FlatDenseStore(32))
    big = ids < 300
    store.add(ids[big], vectors[big])
    store = store.copy()  # an update works on a copy, as rag.updates does
    largest = store.sentences._segments[0]
    notes = set()
    for chunk in range(300, 500, 5):  # 40 updates of 5 chunks each
        store = store.copy()
        notes.add(store.sentences.maintenance)
        rows = (ids >= chunk) & (ids < chunk + 5)
        store.add(ids[rows], vectors[rows])
        assert store.sentences.rows  # seals the update's segment, as its save would
        assert len(store.sentences._segments) <= MAX_SEGMENTS + 1
    assert store.sentences._segments[0] is largest
    assert f"merged {MAX_SEGMENTS} small sentence segments into one" in notes
    fresh = RescoredDenseStore(FlatDenseStore(32))
    fresh.add(ids, vectors)
    for query in clustered_rows(10, seed=9):
        got_ids, got = store.search(query, 50)
        want_ids, want = fresh.search(query, 50)
        assert got_ids.tolist() == want_ids.tolist() and np.allclose(got, want)


def test_an_ivf_store_of_chunk_vectors_is_rescored_and_searched_with_other_cells():
    ids, vectors = _units(600, seed=2)
    store = new_dense("ivf", 32, params=DenseParams(nlist=8, codes="flat", rescore=True))
    assert isinstance(store, RescoredDenseStore) and isinstance(store.inner, IVFDenseStore)
    store.add(ids, vectors)
    everything = FlatDenseStore(32)
    everything.add(ids, vectors)
    wide = store.copy()
    wide.configure(DenseParams(nlist=8, codes="flat", nprobe=8, rescore=True))  # every cell: exact candidates
    for query in clustered_rows(10, seed=4):
        want_ids, want = everything.search(query, 600)
        got_ids, got = wide.search(query, 600)
        assert np.allclose(got[np.argsort(got_ids)], want[np.argsort(want_ids)], atol=FLOAT16)


def test_index_in_rescore_mode_gives_todays_hits_when_every_chunk_is_a_candidate(tmp_path: Path, fake_encoder,
                                                                                 analyzer):
    today = Index.build([LETTER_000, LETTER_004], None, encoder=fake_encoder, analyzer=analyzer)
    rescore = Index.build([LETTER_000, LETTER_004], tmp_path / "index", config=Config(sentence_rescore=True),
                          encoder=fake_encoder, analyzer=analyzer)
    assert len(rescore) == len(today) <= Config().k_candidates  # the sample letters: 36 chunks
    stats = rescore._stores.stats()["dense"]
    assert stats["chunk_vectors"] == len(rescore) and stats["sentences"] == "rescore"
    assert stats["sentence_vectors"] == stats["vectors"] == len(today._stores.dense)
    assert all(_hits(rescore, question) for question in QUESTIONS)
    _same_hits(rescore, today)
    for view in ("dense", "lexical"):
        _same_hits(rescore.with_config(fusion=view), today.with_config(fusion=view))
    loaded = Index.load(tmp_path / "index", encoder=fake_encoder, analyzer=analyzer)
    _same_hits(loaded, today)
    dense = next((tmp_path / "index").glob("*/dense"))
    assert (dense / MANIFEST).exists() and len(list(dense.glob("sentences-*.vectors.npy"))) == 1
    assert isinstance(loaded._stores.dense, RescoredDenseStore)
    assert all(isinstance(s.vectors, np.memmap) for s in loaded._stores.dense.sentences._segments)


def test_hybrid_search_gives_lexical_candidates_their_dense_score_from_the_units(fake_encoder, analyzer):
    """With few dense candidates, the lexical side's others get the score a store of every unit would give them."""
    today = Index.build([LETTER_000, LETTER_004], None, encoder=fake_encoder, analyzer=analyzer)
    rescore = Index.build([LETTER_000, LETTER_004], None, config=Config(sentence_rescore=True, k_candidates=3),
                          encoder=fake_encoder, analyzer=analyzer)
    exact = {h.chunk_id: h.dense_score for h in today.with_config(fusion="dense").search(QUESTIONS[1], len(today))}
    hits = rescore.search(QUESTIONS[1], k=10)
    lexical_only = [h for h in hits if h.lexical_score is not None and h.chunk_id not in
                    {d.chunk_id for d in rescore.with_config(fusion="dense").search(QUESTIONS[1], k=3)}]
    assert lexical_only and len(hits) > 3
    for hit in hits:
        assert hit.dense_score == pytest.approx(exact[hit.chunk_id], abs=FLOAT16)


def test_rescore_index_adds_and_removes_letters_like_a_fresh_build(tmp_path: Path, fake_encoder, analyzer):
    config = Config(sentence_rescore=True)
    index = Index.build([LETTER_000], tmp_path / "index", config=config, encoder=fake_encoder, analyzer=analyzer)
    first = {p.name: p.stat().st_ino for p in next((tmp_path / "index").glob("*/dense")).glob("sentences-*")}
    index.add([LETTER_004])
    both = Index.build([LETTER_000, LETTER_004], None, config=config, encoder=fake_encoder, analyzer=analyzer)
    _same_hits(index, both)
    dense = next((tmp_path / "index").glob("*/dense"))
    linked = {p.name: p.stat().st_ino for p in dense.glob("sentences-*")}
    assert first.items() <= linked.items() and len(linked) == 2 * len(first)  # the first segment hard-linked
    assert isinstance(index._stores.dense, RescoredDenseStore)
    assert all(isinstance(s.vectors, np.memmap) for s in index._stores.dense.sentences._segments)
    index.remove(["000_3530caffdd2f932b"])
    alone = Index.build([LETTER_004], None, config=config, encoder=fake_encoder, analyzer=analyzer)
    _same_hits(index, alone)
    reloaded = Index.load(tmp_path / "index", encoder=fake_encoder, analyzer=analyzer)
    _same_hits(reloaded, alone)
    assert len(reloaded._stores.dense) == len(alone._stores.dense)


def test_an_index_built_in_the_other_mode_is_refused(tmp_path: Path, fake_encoder, analyzer):
    Index.build([LETTER_000], tmp_path / "index", config=Config(sentence_rescore=True), encoder=fake_encoder,
                analyzer=analyzer)
    with pytest.raises(IndexLoadError, match="sentence_rescore: index True, asked False"):
        Index.load(tmp_path / "index", encoder=fake_encoder, expect=Config(model=fake_encoder.id))
    with pytest.raises(IndexLoadError, match="sentence_rescore: index True, asked False"):
        Index.build([LETTER_000], tmp_path / "index", encoder=fake_encoder, analyzer=analyzer)


def test_dense_files_of_the_other_mode_are_refused_with_the_reason(tmp_path: Path):
    ids, vectors = _units(50)
    plain, rescored = tmp_path / "plain", tmp_path / "rescored"
    for folder, rescore in ((plain, False), (rescored, True)):
        folder.mkdir()
        store = new_dense("flat", 32, params=DenseParams(rescore=rescore))
        store.add(ids, vectors)
        store.save(folder)
    with pytest.raises(ValueError, match="holds no sentence vectors"):
        load_dense("flat", plain, 32, params=DenseParams(rescore=True))
    with pytest.raises(ValueError, match="keeps its sentence vectors apart"):
        load_dense("flat", rescored, 32, params=DenseParams(rescore=False))
    with pytest.raises(ValueError, match="not 64-d float16"):
        RescoredDenseStore.load(rescored, FlatDenseStore(64))
    with pytest.raises(ValueError, match="local stores"):
        new_dense("milvus", 32, params=DenseParams(rescore=True))
    starts = next(rescored.glob("sentences-*.starts.npy"))
    save_array(starts, np.load(starts)[:-1])  # a segment file that does not fit the others
    with pytest.raises(ValueError, match="does not hold"):
        load_dense("flat", rescored, 32, params=DenseParams(rescore=True))


def test_rag_build_flag_sets_the_mode_and_the_rebuild_command_names_it():
    from rag.cli import _parser
    from rag.cli_store import build_config
    from rag.stores.disk import rebuild_hint

    args = _parser().parse_args(["build", "letters/", "--sentence-rescore"])
    assert build_config(args).sentence_rescore is True
    assert build_config(_parser().parse_args(["build", "letters/"])).sentence_rescore is False
    with pytest.raises(ValueError, match="--sentence-rescore needs a local dense store"):
        build_config(_parser().parse_args(["build", "letters/", "--store", "milvus", "--sentence-rescore"]))
    hint = rebuild_hint(Path("idx"), ["letters/"], "m", Config(sentence_rescore=True).to_dict())
    assert hint == "rag build letters/ --index idx --model m --sentence-rescore --rebuild"
    assert "--sentence-rescore" not in rebuild_hint(Path("idx"), ["letters/"], "m", Config().to_dict())
