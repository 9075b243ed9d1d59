"""Where letters come from: the region read from their fields, stored in the index, and filtered on hierarchically."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rag import Config, Filters, Index
from rag.cli import main
from rag.parse import Region, letter_region, parse_letter
from rag.parse.region import region_names

from .conftest import FakeEncoder, both_stores


def _letter(agency: str, body: str, number: str = "", title: str = "关于市人大代表建议的答复") -> str:
    head = f"{title}\n{number}\n" if number else f"{title}\n"
    return f"{head}张三代表：\n您提出的建议收悉，现答复如下：\n{body}\n{agency}\n2021年6月30日\n"


LETTERS = {
    "zhejiang": _letter("浙江省卫生健康委员会", "全省推进基层医疗机构建设，每个县补助50万元。",
                        title="关于省人大代表建议的答复"),
    "ningbo": _letter("宁波市卫生健康局", "我市推进基层医疗机构建设，每个乡镇补助20万元。"),
    "cixi": _letter("慈溪市卫生健康局", "我市推进基层医疗机构建设，每个村补助5万元。", number="慈卫建〔2021〕15号"),
    "guangzhou": _letter("广州市卫生健康委员会", "我市推进基层医疗机构建设，每个街道补助30万元。"),
}


def test_the_region_is_read_from_the_agency_down_to_its_own_level():
    assert parse_letter(LETTERS["cixi"], letter_id="c").region == Region("浙江省", "宁波市", "慈溪市")
    assert parse_letter(LETTERS["ningbo"], letter_id="n").region == Region("浙江省", "宁波市", None)
    # a province's department writes for the province, however many cities its text names
    text = _letter("浙江省卫生健康委员会", "宁波市、温州市和慈溪市已建成。", title="关于省人大代表建议的答复")
    assert parse_letter(text, letter_id="z").region == Region("浙江省", None, None)


def test_a_document_number_names_the_place_when_the_agency_does_not():
    assert letter_region(agency=None, title="关于市政协提案的答复函", doc_number="渝卫函〔2024〕386号", addressee=None,
                         text="我委高度重视。") == Region("重庆市")
    # 慈 of 慈卫建 is the first character of a county the letter names
    assert letter_region(agency="市卫生健康局", title=None, doc_number="慈卫建〔2021〕15号", addressee=None,
                         text="宁波市慈溪市的做法。").province == "浙江省"


def test_ministries_and_national_proposals_are_national():
    assert letter_region(agency="国家医疗保障局", title=None, doc_number=None, addressee=None,
                         text="广东省的做法。") == Region("全国")
    assert letter_region(agency="人力资源社会保障部", title=None, doc_number=None, addressee=None,
                         text="") == Region("全国")
    assert letter_region(agency=None, title="关于十三届全国人大四次会议第9622号建议的答复函", doc_number=None,
                         addressee=None, text="经商财政部，现答复如下。") == Region("全国")
    assert letter_region(agency=None, title=None, doc_number=None, addressee=None, text="现答复如下。") == Region()


def test_short_names_that_are_words_do_not_make_a_place():
    # 合作 (合作市), 扬中 (扬中市) and 范县 inside 示范县 are words, not places, in a letter's text
    text = "辽宁省卫生健康委员会加强合作，弘扬中医药文化，建设示范县。"
    assert letter_region(agency=None, title=None, doc_number=None, addressee=None, text=text).province == "辽宁省"


def test_within_is_hierarchical_and_ignores_suffixes():
    cixi = Region("浙江省", "宁波市", "慈溪市")
    assert all(cixi.within(place) for place in ("浙江", "浙江省", "宁波", "宁波市", "慈溪", "慈溪市"))
    assert not cixi.within("广东") and not cixi.within("余姚市")
    assert not Region("浙江省").within("宁波")
    assert Region("全国").within("全国") and not Region("全国").within("浙江")


@both_stores
def test_region_filters_nest_province_city_county_and_survive_a_reload(tmp_path: Path, analyzer,
                                                                       store_config: Config,
                                                                       monkeypatch: pytest.MonkeyPatch):
    from rag.stores.dense_milvus import MilvusDenseStore

    expressions: list[str | None] = []
    search = MilvusDenseStore.search

    def recorded(self, query, k, allowed=None, where=None):  # type: ignore[no-untyped-def]
        assert allowed is None  # a Milvus store filters on its rows' region fields, not on a list of chunk ids
        expressions.append(where)
        return search(self, query, k, allowed, where)

    monkeypatch.setattr(MilvusDenseStore, "search", recorded)
    folder = tmp_path / "letters"
    folder.mkdir()
    for stem, text in LETTERS.items():
        (folder / f"{stem}.txt").write_text(text, encoding="utf-8")
    Index.build([folder], tmp_path / "index", config=store_config, encoder=FakeEncoder(), analyzer=analyzer)
    index = Index.load(tmp_path / "index", encoder=FakeEncoder(), analyzer=analyzer)
    assert {lt.letter_id: lt.region for lt in index.letters}["cixi"] == Region("浙江省", "宁波市", "慈溪市")

    def found(region: str) -> set[str]:
        return {hit.letter_id for hit in index.search("基层医疗机构建设补助", k=20, filters=Filters(region=region))}

    assert found("浙江") == {"zhejiang", "ningbo", "cixi"}
    assert found("宁波市") == {"ningbo", "cixi"}
    assert found("慈溪") == {"cixi"}
    assert found("广东省") == {"guangzhou"}
    assert found("湖南") == set()
    hit = index.search("每个村补助", k=20, filters=Filters(region="慈溪"))[0]
    assert hit.to_dict()["region"] == {"province": "浙江省", "city": "宁波市", "county": "慈溪市"}
    if store_config.dense == "milvus":
        # the region is the rows' own province, city and county fields: no letter id is listed (湖南 holds no
        # letter: nothing is asked of Milvus)
        assert len(expressions) == 5 and all(e and "province in [" in e and "county in [" in e and "letter" not in e
                                             for e in expressions), expressions
    else:
        assert expressions == []


def test_region_names_are_what_within_takes():
    for place in ("浙江", "浙江省", "宁波", "宁波市", "慈溪市", "新疆", "新疆维吾尔自治区", "全国", "内蒙古", "市"):
        names = region_names(place)
        for name in ("浙江省", "宁波市", "慈溪市", "新疆维吾尔自治区", "全国", "内蒙古自治区", "宁波", "市", "吉林市"):
            assert (name in names) == Region(name).within(place), (place, name)


def test_cli_letters_json_and_search_carry_the_region(tmp_path: Path, analyzer, capsys: pytest.CaptureFixture[str]):
    folder = tmp_path / "letters"
    folder.mkdir()
    for stem, text in LETTERS.items():
        (folder / f"{stem}.txt").write_text(text, encoding="utf-8")
    Index.build([folder], tmp_path / "index", encoder=FakeEncoder(), analyzer=analyzer)
    capsys.readouterr()
    assert main(["letters", "--index", str(tmp_path / "index"), "--json"]) == 0
    rows = {row["letter_id"]: row for row in json.loads(capsys.readouterr().out)}
    assert rows["ningbo"]["region"] == {"province": "浙江省", "city": "宁波市", "county": None}
    assert rows["guangzhou"]["region"] == {"province": "广东省", "city": "广州市", "county": None}
    assert main(["letters", "--index", str(tmp_path / "index")]) == 0
    assert "浙江省 宁波市 慈溪市" in capsys.readouterr().out


def test_cards_the_letter_view_the_library_table_and_the_ui_filter_show_the_region():
    from rag.ui import render
    from rag.ui.conversation import make_filters

    letters = [parse_letter(text, letter_id=stem) for stem, text in LETTERS.items()]
    cixi = next(lt for lt in letters if lt.letter_id == "cixi")
    assert "浙江省 宁波市 慈溪市" in render.letter_html(cixi)
    assert "浙江省 宁波市 慈溪市" in render.letters_table_html(letters)
    assert render.regions(letters)[:2] == ["广东省", "浙江省"]
    assert {"宁波市", "慈溪市", "广州市"} <= set(render.regions(letters))
    assert make_filters(region="宁波市") == Filters(region="宁波市")


def test_the_shared_letters_regions_are_read_right(shared_letters: Path) -> None:
    from eval.regions import accuracy

    report = accuracy(shared_letters.parent)
    province, city = report["province"], report["city"]
    assert province["letters"] == 100 and province["right"] / province["letters"] >= 0.97, report["misses"]
    assert city["letters"] >= 40 and city["right"] / city["letters"] >= 0.90, report["misses"]
