"""The index: build, save → load, refusal of mismatched or damaged indexes, incremental updates."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from rag import BadQuery, Config, Filters, Index, IndexLoadError
from rag.ingest import read_documents

from .conftest import LETTER_000, FakeEncoder, both_stores

CLASS_II = "医疗器械临床试验费用能不能用创新券"


def _hits(index: Index, question: str = CLASS_II, k: int = 5):
    return [(h.chunk_id, round(h.score, 6), h.citation, h.start, h.end) for h in index.search(question, k=k)]


def test_build_reports_letters_and_chunks(fake_index: Index):
    report = fake_index.report
    assert report.added == ("000_3530caffdd2f932b", "004_dce9e1310b5c7813")
    assert report.letters == 2 and report.chunks == len(fake_index.chunks) > 20
    assert report.skipped == ()


@both_stores
def test_search_returns_cited_hits(fake_index: Index):
    hits = fake_index.search(CLASS_II, k=3)
    assert len(hits) == 3 and [h.rank for h in hits] == [1, 2, 3]
    top = hits[0]
    assert top.doc_number == "慈卫建〔2021〕15号"
    assert top.citation == "慈卫建〔2021〕15号 · 一（二）"
    assert "临床试验费用纳入创新券范围" in top.text
    assert top.section == "一、引导产业链发展，鼓励企业创新研发 › （二）加大培育支持"
    assert fake_index.letter(top.letter_id).text[top.start:top.end] == top.text
    assert (top.agency, top.date) == ("慈溪市卫生健康局", "2021-06-30")


@both_stores
def test_save_load_gives_identical_results(fake_index: Index, tmp_path: Path, analyzer):
    loaded = Index.load(tmp_path / "index", encoder=FakeEncoder(), analyzer=analyzer)
    assert [c.chunk_id for c in loaded.chunks] == [c.chunk_id for c in fake_index.chunks]
    assert [letter.metadata() for letter in loaded.letters] == [letter.metadata() for letter in fake_index.letters]
    for question in (CLASS_II, "二类医疗器械注册有哪些补助", "河北 人才培养"):
        assert _hits(loaded, question) == _hits(fake_index, question)


def test_index_built_with_another_encoder_is_refused(fake_index: Index, tmp_path: Path, analyzer):
    with pytest.raises(IndexLoadError) as error:
        Index.load(tmp_path / "index", encoder=FakeEncoder("another-model"), analyzer=analyzer)
    message = str(error.value)
    assert "fake-bigrams" in message and "another-model" in message
    assert f"rag build {tmp_path / 'letters'} --index {tmp_path / 'index'} --model another-model --rebuild" in message


def test_building_into_an_index_of_another_model_is_refused(fake_index: Index, tmp_path: Path, analyzer):
    with pytest.raises(IndexLoadError, match="--rebuild"):
        Index.build([tmp_path / "letters"], tmp_path / "index", encoder=FakeEncoder("other"), analyzer=analyzer)
    rebuilt = Index.build([tmp_path / "letters"], tmp_path / "index", encoder=FakeEncoder("other"),
                          analyzer=analyzer, rebuild=True)
    assert rebuilt.encoder.id == "other" and Index.load(tmp_path / "index", encoder=FakeEncoder("other"),
                                                        analyzer=analyzer).letters


def test_gbk_copy_yields_the_same_chunks(tmp_path: Path, analyzer):
    utf8 = tmp_path / "utf8"
    gbk = tmp_path / "gbk"
    utf8.mkdir()
    gbk.mkdir()
    text = LETTER_000.read_text(encoding="utf-8")
    (utf8 / "letter.txt").write_text(text, encoding="utf-8")
    (gbk / "letter.txt").write_bytes(text.encode("gbk"))
    a = Index.build([utf8], encoder=FakeEncoder(), analyzer=analyzer)
    b = Index.build([gbk], encoder=FakeEncoder(), analyzer=analyzer)
    assert [(c.start, c.end, c.text, c.section) for c in a.chunks] == [(c.start, c.end, c.text, c.section)
                                                                        for c in b.chunks]
    assert a.letters[0].doc_number == b.letters[0].doc_number == "慈卫建〔2021〕15号"
    assert read_documents([gbk / "letter.txt"])[0][0].encoding == "gb18030"


def test_empty_and_binary_files_are_skipped_with_a_reason(letters_dir: Path, analyzer):
    (letters_dir / "empty.txt").write_bytes(b"")
    (letters_dir / "blank.txt").write_text("  \n\u3000\n", encoding="utf-8")
    (letters_dir / "image.txt").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4)
    index = Index.build([letters_dir], encoder=FakeEncoder(), analyzer=analyzer)
    reasons = {Path(s.path).name: s.reason for s in index.report.skipped}
    assert reasons == {"blank.txt": "empty file (whitespace only)", "empty.txt": "empty file",
                       "image.txt": "binary file (PNG image), not text"}
    assert len(index.letters) == 2


@both_stores
def test_incremental_add_noop_and_remove(letters_dir: Path, tmp_path: Path, analyzer, store_config: Config):
    encoder = FakeEncoder()
    only_000 = tmp_path / "one"
    only_000.mkdir()
    shutil.copy(letters_dir / LETTER_000.name, only_000 / LETTER_000.name)
    index = Index.build([only_000], tmp_path / "index", encoder=encoder, analyzer=analyzer, config=store_config)
    first_count = encoder.passages_encoded
    assert [letter.letter_id for letter in index.letters] == ["000_3530caffdd2f932b"]

    report = index.add([letters_dir])  # 000 again (other path, same text) and 004 new
    assert report.added == ("004_dce9e1310b5c7813",)
    assert report.duplicates == ((str((letters_dir / LETTER_000.name).resolve()), "000_3530caffdd2f932b"),)
    embedded_for_004 = encoder.passages_encoded - first_count
    assert 0 < embedded_for_004 < first_count * 3

    before = encoder.passages_encoded
    report = index.add([letters_dir, only_000])
    assert report.added == () and report.updated == () and encoder.passages_encoded == before
    assert set(report.unchanged) == {"000_3530caffdd2f932b", "004_dce9e1310b5c7813"}

    reloaded = Index.load(tmp_path / "index", encoder=FakeEncoder(), analyzer=analyzer)
    assert len(reloaded.letters) == 2 and _hits(reloaded) == _hits(index)

    assert index.remove(["004_dce9e1310b5c7813"]) == ("004_dce9e1310b5c7813",)
    assert all(h.letter_id == "000_3530caffdd2f932b" for h in index.search("河北 人才", k=50))
    assert [letter.letter_id for letter in Index.load(tmp_path / "index", encoder=FakeEncoder(),
                                                       analyzer=analyzer).letters] == ["000_3530caffdd2f932b"]
    with pytest.raises(KeyError, match="no letter 'nope'"):
        index.remove(["nope"])


@both_stores
def test_changed_file_is_re_embedded_under_the_same_id(letters_dir: Path, tmp_path: Path, analyzer,
                                                       store_config: Config):
    index = Index.build([letters_dir], tmp_path / "index", encoder=FakeEncoder(), analyzer=analyzer,
                        config=store_config)
    path = letters_dir / LETTER_000.name
    path.write_text(path.read_text(encoding="utf-8").replace("最高400万", "最高500万"), encoding="utf-8")
    report = index.add([letters_dir])
    assert report.updated == ("000_3530caffdd2f932b",) and report.added == ()
    assert any("最高500万" in h.text for h in index.search("技术改造 奖励 最高", k=5))
    assert not any("最高400万" in c.text for c in index.chunks)


@both_stores
def test_filters(fake_index: Index):
    hebei = fake_index.search(CLASS_II, k=50, filters=Filters(agency="河北"))
    assert hebei and {h.letter_id for h in hebei} == {"004_dce9e1310b5c7813"}
    dated = fake_index.search(CLASS_II, k=50, filters=Filters(date_from="2021-01-01", date_to="2021-12-31"))
    assert dated and {h.date for h in dated} == {"2021-06-30"}
    assert fake_index.search(CLASS_II, filters=Filters(agency="不存在的机构")) == []
    only = fake_index.search(CLASS_II, k=50, filters=Filters(letters=("000_3530caffdd2f932b",)))
    assert {h.letter_id for h in only} == {"000_3530caffdd2f932b"}


@both_stores
def test_bad_queries_raise_clear_errors(fake_index: Index):
    with pytest.raises(BadQuery, match="empty"):
        fake_index.search("  \n\t ")
    with pytest.raises(BadQuery, match="k must be"):
        fake_index.search(CLASS_II, k=0)
    assert len(fake_index.search(CLASS_II, k=10_000)) == len(fake_index.chunks)


def test_manifest_records_build_facts(fake_index: Index, tmp_path: Path):
    manifest = json.loads((tmp_path / "index" / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["format_version"] == 5
    assert manifest["encoder"] == {"id": "fake-bigrams", "dim": 256, "normalized": True, "metric": "inner_product"}
    assert manifest["counts"]["letters"] == 2 and manifest["counts"]["chunks"] == len(fake_index.chunks)
    assert manifest["build_settings"]["chunking"] == "sections"
    assert "letters" not in manifest  # the letter store is the record of letters: no list of all to rewrite
    assert set(manifest["files"]) >= {"letters.json", "chunks.npy", "dense/dense.faiss", "lexical/segments.json"}
    assert manifest["stores"]["dense"]["backend"] == "flat" and manifest["stores"]["lexical"]["backend"] == "bm25s"
    assert manifest["stores"]["dense"]["vectors"] == manifest["counts"]["vectors"] > len(fake_index.chunks)


def test_manifest_of_an_earlier_writer_with_per_letter_entries_still_loads(fake_index: Index, tmp_path: Path,
                                                                          fake_encoder: FakeEncoder):
    from rag.stores.disk import _manifest_checksum

    path = tmp_path / "index" / "manifest.json"
    manifest = json.loads(path.read_text(encoding="utf-8"))
    manifest["letters"] = {letter.letter_id: {"sha256": letter.sha256, "paths": list(letter.paths), "chunks": 1}
                           for letter in fake_index.letters}
    manifest["checksum"] = _manifest_checksum(manifest)
    path.write_text(json.dumps(manifest, ensure_ascii=False), encoding="utf-8")
    loaded = Index.load(tmp_path / "index", encoder=fake_encoder)
    assert {letter.letter_id: letter.sha256 for letter in loaded.letters} == {
        letter.letter_id: letter.sha256 for letter in fake_index.letters}
    loaded.remove(["004_dce9e1310b5c7813"])
    assert "letters" not in json.loads(path.read_text(encoding="utf-8"))


@both_stores
def test_removing_the_newest_letter_and_adding_it_back_gives_its_chunks_new_ids(fake_index: Index, tmp_path: Path,
                                                                               fake_encoder: FakeEncoder, analyzer):
    newest = fake_index.letters[-1]
    old_ids = fake_index._stores.letters.chunk_ids([newest.letter_id]).tolist()
    fake_index.remove([newest.letter_id])
    fake_index.add([newest.paths[0]])  # the lexical store still holds the old ids as deleted rows
    loaded = Index.load(tmp_path / "index", encoder=fake_encoder, analyzer=analyzer)
    new_ids = loaded._stores.letters.chunk_ids([newest.letter_id]).tolist()
    assert len(new_ids) == len(old_ids) and min(new_ids) > max(old_ids)
    first = loaded._stores.letters.chunk(new_ids[0])
    assert loaded.search(first.text, k=1)[0].chunk_id == first.chunk_id


def test_config_mismatch_on_build_is_refused(fake_index: Index, tmp_path: Path, analyzer):
    with pytest.raises(IndexLoadError, match="max_chunk_chars"):
        Index.build([tmp_path / "letters"], tmp_path / "index", encoder=FakeEncoder(),
                    config=Config(max_chunk_chars=100), analyzer=analyzer)


def test_glossary_meets_hyphens_curly_apostrophes_and_possessives():
    from rag import Glossary

    glossary = Glossary({"hearing aid": ["助听器"], "xi'an": ["西安"], "zhejiang": ["浙江"], "high-tech": ["高新"]})
    assert glossary.translate("Hearing-aid makers in Xi’an and Zhejiang's high tech parks") == [
        "助听器", "西安", "浙江", "高新"]


def test_the_lexical_side_runs_beside_the_dense_side_with_the_same_hits(fake_index: Index, monkeypatch):
    import threading

    from rag.stores import BM25Store

    searched_in: list[str] = []
    search = BM25Store.search

    def spy(self, *args, **kwargs):
        searched_in.append(threading.current_thread().name)
        return search(self, *args, **kwargs)

    monkeypatch.setattr(BM25Store, "search", spy)
    assert len(fake_index.chunks) < Config().lexical_thread_chunks
    beside = fake_index.with_config(lexical_thread_chunks=len(fake_index.chunks))
    for question in (CLASS_II, "二类医疗器械注册有哪些补助", "河北 人才培养"):
        timings: dict[str, float] = {}
        assert _hits(beside, question) == _hits(fake_index, question)
        beside.search(question, k=3, timings=timings)
        assert timings["lexical"] > 0 and timings["encode"] > 0
    main = threading.current_thread().name
    assert searched_in[-2] == main and searched_in[-1] != main and searched_in[-1].startswith("rag-lexical")
    monkeypatch.setattr(BM25Store, "search", lambda *a, **k: (_ for _ in ()).throw(MemoryError("lexical side")))
    with pytest.raises(MemoryError, match="lexical side"):  # its failure reaches the caller, as in one thread
        beside.search(CLASS_II)


def test_a_forked_process_gets_lexical_threads_of_its_own():
    import multiprocessing

    from rag.retrieve import hybrid

    assert hybrid._sides().submit(sum, [1, 2]).result() == 3  # the parent's threads exist now; a child has none
    context = multiprocessing.get_context("fork")
    results = context.SimpleQueue()
    child = context.Process(target=lambda: results.put(hybrid._sides().submit(sum, [3, 4]).result()))
    child.start()
    child.join(timeout=60)  # a hang guard: a child waiting on its parent's threads would never finish
    if child.is_alive():
        child.kill()
    assert child.exitcode == 0 and results.get() == 7
