"""Shared fixtures: the bundled letters, the shared evaluation letters, a deterministic fake encoder."""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from rag import Config, Index
from rag.lexical import Analyzer

ROOT = Path(__file__).resolve().parents[1]
BUNDLED = ROOT / "letters"
SHARED = ROOT.parent / "shared"
LETTER_000 = BUNDLED / "000_3530caffdd2f932b.txt"
LETTER_004 = BUNDLED / "004_dce9e1310b5c7813.txt"


class FakeEncoder:
    """Hashed character bigrams → 256-d unit vectors: deterministic, instant, lexical-ish similarity."""

    dim = 256

    def __init__(self, name: str = "fake-bigrams") -> None:
        self.id = name
        self.calls = 0
        self.passages_encoded = 0

    def _vector(self, text: str) -> np.ndarray:
        vector = np.zeros(self.dim, np.float32)
        text = "".join(text.lower().split())
        for a, b in zip(text, text[1:], strict=False):
            bucket = int.from_bytes(hashlib.blake2b((a + b).encode(), digest_size=4).digest(), "little")
            vector[bucket % self.dim] += 1.0
        norm = np.linalg.norm(vector)
        return vector / norm if norm else vector

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        self.calls += 1
        return np.stack([self._vector(t) for t in texts]) if texts else np.zeros((0, self.dim), np.float32)

    def encode_passages(self, texts: Sequence[str], batch_size: int = 64) -> np.ndarray:
        self.passages_encoded += len(texts)
        return self.encode_queries(texts)


@pytest.fixture(scope="session")
def analyzer() -> Analyzer:
    return Analyzer()


@pytest.fixture()
def fake_encoder() -> FakeEncoder:
    return FakeEncoder()


@pytest.fixture()
def letters_dir(tmp_path: Path) -> Path:
    """A private copy of the two bundled sample letters."""
    folder = tmp_path / "letters"
    folder.mkdir()
    for path in (LETTER_000, LETTER_004):
        shutil.copy(path, folder / path.name)
    return folder


@pytest.fixture()
def fake_index(letters_dir: Path, tmp_path: Path, fake_encoder: FakeEncoder, analyzer: Analyzer) -> Index:
    """The sample letters indexed with the fake encoder into tmp_path/index."""
    return Index.build([letters_dir], tmp_path / "index", config=Config(), encoder=fake_encoder, analyzer=analyzer)


@pytest.fixture(scope="session")
def shared_letters() -> Path:
    folder = SHARED / "letters"
    if not folder.is_dir():
        pytest.fail(f"{folder} is missing: the tests read the evaluation letters from ../shared")
    return folder


@pytest.fixture(scope="session")
def use_index(tmp_path_factory: pytest.TempPathFactory, shared_letters: Path, analyzer: Analyzer) -> Index:
    """Every shared letter indexed with the real bundled encoder (built once per session)."""
    return Index.build([shared_letters], tmp_path_factory.mktemp("use") / "index", analyzer=analyzer)
