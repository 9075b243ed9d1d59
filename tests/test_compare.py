"""Compare: one question across the letters answering it, a row per measure, by region, each quoted and cited."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rag import Config, Filters, Index
from rag.cli import main

from .conftest import FakeEncoder

QUESTION = "第二类医疗器械注册有哪些补助？"


def _letter(title: str, agency: str, date: str, body: str) -> str:
    return (f"{title}\n李明代表：\n您提出的关于支持医疗器械产业发展的建议收悉，现答复如下：\n{body}\n"
            f"感谢您对医疗器械产业的关心。\n{agency}\n{date}\n")


CIXI = _letter("关于市人大十七届五次会议第276号建议的答复", "慈溪市市场监督管理局", "2021年6月30日",
               "一、对取得第二类医疗器械注册证的企业，每个产品给予20万元补助。")
LETTERS = {
    "cixi": CIXI,
    "guangzhou": _letter("关于市政协第88号提案的答复", "广州市科学技术局", "2022年3月15日",
                         "一、对首次取得第二类医疗器械注册证的企业，给予最高50万元奖励。"),
    "suzhou": _letter("关于市人大第12号建议的答复", "苏州市工业和信息化局", "2020年9月1日",
                      "一、对新取得第二类医疗器械注册证的产品，按注册检验费用的30%给予补贴。"),
    "chengdu": _letter("关于市政协第205号提案的答复", "成都市经济和信息化局", "2023年5月20日",
                       "一、对在本市完成第二类医疗器械注册的中小企业，给予10万元资助。"),
    "mention": _letter("关于区人大第9号建议的答复", "余姚市卫生健康局", "2022年8月8日",
                       "一、近年来我市第二类医疗器械注册数量逐年增加，产业发展较快。"),
}
REPOSTED = ("当前位置：首页 > 政务公开 > 建议提案\n索引号：11330282/2021-00123\n【字体：大 中 小】\n"
            + CIXI.replace("\n现答复如下：\n", "现答复如下：") + "\n扫一扫在手机打开当前页\n")


def _folder(tmp_path: Path) -> Path:
    folder = tmp_path / "letters"
    folder.mkdir()
    for stem, text in LETTERS.items():
        (folder / f"{stem}.txt").write_text(text, encoding="utf-8")
    (folder / "zz-cixi-reposted.txt").write_text(REPOSTED, encoding="utf-8")
    return folder


@pytest.fixture()
def compared(tmp_path: Path, analyzer) -> Path:
    Index.build([_folder(tmp_path)], tmp_path / "index", config=Config(), encoder=FakeEncoder(), analyzer=analyzer)
    return tmp_path / "index"


def test_four_places_give_four_rows_in_region_order_with_amounts_conditions_and_verified_citations(
        compared: Path, analyzer):
    index = Index.load(compared, encoder=FakeEncoder(), analyzer=analyzer)
    assert len(index.letters) == 5  # the reposted copy is the Cixi letter's second source
    comparison = index.compare(QUESTION)
    rows = comparison.rows
    # 江苏 (32), 浙江 (33), 广东 (44), 四川 (51): the order of the division codes
    assert [row.letter_id for row in rows] == ["suzhou", "cixi", "guangzhou", "chengdu"]
    assert [(row.amount, row.rate, row.cap) for row in rows] == [
        (None, "30%", None), ("20万元", None, None), (None, None, "最高50万元"), ("10万元", None, None)]
    assert [row.condition for row in rows] == [
        "新取得第二类医疗器械注册证的产品；按注册检验费用的30%", "取得第二类医疗器械注册证的企业",
        "首次取得第二类医疗器械注册证的企业", "在本市完成第二类医疗器械注册的中小企业"]
    assert [row.region.province for row in rows] == ["江苏省", "浙江省", "广东省", "四川省"]
    assert rows[1].region.county == "慈溪市" and rows[1].date == "2021-06-30"
    for n, row in enumerate(rows, start=1):
        letter = next(lt for lt in index.letters if lt.letter_id == row.letter_id)
        assert row.citation.n == n and letter.text[row.citation.start:row.citation.end] == row.quote
        assert row.quote.startswith("一、对")
    assert comparison.mentioned_only == 1  # 余姚 names the topic and offers nothing
    assert [row.letter_id for row in index.compare(QUESTION, filters=Filters(region="浙江")).rows] == ["cixi"]


def test_cli_compare_json_keeps_the_contract(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    compared = tmp_path / "index"
    assert main(["build", str(_folder(tmp_path)), "--index", str(compared), "--quiet"]) == 0  # the real encoder
    capsys.readouterr()
    assert main(["compare", QUESTION, "--index", str(compared), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert set(data) == {"question", "rows", "mentioned_only"} and data["mentioned_only"] == 1
    assert [set(row) for row in data["rows"]] == [{"letter_id", "region", "agency", "date", "doc_number", "what",
                                                   "amount", "rate", "cap", "condition", "quote", "citation"}] * 4
    assert data["rows"][1]["region"] == {"province": "浙江省", "city": "宁波市", "county": "慈溪市"}
    figures = [row["amount"] or row["rate"] or row["cap"] for row in data["rows"]]
    assert figures == ["30%", "20万元", "最高50万元", "10万元"]
    assert main(["compare", QUESTION, "--index", str(compared), "--region", "广东"]) == 0
    out = capsys.readouterr().out
    assert "广东省 广州市" in out and "最高50万元" in out and "慈溪" not in out


def test_the_compare_tab_shows_the_table_the_chart_a_csv_and_opens_a_quote_at_its_sentence(
        compared: Path, analyzer, tmp_path: Path):
    gr = pytest.importorskip("gradio")
    from types import SimpleNamespace

    from rag.ui.events import Events
    from rag.ui.layout import build_layout

    index = Index.load(compared, encoder=FakeEncoder(), analyzer=analyzer)
    with gr.Blocks() as demo:
        layout = build_layout(index, "en")
        events = Events(index, layout, exports=tmp_path / "exports")
        events.wire(demo)
    panel = layout.compare
    updates = events.compare(QUESTION, None, "en")
    table, chart = updates[panel.table], updates[panel.chart]
    assert table.count("<tr data-letter=") == 4 and "最高50万元" in table and "1 more letters only mention" in table
    assert 'data-region="浙江省" data-count="1"' in chart and chart.count('class="rag-bar"') == 4
    csv_text = Path(updates[panel.csv]["value"]).read_text(encoding="utf-8-sig")
    assert csv_text.splitlines()[0].startswith("letter_id,province,city,county") and len(csv_text.splitlines()) == 5
    row = updates[panel.comparison].rows[1]
    event = SimpleNamespace(letter=row.letter_id, start=row.citation.start, end=row.citation.end)
    view = events.open_compared(updates[panel.comparison], "en", event)[panel.letter]
    assert 'id="cited-span"' in view and f'data-letter="{row.letter_id}"' in view
    assert events.compare("  ", None, "en") == gr.skip()
    only = events.compare(QUESTION, "广东", "en")[panel.table]
    assert only.count("<tr data-letter=") == 1 and "广州" in only


def test_a_comparison_embeds_its_question_once_and_gives_the_rows_it_gave_before(compared: Path, analyzer):
    class Counting(FakeEncoder):
        def __init__(self) -> None:
            super().__init__()
            self.questions: list[str] = []

        def encode_queries(self, texts):  # type: ignore[no-untyped-def]
            self.questions.extend(texts)
            return super().encode_queries(texts)

    counting = Counting()
    index = Index.load(compared, encoder=counting, analyzer=analyzer)
    rows = [row.to_dict() for row in index.compare(QUESTION).rows]
    assert counting.questions.count(QUESTION) == 1  # the search's vector serves the sentences' scoring too
    plain = Index.load(compared, encoder=FakeEncoder(), analyzer=analyzer)
    hits = plain.search(QUESTION, k=80)  # as compare searches: 20 letters, 4 passages each
    from rag.answer.compare import compare

    by_hand = compare(QUESTION, hits, encoder=FakeEncoder(), analyzer=analyzer, statistics=plain._stores.lexical,
                      letters=plain._stores.letters.letters, config=plain.config)
    assert rows == [row.to_dict() for row in by_hand.rows] and len(rows) == 4
