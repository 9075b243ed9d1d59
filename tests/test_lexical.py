"""The lexical store: bm25s's scores without bm25s's rebuilds, segments linked across saves, no per-chunk objects."""

from __future__ import annotations

import json
import tracemalloc
from pathlib import Path

import bm25s
import numpy as np
import pytest

from rag import Config, Index, IndexLoadError
from rag.stores import BM25Store
from rag.stores import lexical_bm25 as lexical_module
from rag.stores.base import as_ids

GOLD = Path(__file__).resolve().parent.parent / "eval" / "data" / "samples.jsonl"


@pytest.fixture(scope="module")
def shared_tokens(shared_letters: Path, analyzer) -> list[list[str]]:
    """Every chunk of the shared letters, tokenized as the index tokenizes it."""
    from tests.conftest import FakeEncoder

    index = Index.build([shared_letters], None, config=Config(), encoder=FakeEncoder(), analyzer=analyzer)
    return [analyzer.tokens(chunk.text) for chunk in index.chunks]


@pytest.fixture(scope="module")
def questions(analyzer) -> list[list[str]]:
    rows = [json.loads(line) for line in GOLD.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [t for t in (analyzer.query_tokens(row["question"]) for row in rows) if t]


def bm25s_scores(tokens: list[list[str]], query: list[str]) -> np.ndarray:
    model = bm25s.BM25()  # the defaults this store reproduces: lucene, k1 1.5, b 0.75
    model.index([t or [""] for t in tokens], show_progress=False)
    known = [t for t in query if t and t in model.vocab_dict]
    return np.asarray(model.get_scores(known), dtype=np.float32) if known else np.zeros(len(tokens), np.float32)


def scores_by_row(store: BM25Store, query: list[str], rows: int, weights: list[float] | None = None) -> np.ndarray:
    ids, scores = store.search(query, k=rows, weights=weights)
    out = np.zeros(rows, dtype=np.float32)
    out[ids] = scores
    return out


def test_scores_equal_bm25s_on_the_shared_letters(shared_tokens, questions):
    store = BM25Store()
    store.add(as_ids(range(len(shared_tokens))), shared_tokens)
    model = bm25s.BM25()
    model.index([t or [""] for t in shared_tokens], show_progress=False)
    assert len(shared_tokens) > 100 and len(questions) > 20
    for query in questions:
        known = [t for t in query if t in model.vocab_dict]
        if not known:
            continue
        expected = np.asarray(model.get_scores(known), dtype=np.float32)
        assert np.array_equal(scores_by_row(store, query, len(shared_tokens)), expected), query
    for token in ("医疗器械", "补助", "the", "不存在的词"):
        column = model.vocab_dict.get(token)
        expected = 0 if column is None else int(model.scores["indptr"][column + 1] - model.scores["indptr"][column])
        assert store.document_frequency(token) == expected


def test_weighted_and_filtered_scores_follow_bm25s(shared_tokens, questions):
    store = BM25Store()
    store.add(as_ids(range(len(shared_tokens))), shared_tokens)
    query = questions[0]
    weights = [0.5 + (n % 3) * 0.25 for n in range(len(query))]
    expected = np.zeros(len(shared_tokens), dtype=np.float32)
    for token, weight in zip(query, weights, strict=True):
        expected += np.float32(weight) * bm25s_scores(shared_tokens, [token])
    assert np.allclose(scores_by_row(store, query, len(shared_tokens), weights), expected, rtol=1e-6, atol=1e-7)
    allowed = as_ids(range(0, len(shared_tokens), 3))
    ids, _ = store.search(query, k=10, allowed=allowed)
    assert len(ids) and set(ids.tolist()) <= set(allowed.tolist())


def test_adds_and_removes_then_save_and_load_equal_a_fresh_build(shared_tokens, questions, tmp_path: Path):
    count = len(shared_tokens)
    changed = BM25Store()
    for start in range(0, count, 10):  # many small segments, merged as they pile up
        changed.add(as_ids(range(start, min(start + 10, count))), shared_tokens[start:start + 10])
    gone = list(range(5, count, 7))
    changed.remove(as_ids(gone))
    changed.save(tmp_path)
    loaded = BM25Store.load(tmp_path)
    kept = [n for n in range(count) if n not in set(gone)]
    fresh = BM25Store()
    fresh.add(as_ids(kept), [shared_tokens[n] for n in kept])
    assert loaded.ids().tolist() == fresh.ids().tolist() == kept
    assert changed.stats()["merges"] > 0 and loaded.stats()["segments"] < count // 10
    for query in questions:
        got, want = loaded.search(query, k=20), fresh.search(query, k=20)
        assert got[0].tolist() == want[0].tolist() and np.array_equal(got[1], want[1])
        assert all(loaded.document_frequency(t) == fresh.document_frequency(t) for t in query)
    reference = bm25s_scores([shared_tokens[n] for n in kept], questions[1])
    assert np.array_equal(scores_by_row(loaded, questions[1], count)[kept], reference)


def test_many_removals_rewrite_the_segments_without_the_dead_rows():
    store = BM25Store()
    store.add(as_ids(range(100)), [["养老", f"词{n}"] for n in range(100)])
    store.remove(as_ids(range(30)))
    assert store.stats()["tombstones"] == 0 and store.stats()["segments"] == 1 and store.stats()["merges"] == 1
    assert store.document_frequency("养老") == 70 and store.ids().tolist() == list(range(30, 100))
    twin = store.copy()
    twin.remove(as_ids([40]))
    assert store.stats()["tombstones"] == 0 and twin.stats()["tombstones"] == 1 and len(store) == 70


def lexical_files(index_dir: Path) -> dict[str, Path]:
    generation = json.loads((index_dir / "manifest.json").read_text(encoding="utf-8"))["generation"]
    return {p.name: p for p in (index_dir / generation / "lexical").iterdir()}


def test_a_save_after_adding_a_letter_links_the_old_segments(letters_dir: Path, tmp_path: Path, fake_encoder,
                                                             analyzer):
    later = tmp_path / "later"
    later.mkdir()
    short = "关于养老服务补助的答复\n一、养老机构运营补助按床位给予支持。\n二、居家养老服务补助由民政部门发放。\n"
    (later / "short.txt").write_text(short, encoding="utf-8")
    index = Index.build([letters_dir], tmp_path / "index", config=Config(), encoder=fake_encoder, analyzer=analyzer)
    before = lexical_files(tmp_path / "index")
    keep = tmp_path / "keep"  # holds the old files so their inodes cannot be reused by new ones
    keep.mkdir()
    for name, path in before.items():
        (keep / name).hardlink_to(path)
    index.add([later])
    after = lexical_files(tmp_path / "index")
    segments = {name for name in before if name.startswith("seg-")}
    assert segments and segments < set(after)
    assert all(after[name].stat().st_ino == (keep / name).stat().st_ino for name in segments)
    written = {name for name in after if name.startswith("seg-")} - segments
    assert len(written) == 8 and all(after[name].stat().st_nlink == 1 for name in written)  # 6 arrays, 2 word lists
    reloaded = Index.load(tmp_path / "index", encoder=fake_encoder, analyzer=analyzer)
    rebuilt = Index.build([letters_dir, later], None, config=Config(), encoder=fake_encoder, analyzer=analyzer)
    question = "二类医疗器械注册补助"
    assert ([(h.chunk_id, round(h.score, 5)) for h in reloaded.search(question, k=8)]
            == [(h.chunk_id, round(h.score, 5)) for h in rebuilt.search(question, k=8)])


def test_a_corrupt_segment_is_refused_with_the_rebuild_command(fake_index: Index, tmp_path: Path, fake_encoder,
                                                               analyzer):
    rows = next(p for name, p in lexical_files(tmp_path / "index").items() if name.endswith(".rows.npy"))
    data = bytearray(rows.read_bytes())
    data[-1] ^= 0xFF
    rows.write_bytes(bytes(data))
    with pytest.raises(IndexLoadError, match="corrupt or truncated.*--rebuild"):
        Index.load(tmp_path / "index", encoder=fake_encoder, analyzer=analyzer)


def test_an_inconsistent_segment_is_refused_on_load(tmp_path: Path):
    store = BM25Store()
    store.add(as_ids([1, 2]), [["养老"], ["服务", "养老"]])
    store.save(tmp_path)
    starts = next(tmp_path.glob("*.starts.npy"))
    np.save(starts, np.asarray([0, 1], dtype=np.int64), allow_pickle=False)
    with pytest.raises(ValueError, match="inconsistent"):
        BM25Store.load(tmp_path)
    (tmp_path / "segments.json").unlink()
    with pytest.raises(ValueError, match="older format"):
        BM25Store.load(tmp_path)


def test_a_loaded_store_holds_arrays_not_per_chunk_objects(tmp_path: Path):
    rng = np.random.default_rng(0)
    words = [f"词{n}" for n in range(3000)]
    count = 50_000
    store = BM25Store()
    store.add(as_ids(range(count)), [[words[i] for i in rng.integers(0, 3000, 40)] for _ in range(count)])
    store.save(tmp_path)
    tracemalloc.start()
    loaded = BM25Store.load(tmp_path)
    loaded.search(["词1", "词2"], k=10)
    size, _ = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert size / count < 64  # bytes per chunk: a Python tuple of tokens would be thousands
    assert len(loaded) == count and loaded.document_frequency("词1") > 0


def test_cached_term_scores_change_nothing_and_go_when_the_store_changes(shared_tokens, questions, monkeypatch):
    count = len(shared_tokens)
    store = BM25Store()
    store.add(as_ids(range(count - 10)), shared_tokens[:count - 10])
    first = [store.search(query, k=20) for query in questions]
    again = [store.search(query, k=20) for query in questions]  # the common terms now come from the cache
    monkeypatch.setattr(lexical_module, "TERM_CACHE_BYTES", 0)
    uncached = BM25Store()
    uncached.add(as_ids(range(count - 10)), shared_tokens[:count - 10])
    plain = [uncached.search(query, k=20) for query in questions]
    for (ids, scores), (ids2, scores2), (ids3, scores3) in zip(first, again, plain, strict=True):
        assert ids.tolist() == ids2.tolist() == ids3.tolist() and np.array_equal(scores, scores2)
        assert np.array_equal(scores, scores3)
    monkeypatch.setattr(lexical_module, "TERM_CACHE_BYTES", 256 << 20)
    store.add(as_ids(range(count - 10, count)), shared_tokens[count - 10:])  # idf and lengths change
    store.remove(as_ids([0, 1]))
    fresh = BM25Store()
    fresh.add(as_ids(range(2, count)), shared_tokens[2:])
    for query in questions:
        got, want = store.search(query, k=20), fresh.search(query, k=20)
        assert got[0].tolist() == want[0].tolist() and np.array_equal(got[1], want[1])


def test_the_top_k_equals_a_full_sort_of_every_score_ties_in_the_order_added(shared_tokens, questions, monkeypatch):
    count = len(shared_tokens)
    store = BM25Store()
    store.add(as_ids(range(count)), shared_tokens)
    floors: list[float] = []
    bound = lexical_module._kth_score

    def spy(*args):
        floors.append(bound(*args))
        return floors[-1]

    monkeypatch.setattr(lexical_module, "_kth_score", spy)
    for query in questions:
        expected = bm25s_scores(shared_tokens, query)
        order = [n for n in np.argsort(-expected, kind="stable") if expected[n] > 0]
        for k in (1, 10, 40):
            ids, scores = store.search(query, k=k)
            assert ids.tolist() == order[:k] and np.array_equal(scores, expected[order[:k]]), (query, k)
    assert sum(f > 0 for f in floors) >= len(questions) // 2  # the bound from the rare terms was used, not only > 0
    store = BM25Store()  # every document alike: one score shared by all, the first added win
    store.add(as_ids(range(30)), [["养老", "补助"]] * 30)
    assert store.search(["补助", "养老"], k=7)[0].tolist() == list(range(7))
