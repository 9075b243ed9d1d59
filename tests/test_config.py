"""One configuration, applied the same everywhere: the API, the CLI and the web UI answer alike on one index."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rag import Config, Index, IndexLoadError
from rag.cli import main
from rag.ui.app import app_config, open_index, parse_args
from rag.ui.conversation import reply

QUESTIONS = ("医疗器械临床试验费用能不能用创新券？", "What subsidies exist for Class II device registration?",
             "Who won the 2018 World Cup?")


@pytest.fixture(scope="module")
def odd_index(tmp_path_factory: pytest.TempPathFactory, analyzer) -> Path:
    """The sample letters built with non-default search and answer settings (as an old version might store)."""
    directory = tmp_path_factory.mktemp("odd") / "index"
    Index.build([Path(__file__).resolve().parents[1] / "letters"], directory,
                config=Config(abstain_threshold=0.99, fusion="rrf", k_candidates=7), analyzer=analyzer)
    return directory


@pytest.mark.slow
@pytest.mark.parametrize("question", QUESTIONS)
def test_api_cli_and_ui_give_the_same_answer(odd_index: Path, question: str, capsys: pytest.CaptureFixture[str]):
    api = Index.load(odd_index).ask(question)

    assert main(["ask", question, "--index", str(odd_index), "--json"]) == 0
    cli = json.loads(capsys.readouterr().out)
    args = parse_args(["--index", str(odd_index)])
    turn = reply(open_index(args, app_config(args)), question)

    assert (cli["text"], cli["abstained"], cli["confidence"]) == (api.text, api.abstained, round(api.confidence, 4))
    assert [c["quote"] for c in cli["citations"]] == [c.quote for c in api.citations]
    assert turn.text == api.text and turn.confidence == api.confidence
    assert [item.hit.chunk_id for item in turn.evidence] == [
        c.hit.chunk_id for c in api.citations] if api.citations else [h.chunk_id for h in api.hits]


def test_load_takes_search_settings_from_the_caller_and_build_settings_from_the_index(fake_index: Index,
                                                                                     fake_encoder, analyzer):
    directory = fake_index.directory
    assert directory is not None
    default = Index.load(directory, encoder=fake_encoder, analyzer=analyzer)
    assert default.config.search_settings() == Config().search_settings()
    tuned = Index.load(directory, encoder=fake_encoder, analyzer=analyzer,
                       config=Config(abstain_threshold=0.5, max_chunk_chars=99))
    assert tuned.config.abstain_threshold == 0.5 and tuned.config.max_chunk_chars == Config().max_chunk_chars
    with pytest.raises(IndexLoadError, match=r"max_chunk_chars: index 360, asked 99.*--rebuild"):
        Index.load(directory, encoder=fake_encoder, analyzer=analyzer, expect=Config(max_chunk_chars=99))
