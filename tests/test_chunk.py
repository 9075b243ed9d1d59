"""Chunking: offsets are exact slices, headings stay with their text, long sections split at sentence ends."""

from __future__ import annotations

from rag import Config
from rag.chunk import chunk_letter, split_sentences
from rag.ingest import read_document
from rag.parse import parse_letter

from .conftest import LETTER_000, LETTER_004


def _letter(path):
    document = read_document(path)
    return parse_letter(document.text, letter_id=path.stem, path=str(path), sha256=document.sha256)


def test_every_chunk_is_an_exact_slice_of_its_letter(shared_letters):
    for path in [LETTER_000, LETTER_004, *sorted(shared_letters.glob("x*.txt"))]:
        letter = _letter(path)
        chunks = chunk_letter(letter, Config())
        assert chunks, path
        for chunk in chunks:
            assert letter.text[chunk.start:chunk.end] == chunk.text
            assert chunk.text == chunk.text.strip()


def test_chunks_follow_sections_and_keep_paths():
    letter = _letter(LETTER_000)
    chunks = chunk_letter(letter, Config())
    support = [c for c in chunks if c.label == "一（二）"]
    assert [c.section for c in support] == ["一、引导产业链发展，鼓励企业创新研发 › （二）加大培育支持"] * 2
    assert support[0].text.startswith("（二）加大培育支持。")
    assert support[0].text.endswith("给予30%补助。针对重点的补链型招商项目，可按照“一事一议”进行配套扶持。")
    # the bare level-one heading is merged into its first child, never a chunk of its own
    first = next(c for c in chunks if c.label == "一（一）")
    assert first.text.startswith("一、引导产业链发展，鼓励企业创新研发。")
    assert all(len(c.text) >= Config().min_chunk_chars for c in chunks)


def test_long_sections_split_at_sentence_ends():
    config = Config(max_chunk_chars=200)
    letter = _letter(LETTER_004)
    for chunk in chunk_letter(letter, config):
        assert len(chunk.text) <= config.max_chunk_chars + config.min_chunk_chars
        assert chunk.text[-1] in "。；！？”)）;!?，," or chunk.end == letter.sections[-1].end or "\n" in letter.text[
            chunk.end:chunk.end + 2]


def test_chunks_cover_all_non_blank_text():
    letter = _letter(LETTER_004)
    covered = set()
    for chunk in chunk_letter(letter, Config()):
        covered.update(range(chunk.start, chunk.end))
    assert all(i in covered for i, ch in enumerate(letter.text) if not ch.isspace())


def test_context_text_carries_title_and_section_but_text_is_the_passage():
    letter = _letter(LETTER_000)
    chunk = chunk_letter(letter, Config())[3]
    assert chunk.context_text(letter.title) == f"{letter.title}\n{chunk.section}\n{chunk.text}"


def test_fixed_chunking_baseline():
    letter = _letter(LETTER_000)
    chunks = chunk_letter(letter, Config(chunking="fixed"))
    assert max(len(c.text) for c in chunks) <= 500
    assert all(letter.text[c.start:c.end] == c.text for c in chunks)
    assert all(c.section == "" for c in chunks)


def test_split_sentences_offsets():
    text = "第一句。第二句！\n第三句"
    assert [text[s:e] for s, e in split_sentences(text)] == ["第一句。", "第二句！", "第三句"]
    assert split_sentences("ab。", start=10) == [(10, 13)]
