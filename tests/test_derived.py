"""Dictionaries' derived tables kept between processes: CC-CEDICT's reverse index and pypinyin's readings."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rag import glossary
from rag.answer import pinyin
from rag.glossary import CEDICT_CACHE, Bridge


def _tiny(chinese: str) -> Bridge:
    return Bridge.from_senses([(chinese, ["subsidy"])])


def _refuse() -> Bridge:
    raise AssertionError("built again although its cache was there")


def test_the_bridge_read_from_its_cache_is_the_one_built(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    built = glossary._cedict.__wrapped__(tmp_path)
    assert (tmp_path / CEDICT_CACHE).is_file()
    monkeypatch.setattr(glossary, "_built_cedict", _refuse)
    read = glossary._cedict.__wrapped__(tmp_path)
    assert read is not built and dict(read._entries) == dict(built._entries) and read._senses == built._senses
    assert read.lookup("subsidy") == built.lookup("subsidy") and read.lookup("nothing such") == ()


@pytest.mark.parametrize("forge", [
    lambda data: data["entries"].update({"subsidy": "补贴]|.*"}),  # not Chinese words
    lambda data: data["entries"].update({"subsidy": "补贴\n补助"}),
    lambda data: data["entries"].update({"subsidy": ["补贴"]}),
    lambda data: data["senses"].update({"补贴": True}),
    lambda data: data.pop("senses"),
])
def test_a_forged_bridge_cache_is_built_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, forge) -> None:
    monkeypatch.setattr(glossary, "_built_cedict", lambda: _tiny("补贴"))
    glossary._cedict.__wrapped__(tmp_path)
    path = tmp_path / CEDICT_CACHE
    cached = json.loads(path.read_text(encoding="utf-8"))
    assert glossary._cedict.__wrapped__(tmp_path).lookup("subsidy") == ("补贴",)  # read back as written
    forge(cached["data"])
    path.write_text(json.dumps(cached, ensure_ascii=False), encoding="utf-8")
    monkeypatch.setattr(glossary, "_built_cedict", lambda: _tiny("补助"))
    assert glossary._cedict.__wrapped__(tmp_path).lookup("subsidy") == ("补助",)


def test_a_bridge_cached_from_another_dictionary_or_code_is_built_again(tmp_path: Path,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(glossary, "_built_cedict", lambda: _tiny("补贴"))
    glossary._cedict.__wrapped__(tmp_path)
    path = tmp_path / CEDICT_CACHE
    cached = json.loads(path.read_text(encoding="utf-8"))
    path.write_text(json.dumps({**cached, "key": "0" * 64}, ensure_ascii=False), encoding="utf-8")
    monkeypatch.setattr(glossary, "_built_cedict", lambda: _tiny("补助"))
    assert glossary._cedict.__wrapped__(tmp_path).lookup("subsidy") == ("补助",)
    assert json.loads(path.read_text(encoding="utf-8"))["key"] == cached["key"]  # written again, for this one


def test_an_unwritable_cache_folder_only_costs_time(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocked = tmp_path / "file"
    blocked.write_text("not a folder", encoding="utf-8")
    monkeypatch.setattr(glossary, "_built_cedict", lambda: _tiny("补贴"))
    assert glossary._cedict.__wrapped__(blocked / "cache").lookup("subsidy") == ("补贴",)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file"]


def test_pinyin_readings_read_from_their_cache_are_the_ones_derived(tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    derived = pinyin.readings.__wrapped__(tmp_path)
    monkeypatch.setattr(pinyin, "_derived_readings", _refuse)
    read = pinyin.readings.__wrapped__(tmp_path)
    assert read is not derived and read.by_syllable == derived.by_syllable
    assert "瓦" in read.by_syllable["wa"]


@pytest.mark.parametrize("forged", ["瓦]|(.*", "瓦\nzz\t瓦", ""])  # the readings go into regular expressions
def test_forged_pinyin_readings_are_derived_again(tmp_path: Path, forged: str) -> None:
    pinyin.readings.__wrapped__(tmp_path)
    path = tmp_path / pinyin.READINGS_CACHE
    cached = json.loads(path.read_text(encoding="utf-8"))
    cached["data"]["wa"] = forged
    path.write_text(json.dumps(cached, ensure_ascii=False), encoding="utf-8")
    assert pinyin.readings.__wrapped__(tmp_path).by_syllable["wa"] == pinyin._derived_readings().by_syllable["wa"]


def test_jieba_cuts_the_same_with_its_words_read_from_the_cache(tmp_path: Path) -> None:
    from rag.analyze import Analyzer
    from rag.jieba_words import JIEBA_CACHE

    texts = ["二类医疗器械首次注册给予补助，临床试验费用能不能用创新券？", "慈溪市卫生健康局关于医疗器械注册的答复",
             "麻天公路能不能开通公交车", "Class II 器械 2021年5月13日 ¥300万元"]
    plain = Analyzer()
    first = Analyzer(cache=tmp_path)  # loads jieba's dictionary and leaves its words in the cache
    assert [first.tokens(t) for t in texts] == [plain.tokens(t) for t in texts]
    assert (tmp_path / JIEBA_CACHE).is_file()
    second = Analyzer(cache=tmp_path)
    assert [second.tokens(t) for t in texts] == [plain.tokens(t) for t in texts]
    assert [second.tokens(t, search_mode=False) for t in texts] == [plain.tokens(t, search_mode=False) for t in texts]
    assert second.query_tokens(texts[0]) == plain.query_tokens(texts[0])
    words = ("医疗器械", "卡到", "创新券")
    assert [second.knows(w) for w in words] == [plain.knows(w) for w in words]
    frequencies = second._segmenter().FREQ
    assert type(frequencies).__name__ == "SortedWords" and len(frequencies) == len(plain._segmenter().FREQ)
    assert second._segmenter().total == plain._segmenter().total


def _jieba_arrays(path: Path) -> dict:
    import numpy as np

    with np.load(path, allow_pickle=False) as arrays:
        return {name: arrays[name] for name in arrays.files}


@pytest.mark.parametrize("forge", ["offsets past the buffer", "a negative frequency", "another key", "no total"])
def test_a_forged_jieba_cache_is_not_read(tmp_path: Path, forge: str) -> None:
    import numpy as np

    from rag.jieba_words import JIEBA_CACHE, jieba_key, read_words, write_words

    path, key = tmp_path / JIEBA_CACHE, jieba_key()
    assert key is not None
    write_words(path, key, {"补贴": 5, "补": 0, "补助": 3}, 8)
    words, total = read_words(path, key)
    assert (dict(words), total, "补" in words, "补贴费" in words, words.get("补助")) == (
        {"补": 0, "补助": 3, "补贴": 5}, 8, True, False, 3)
    arrays = _jieba_arrays(path)
    if forge == "offsets past the buffer":
        arrays["offsets"][-1] += 100
    elif forge == "a negative frequency":
        arrays["frequencies"][0] = -1
    elif forge == "another key":
        arrays["key"] = np.frombuffer(b"0" * 64, np.uint8)
    else:
        del arrays["total"]
    np.savez(path, **arrays)
    assert read_words(path, key) is None
