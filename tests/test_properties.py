"""Property-based tests: the parser and chunker never fail and never lose text, whatever the input."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rag import Config
from rag.chunk import chunk_letter, split_sentences
from rag.parse import parse_letter

# Text built from the pieces letters are made of, plus arbitrary unicode, so headings and
# metadata patterns actually occur instead of only random noise.
PIECES = st.sampled_from([
    "一、", "二、", "十一、", "（一）", "(二)", "1.", "2、", "（3）", "一是", "。", "；", "，", "：", ":", "\n", "\n\n",
    "\u3000\u3000", " ", "代表：", "委员:", "慈卫建〔2021〕15号", "签发人：张三", "联系人：李四", "2021年6月30日",
    "二〇二一年六月三十日", "对市十七届人大五次会议第276号建议的答复", "索引号: | x |", "发布机构: 某局",
    "感谢您的支持。",
    "医疗器械", "补助30%", "最高400万元", "某某市卫生健康局", "<script>alert(1)</script>", "\r\n", "\t", "|",
])
TEXT = st.lists(st.one_of(PIECES, st.text(max_size=12)), max_size=60).map("".join)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=TEXT)
def test_parsing_and_chunking_never_raise_and_cover_the_text(text: str):
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    letter = parse_letter(text, letter_id="p")
    for section in letter.sections:
        assert 0 <= section.start <= section.end <= len(text)
    for config in (Config(), Config(max_chunk_chars=60, min_chunk_chars=10), Config(chunking="fixed")):
        chunks = chunk_letter(letter, config)
        covered = set()
        for chunk in chunks:
            assert 0 <= chunk.start < chunk.end <= len(text)
            assert text[chunk.start:chunk.end] == chunk.text
            covered.update(range(chunk.start, chunk.end))
        missing = [i for i, ch in enumerate(text) if not ch.isspace() and i not in covered]
        assert not missing, (config, [text[i] for i in missing][:10])


@settings(max_examples=200, deadline=None)
@given(text=TEXT)
def test_sentences_are_valid_slices(text: str):
    for start, end in split_sentences(text, 5):
        assert 5 <= start < end <= len(text) + 5
        assert text[start - 5:end - 5].strip()
