"""Reading letters from web pages, Word files and odd encodings."""

from __future__ import annotations

from pathlib import Path

import pytest

from rag.ingest import decode_bytes, read_document, read_documents, sniff_binary
from rag.ingest.text import html_depth


def test_html_page_becomes_lines_of_visible_text(tmp_path: Path):
    page = tmp_path / "letter.html"
    page.write_bytes("""<html><head><title>t</title><style>p{color:red}</style>
        <script>alert('x')</script></head><body><nav>首页 | 政务公开</nav>
        <div class="content"><p>慈卫建〔2021〕15号</p><p>李佳代表：</p>
        <p>一、引导产业链发展。</p><p>（一）加强组织协调。经信部门制定方案。</p></div>
        <footer>版权所有</footer></body></html>""".encode("gbk").replace(b"<html>", b"<html>", 1))
    document = read_document(page)
    assert document.text.splitlines() == ["慈卫建〔2021〕15号", "李佳代表：", "一、引导产业链发展。",
                                          "（一）加强组织协调。经信部门制定方案。"]
    assert "alert" not in document.text and "版权所有" not in document.text


def test_utf8_bom_and_utf16_and_crlf(tmp_path: Path):
    text = "一、总体情况\r\n内容。\r\n"
    assert decode_bytes(b"\xef\xbb\xbf" + text.encode())[1] == "utf-8-sig"
    assert decode_bytes(text.encode("utf-16"))[0] == text
    path = tmp_path / "a.txt"
    path.write_bytes(b"\xef\xbb\xbf" + text.encode())
    assert read_document(path).text == "一、总体情况\n内容。\n"


def test_binary_kinds_are_named():
    assert sniff_binary(b"%PDF-1.7 ...") == "PDF document"
    assert sniff_binary(b"\xd0\xcf\x11\xe0" + b"\x00" * 10).startswith("legacy Office document")
    assert sniff_binary("正常的中文文本".encode()) is None


def test_folders_are_read_recursively_and_unsupported_files_named_explicitly(tmp_path: Path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "b.md").write_text("二、内容", encoding="utf-8")
    (tmp_path / "a.txt").write_text("一、内容", encoding="utf-8")
    (tmp_path / "notes.xlsx").write_bytes(b"PK\x03\x04")
    documents, skipped = read_documents([tmp_path])
    assert [Path(d.path).name for d in documents] == ["a.txt", "b.md"] and skipped == []
    documents, skipped = read_documents([tmp_path / "notes.xlsx", tmp_path / "missing.txt"])
    assert documents == []
    assert [s.reason.split(";")[0] for s in skipped] == ["unsupported file type '.xlsx'", "no such file or folder"]


def test_pdf_text_layer_is_read(tmp_path: Path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    with plt.rc_context({"pdf.fonttype": 42}):
        figure = plt.figure()
        figure.text(0.1, 0.5, "Reply letter No. 15: subsidy 30 percent")
        figure.savefig(tmp_path / "letter.pdf", format="pdf")
        plt.close(figure)
    document = read_document(tmp_path / "letter.pdf")
    assert document.text == "Reply letter No. 15: subsidy 30 percent" and document.encoding == "pdf"


@pytest.mark.parametrize(("html", "depth"), [
    ("<div><section><p>一<p>二<ul><li>甲<li>乙</ul></section></div>", 3),  # p and li close themselves
    ("<div><!-- <div><div><div> --><script>if (a<b) {'<div><div>'}</script><br/><img src=x></div>", 1),
    ("<div><span></div></span><div></div>", 2),  # an end tag closes what it skips over, as a parser does
    ("<div><!-- " + "<div>" * 50, 1),  # an unclosed comment: the rest is comment
    ("<div>" * 5_000, 1_001),  # counted only up to the bound + 1
])
def test_html_nesting_is_counted_as_a_parser_nests(html: str, depth: int):
    assert html_depth(html, 1_000) == depth
