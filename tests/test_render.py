"""HTML and Markdown rendering: escaping of hostile letter text, highlight offsets, letter view, export."""

from __future__ import annotations

import html
import re
from dataclasses import replace
from html.parser import HTMLParser
from pathlib import Path

import pytest

from rag import Hit, Index, parse_letter
from rag.answer import Note
from rag.answer.places import bundled as bundled_places
from rag.ui import render
from rag.ui.conversation import CitedPassage, Conversation, Turn
from rag.ui.labels import t
from rag.ui.markdown import conversation_markdown, escape_markdown, turn_markdown

EVIL = ('<script>alert(1)</script><img src=x onerror=alert(2)> [点我](javascript:alert(3)) '
        '![图](http://example.com/x.png) <a href="http://evil">链接</a> ${alert(4)} {{constructor}} "\'&')

# Every tag and attribute rag/ui/render.py itself writes; anything else came from a letter or a user.
ALLOWED_TAGS = {"p", "br", "mark", "div", "span", "article", "button", "dl", "dt", "dd", "h3", "table", "thead",
                "tbody", "tr", "th", "td", "ul", "li", "strong", "details", "summary"}
ALLOWED_ATTRS = {"class", "id", "title", "type", "data-n", "data-turn", "data-letter", "data-opened", "data-follow"}


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, list[tuple[str, str | None]]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, attrs))


def assert_inert(markup: str) -> None:
    """Only render.py's own tags and attributes; no handlers, links, images or scripts."""
    parser = _Tags()
    parser.feed(markup)
    for tag, attrs in parser.tags:
        assert tag in ALLOWED_TAGS, f"unexpected <{tag}> in {markup[:200]}"
        for name, _ in attrs:
            assert name in ALLOWED_ATTRS, f"unexpected attribute {name}= on <{tag}>"
    assert "<script" not in markup.lower() and "<img" not in markup.lower() and "<a " not in markup.lower()


def make_hit(text: str, start: int = 0, chunk_id: str = "000#1", **fields: str) -> Hit:
    values = {"doc_number": "慈卫建〔2021〕15号", "title": "答复", "agency": "慈溪市卫生健康局", "date": "2021-06-30",
              "section": "一、引导 › （二）支持", "citation": "慈卫建〔2021〕15号 · 一（二）", "path": "/x/000.txt"}
    values.update(fields)
    return Hit(text=text, score=1.0, letter_id="000", start=start, end=start + len(text), chunk_id=chunk_id, rank=1,
               dense_score=None, lexical_score=None, **values)


def test_escape_handles_none_quotes_and_tags() -> None:
    assert render.escape(None) == ""
    assert render.escape('<b a="1">\'&') == "&lt;b a=&quot;1&quot;&gt;&#x27;&amp;"


@pytest.mark.parametrize(("spans", "expected"), [
    ([(101, 103)], "甲<mark>乙丙</mark>丁戊"),
    ([(100, 101), (104, 105)], "<mark>甲</mark>乙丙丁<mark>戊</mark>"),
    ([(101, 103), (102, 104)], "甲<mark>乙丙丁</mark>戊"),  # overlapping spans merge
    ([(101, 102), (102, 103)], "甲<mark>乙丙</mark>丁戊"),  # touching spans merge
    ([(90, 101), (104, 200)], "<mark>甲</mark>乙丙丁<mark>戊</mark>"),  # clipped to the passage
    ([(10, 20), (103, 103)], "甲乙丙丁戊"),  # outside or empty: nothing
])
def test_highlight_uses_letter_offsets(spans: list[tuple[int, int]], expected: str) -> None:
    assert render.highlight("甲乙丙丁戊", spans, offset=100) == expected


def test_highlight_escapes_inside_and_outside_marks_and_sets_one_id() -> None:
    out = render.highlight("a<b>c<i>d", [(1, 4), (5, 8)], mark_id="cited-span")
    assert out == 'a<mark id="cited-span">&lt;b&gt;</mark>c<mark>&lt;i&gt;</mark>d'


def test_evidence_cards_escape_letter_strings() -> None:
    hit = make_hit(EVIL + "。二类医疗器械给予专项支持。", start=50, doc_number="<b>文号</b>",
                   agency="<i onclick=x()>局</i>", citation="<script>c</script> · 一", section="[a](javascript:x)")
    turn = Turn(question=EVIL, query=EVIL, mode="passages", evidence=(CitedPassage(1, hit, ((50, 60),)),))
    cards = render.evidence_html(turn, 3, "en")
    assert_inert(cards)
    assert 'data-turn="3" data-n="1"' in cards
    assert "<mark>&lt;script&gt;al</mark>ert(1)&lt;/script&gt;" in cards
    assert "&lt;img src=x onerror=alert(2)&gt;" in cards
    assert "&lt;b&gt;文号&lt;/b&gt;" in cards and "&lt;i onclick=x()&gt;局&lt;/i&gt;" in cards
    # the highlighted part is exactly the first ten characters of the passage, escaped
    marked = re.search(r"<mark>(.*?)</mark>", cards).group(1)
    assert html.unescape(marked) == hit.text[:10]


def test_quotes_of_one_passage_share_a_card() -> None:
    text = "甲句。乙句。丙句。"
    one, other = make_hit(text, start=10), make_hit("丁句。", start=40, chunk_id="000#2", citation="另一处 · 二")
    turn = Turn(question="q", query="q", mode="answer", text="甲 [1] 丙 [2] 丁 [3]", evidence=(
        CitedPassage(1, one, ((10, 13),)), CitedPassage(2, one, ((16, 19),)), CitedPassage(3, other, ((40, 43),))))
    cards = render.evidence_html(turn, 0, "zh")
    assert cards.count("<article") == 2
    first = cards[cards.index("<article"):cards.index("</article>")]
    assert 'data-n="1 2"' in first and ">[1]</button>" in first and ">[2]</button>" in first
    assert re.findall(r"<mark>(.*?)</mark>", first) == ["甲句。", "丙句。"]
    assert "[1][2] 慈卫建〔2021〕15号 · 一（二）; [3] 另一处 · 二" in render.chat_message(turn, "zh")
    markdown = turn_markdown(turn, "zh")
    assert "### \\[1\\] \\[2\\] 慈卫建〔2021〕15号 · 一（二）\n" in markdown
    assert "> **甲句。**乙句。**丙句。**" in markdown


def test_chat_messages_are_escaped() -> None:
    hit = make_hit("经信部门对企业取得二类、三类医疗器械产品相关资质给予专项支持；")
    for mode, text in (("answer", EVIL + " [1]"), ("passages", ""), ("abstained", EVIL), ("error", EVIL),
                       ("empty", "")):
        turn = Turn(question=EVIL, query=EVIL + "?", mode=mode, text=text, evidence=(CitedPassage(1, hit),))
        message = render.chat_message(turn, "zh")
        assert_inert(message)
    assert_inert(render.user_message(EVIL + "\n\n第二段"))
    assert render.user_message("a\nb\n\nc") == "<p>a<br>b</p><p>c</p>"


def test_draft_message_escapes_and_keeps_the_text() -> None:
    draft = render.draft_message("临床试验<script>alert(1)</script>\n费用 & [1]", "zh")
    assert_inert(draft)
    assert draft == ('<p class="rag-notice">正在生成…</p>'
                     "<p>临床试验&lt;script&gt;alert(1)&lt;/script&gt;<br>费用 &amp; [1]</p>")
    assert render.draft_message("<b>x</b>", "en").startswith('<p class="rag-notice">Writing…</p><p>&lt;b&gt;x')


def test_chat_message_shows_the_notes_escaped() -> None:
    hit = make_hit("临床试验费用纳入创新券范围。")
    turn = Turn(question="q", query="q", mode="answer", text="临床试验费用纳入创新券范围。[1]",
                evidence=(CitedPassage(1, hit, ((0, 14),)),),
                notes=("the language model was not used: cannot reach http://x/<b>; showing the extractive answer",))
    message = render.chat_message(turn, "en")
    assert_inert(message)
    assert ('<p class="rag-notice">Notes: the language model was not used: cannot reach http://x/&lt;b&gt;; '
            "showing the extractive answer</p>") in message
    assert "rag-notice" not in render.chat_message(replace(turn, notes=()), "en")


def test_letter_view_highlights_the_cited_span(tmp_path: Path) -> None:
    text = (f"测试机关\n\n关于{EVIL}的答复\n\n张三代表：\n"
            "　　一、经信部门对企业取得二类医疗器械产品相关资质给予专项支持。\n\n测试机关\n2021年6月30日\n")
    letter = parse_letter(text, letter_id="evil", path=str(tmp_path / "evil<x>.txt"))
    start = text.index("经信部门")
    end = text.index("。", start) + 1
    view = render.letter_html(letter, [(start, end)], "zh", caption=EVIL)
    assert_inert(view)
    marked = re.search(r'<mark id="cited-span">(.*?)</mark>', view, re.S).group(1)
    assert html.unescape(marked) == text[start:end]
    # the whole text is there, in order, once unescaped
    body = re.search(r'<div class="rag-letter-text">(.*)</div></div>$', view, re.S).group(1)
    assert html.unescape(re.sub(r"</?mark[^>]*>", "", body)) == text
    assert "&lt;script&gt;" in view and "evil&lt;x&gt;.txt" in view


def test_letter_view_without_letter_is_a_notice() -> None:
    assert "rag-notice" in render.letter_html(None, lang="en")
    assert t("en", "no_letter") in render.letter_html(None, lang="en")


def test_library_table_and_reports_escape(tmp_path: Path) -> None:
    letter = parse_letter(f"{EVIL}\n关于{EVIL}的答复\n", letter_id="<id>", path=str(tmp_path / "x.txt"))
    table = render.letters_table_html([letter], "en")
    assert_inert(table)
    assert 'data-letter="&lt;id&gt;"' in table
    from rag.ingest import Skipped

    report = render.upload_report_html(None, [Skipped("<img src=x onerror=alert(1)>.exe", "unsupported file type")])
    assert_inert(report)
    assert "&lt;img src=x onerror=alert(1)&gt;.exe: unsupported file type" in report


def test_markdown_export_keeps_links_and_html_inert() -> None:
    hit = make_hit("前文。" + EVIL + "。后文。", start=10)
    turn = Turn(question=EVIL, query=EVIL, mode="answer", text="回答 [1]", confidence=0.8,
                evidence=(CitedPassage(1, hit, ((13, 13 + len(EVIL)),)),))
    markdown = turn_markdown(turn, "zh", when="2024-01-01")
    assert "](" not in markdown.replace("\\](", "")  # no live link or image syntax
    assert "<script>" not in markdown and "<img" not in markdown and "<a " not in markdown
    assert "\\[点我\\](javascript:alert(3))" in markdown  # brackets escaped: no link
    assert "### \\[1\\] 慈卫建〔2021〕15号 · 一（二）" in markdown
    assert "> 前文。**&lt;script&gt;" in markdown  # the cited quote is bold inside the blockquote
    assert markdown.endswith("\n")


def test_escape_markdown_escapes_syntax_and_nothing_else() -> None:
    assert escape_markdown("a*b _c_ [d](e)<f>&amp;") == "a\\*b \\_c\\_ \\[d\\](e)&lt;f&gt;&amp;amp;"
    # a section number, a file name's underscores, brackets of a document number stay as they are
    assert escape_markdown("（二）加大培育支持 (二) 004_dce9e1310b5c7813.txt 慈卫建〔2021〕15号") == \
        "（二）加大培育支持 (二) 004_dce9e1310b5c7813.txt 慈卫建〔2021〕15号"
    # at a line's start, what would make a heading, a list or a rule
    assert escape_markdown("# 标题\n1. 一项\n- 另一项\n1.不是列表") == "\\# 标题\n1\\. 一项\n\\- 另一项\n1.不是列表"


def test_a_conversation_exports_every_reply_and_a_decline_lists_no_citations() -> None:
    hit = make_hit("经信部门对企业取得二类、三类医疗器械产品相关资质给予专项支持；")
    answered = Turn(question="二类呢？", query="二类呢？", mode="answer", text="支持。[1]",
                    evidence=(CitedPassage(1, hit, ((hit.start, hit.end),)),))
    declined = Turn(question="法国首都？", query="法国首都？", mode="abstained", evidence=(CitedPassage(1, hit),))
    markdown = conversation_markdown(Conversation((answered, declined)), "zh", when="2024-01-01")
    assert markdown.startswith("# policy-rag 对话记录\n")
    assert markdown.index("## 二类呢？") < markdown.index("## 法国首都？")
    answer_part, decline_part = markdown.split("## 法国首都？")
    assert "### 引用" in answer_part and "#### \\[1\\] " in answer_part
    assert "引用" not in decline_part and "### 最接近的段落（不是答案）" in decline_part


def test_cards_from_a_real_search(fake_index: Index) -> None:
    from rag.ui.conversation import reply

    turn = reply(fake_index, "二类医疗器械注册补助", k=3, answer=False)
    assert turn.mode == "passages" and [e.n for e in turn.evidence] == [1, 2, 3]
    cards = render.evidence_html(turn, 0, "zh")
    assert_inert(cards)
    for item in turn.evidence:
        assert render.escape(item.hit.citation) in cards
        for start, end in item.spans:
            assert item.hit.start <= start < end <= item.hit.end
    assert "慈卫建〔2021〕15号" in cards


def test_choices_and_facets(fake_index: Index) -> None:
    letters = fake_index.letters
    assert render.years(letters) == ["2021", "2023"]
    assert "慈溪市卫生健康局" in render.agencies(letters)
    labels = dict((v, k) for k, v in render.letter_choices(letters))
    assert labels["000_3530caffdd2f932b"] == "慈卫建〔2021〕15号 · 慈溪市卫生健康局 · 2021-06-30 · 000_3530caffdd2f932b"


def test_numbers_in_answers_and_passages_are_emphasised_and_escaped():
    html_ = render.highlight("按<b>给予30%补助，最高400万元。", [(10, 14)], offset=10, numbers=True)
    assert '<span class="rag-num">30%</span>' in html_ and '<span class="rag-num">最高400万元</span>' in html_
    assert "&lt;b&gt;" in html_ and html_.startswith("<mark>按&lt;b&gt;</mark>")
    assert "rag-num" not in render.highlight("给予30%补助", [])
    assert render.highlight("补助。[1]", [], numbers=True) == "补助。[1]"  # citation markers stay plain


def test_digits_of_document_numbers_and_names_are_not_marked_as_amounts():
    html = render.highlight("慈卫建〔2021〕15号，第0315号提案，民企100强，投入300万元，补助30%。", (), numbers=True)
    assert re.findall(r'<span class="rag-num">([^<]*)</span>', html) == ["300万元", "30%"]


def test_decline_notes_are_worded_in_the_interfaces_language_with_places_as_written() -> None:
    place, = bundled_places().named("Is there a subsidy for elderly canteens in France?")
    assert place.written == "France"
    notes = (Note("unplaced", (place.written,)), Note("absent_words", ("100",)), Note("missing_kind", ("amount",)))
    turn = Turn(question="q", query="q", mode="abstained", text="", notes=notes,
                evidence=(CitedPassage(1, make_hit("临床试验费用纳入创新券范围。"), ()),))
    notices = {lang: html.unescape(re.sub(r"<[^>]+>", " ", re.search(r'rag-notice">(.*?)</div>',
                                                                     render.evidence_html(turn, 1, lang), re.S)[1]))
               for lang in ("zh", "en")}
    assert "找到的来信都没有提到France" in notices["zh"] and "100%" in notices["zh"] and "金额" in notices["zh"]
    assert not re.search(r"[A-Za-z]+\s+[A-Za-z]+", notices["zh"]), notices["zh"]  # no English sentence
    assert "none of the letters found mentions France" in notices["en"]
    assert "100% of the question's words are in none of the letters" in notices["en"]
    assert str(Note("unplaced", ("France",))) == "none of the letters found mentions France"  # the CLI's and API's
