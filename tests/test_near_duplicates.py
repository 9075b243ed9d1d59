"""Near-duplicate letters: one letter republished with other chrome and line breaks is stored once with both sources."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from rag import Index
from rag.cli import main
from rag.near_duplicates import NearDuplicates

from .conftest import LETTER_000, ROOT, FakeEncoder

CHROME = "当前位置：首页 > 政务公开 > 建议提案办理\n索引号：11330282/2021-00123\n【字体：大 中 小】 打印本页\n"
FOOTER = "\n扫一扫在手机打开当前页\n网站标识码3302820001\n"


def _republished(text: str) -> str:
    """The letter as another site shows it: its chrome around it, every two lines joined, one line shortened."""
    lines = [line for line in text.splitlines() if line.strip()]
    joined = [a + b for a, b in zip(lines[::2], [*lines[1::2], ""], strict=False)]
    joined[len(joined) // 2] = joined[len(joined) // 2][:20]
    return CHROME + "\n".join(joined) + FOOTER


REPLY_A = """关于市政协第137号提案的答复
张三委员：
您提出的《关于加快发展社区养老服务的提案》收悉，现答复如下：
一、我局已在全市建成社区养老服务中心42个，每个中心给予建设补助30万元，运营补助每年5万元。
二、下一步将推动居家养老服务与医疗机构签约，力争覆盖率达到80%。
宁波市民政局
2021年6月30日
"""
REPLY_B = """关于市政协第137号提案的答复
张三委员：
您提出的《关于加快发展社区养老服务的提案》收悉，现答复如下：
一、我委推动基层医疗卫生机构与养老机构签约合作，全市签约率已达到65%。
二、家庭医生为老年人提供上门服务，符合条件的按规定纳入医保支付。
宁波市卫生健康委员会
2021年7月2日
"""


def test_a_republished_copy_is_found_and_other_letters_are_not():
    text = LETTER_000.read_text(encoding="utf-8")
    seen = NearDuplicates()
    seen.add("a", text)
    seen.add("b", REPLY_A)
    seen.add("c", (ROOT / "letters" / "004_dce9e1310b5c7813.txt").read_text(encoding="utf-8"))
    assert seen.find(_republished(text)) == ["a"]


def test_a_republished_letter_is_stored_once_with_both_sources_and_two_bureaus_replies_stay_two(
        tmp_path: Path, analyzer, capsys: pytest.CaptureFixture[str]):
    county, city = tmp_path / "letters" / "county", tmp_path / "letters" / "city"
    county.mkdir(parents=True)
    city.mkdir()
    text = LETTER_000.read_text(encoding="utf-8")
    (county / "cixi.txt").write_text(text, encoding="utf-8")
    (city / "cixi-reposted.txt").write_text(_republished(text), encoding="utf-8")
    (county / "civil-affairs.txt").write_text(REPLY_A, encoding="utf-8")
    (county / "health.txt").write_text(REPLY_B, encoding="utf-8")
    index = Index.build([tmp_path / "letters"], tmp_path / "index", encoder=FakeEncoder(), analyzer=analyzer)
    sources = {letter.letter_id: sorted(Path(p).name for p in letter.paths) for letter in index.letters}
    assert sources == {"cixi-reposted": ["cixi-reposted.txt", "cixi.txt"], "civil-affairs": ["civil-affairs.txt"],
                       "health": ["health.txt"]}  # city/ is read before county/: the copy names the letter
    capsys.readouterr()
    assert main(["letters", "--index", str(tmp_path / "index"), "--json"]) == 0
    rows = {row["letter_id"]: row for row in json.loads(capsys.readouterr().out)}
    assert sorted(Path(p).name for p in rows["cixi-reposted"]["paths"]) == ["cixi-reposted.txt", "cixi.txt"]
    assert main(["letters", "--index", str(tmp_path / "index")]) == 0
    out = capsys.readouterr().out
    assert "source: " in out and "cixi-reposted.txt" in out


def test_a_copy_added_by_a_later_update_is_a_second_source_of_the_indexed_letter(tmp_path: Path, analyzer):
    first, later = tmp_path / "county", tmp_path / "city"
    first.mkdir()
    later.mkdir()
    text = LETTER_000.read_text(encoding="utf-8")
    (first / "cixi.txt").write_text(text, encoding="utf-8")
    (first / "civil-affairs.txt").write_text(REPLY_A, encoding="utf-8")
    Index.build([first], tmp_path / "index", encoder=FakeEncoder(), analyzer=analyzer)
    index = Index.load(tmp_path / "index", encoder=FakeEncoder(), analyzer=analyzer)  # the signatures from disk
    chunks = len(index)
    (later / "cixi-reposted.txt").write_text(_republished(text), encoding="utf-8")
    (later / "health.txt").write_text(REPLY_B, encoding="utf-8")  # another bureau's reply to the same proposal
    report = index.add([later])
    sources = {letter.letter_id: sorted(Path(p).name for p in letter.paths) for letter in index.letters}
    assert sources == {"cixi": ["cixi-reposted.txt", "cixi.txt"], "civil-affairs": ["civil-affairs.txt"],
                       "health": ["health.txt"]}
    assert report.added == ("health",) and [Path(p).name for p, _ in report.duplicates] == ["cixi-reposted.txt"]
    assert len(index) == chunks + len([c for c in index.chunks if c.letter_id == "health"])  # the copy: no chunk
    # and once more after a reload, the copy's signature written by the update too: a third site's copy
    reloaded = Index.load(tmp_path / "index", encoder=FakeEncoder(), analyzer=analyzer)
    third = tmp_path / "province"
    third.mkdir()
    (third / "health-reposted.txt").write_text(_republished(REPLY_B), encoding="utf-8")
    reloaded.add([third])
    assert sorted(Path(p).name for p in reloaded.letter("health").paths) == ["health-reposted.txt", "health.txt"]
    assert len(reloaded.letters) == 3


def test_signatures_kept_beside_the_letters_equal_those_of_their_texts(tmp_path: Path):
    from rag.near_duplicates import signatures
    from rag.parse import parse_letter
    from rag.stores.letters import LetterStore

    letters = {lid: parse_letter(text, letter_id=lid) for lid, text in (("a", REPLY_A), ("b", REPLY_B))}
    store = LetterStore().changed(retire=(), letters=letters, chunks={})
    expected = signatures([REPLY_A, REPLY_B])
    folder = tmp_path / "saved"
    folder.mkdir()
    store.save(folder)
    ids, found = LetterStore.load(folder).sketches()
    assert ids == ("a", "b") and np.array_equal(found, expected) and found.dtype == np.uint32
    for sketch in folder.glob("*.sketch.npy"):  # a store saved before the signatures were kept: from its texts
        sketch.unlink()
    ids, found = LetterStore.load(folder).sketches()
    assert ids == ("a", "b") and np.array_equal(found, expected)
