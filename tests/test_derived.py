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
