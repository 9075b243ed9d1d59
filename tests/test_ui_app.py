"""The web UI's assembly without a browser: flags, panels, handlers and relabelling (the browser tests drive it)."""

from __future__ import annotations

import contextlib
import subprocess
import sys
import typing
from collections.abc import Iterator
from pathlib import Path

import pytest

from rag import Index
from rag.ui.app import parse_args
from rag.ui.conversation import Conversation
from rag.ui.labels import LABELS

ROOT = Path(__file__).resolve().parents[1]
ZH = "二类医疗器械注册有哪些补助？"
CIXI = "慈卫建〔2021〕15号"

gr = pytest.importorskip("gradio")


def test_rendering_and_chat_logic_do_not_import_gradio() -> None:
    code = ("import sys, rag.ui, rag.ui.render, rag.ui.markdown, rag.ui.conversation, rag.ui.uploads, "
            "rag.ui.labels, rag.ui.app; print('gradio' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.stdout.strip() == "False", result.stderr


def test_parse_args_keeps_every_flag() -> None:
    args = parse_args(["--index", "idx", "--letters", "a", "b", "--host", "0.0.0.0", "--port", "8000", "--model",
                       "m", "--rebuild", "--lang", "en", "--max-upload-mb", "2.5", "--llm-url", "http://x/v1",
                       "--llm-model", "q", "--llm-key-env", "KEY", "--llm-timeout", "7.5", "--milvus-uri",
                       "http://127.0.0.1:19530", "--milvus-token-env", "MY_TOKEN", "--milvus-timeout", "9",
                       "--milvus-search-width", "64"])
    assert vars(args) == {"index": "idx", "letters": ["a", "b"], "host": "0.0.0.0", "port": 8000, "model": "m",
                          "rebuild": True, "lang": "en", "max_upload_mb": 2.5, "llm_url": "http://x/v1",
                          "llm_model": "q", "llm_key_env": "KEY", "llm_timeout": 7.5,
                          "milvus_uri": "http://127.0.0.1:19530", "milvus_token_env": "MY_TOKEN", "milvus_timeout": 9.0,
                          "milvus_search_width": 64}
    defaults = parse_args([])
    assert (defaults.index, defaults.port, defaults.lang, defaults.llm_key_env) == ("index", 7860, "zh",
                                                                                   "OPENAI_API_KEY")
    with pytest.raises(SystemExit):
        parse_args(["--llm-url", "http://x/v1"])


@pytest.fixture()
def page(fake_index: Index, tmp_path: Path) -> Iterator[tuple[object, object, object]]:
    """The app's blocks, layout and handlers over the fake index."""
    from rag.ui.events import Events
    from rag.ui.layout import build_layout

    with gr.Blocks() as demo:
        layout = build_layout(fake_index, "zh")
        events = Events(fake_index, layout, exports=tmp_path)
        events.wire(demo)
    yield demo, layout, events


def _listener(demo: object, fn: object) -> object:
    (found,) = [block_fn for block_fn in demo.fns.values() if block_fn.fn == fn]
    return found


def test_ask_keeps_its_api_and_fills_every_output(page: tuple[object, object, object]) -> None:
    demo, layout, events = page
    asking = [block_fn for block_fn in demo.fns.values() if block_fn.api_name == "ask"]
    # eval/load.py calls /ask with (question, k, agency, from, to, letters, language); the region comes last, so
    # those calls keep working with its default (none)
    assert len(asking) == 1
    chat, filters = layout.chat, layout.filters
    assert asking[0].inputs == [chat.question, layout.conversation, filters.k, filters.agency, filters.year_from,
                                filters.year_to, filters.letters, layout.language, filters.region]
    updates = events.ask(ZH, Conversation(), 3, None, None, None, [], "zh")
    assert set(updates) == set(asking[0].outputs)
    conversation = updates[layout.conversation]
    assert [turn.question for turn in conversation.turns] == [ZH] and updates[layout.selected] == 0
    assert updates[chat.question] == "" and CIXI in updates[layout.evidence.cards]
    markdown = Path(updates[chat.download]["value"]).read_text(encoding="utf-8")
    assert markdown.startswith(f"# {ZH}\n")
    assert events.ask("  ", Conversation(), 3, None, None, None, [], "zh") == gr.skip()


def test_relabel_switches_every_label_and_the_views(page: tuple[object, object, object]) -> None:
    demo, layout, events = page
    conversation = events.ask(ZH, Conversation(), 3, None, None, None, [], "zh")[layout.conversation]
    updates = events.relabel("en", conversation, 0, (0, 1))
    assert set(updates) == set(_listener(demo, events.relabel).outputs)
    english = set(LABELS["en"].values())
    for component, update in updates.items():
        if isinstance(update, dict) and ("label" in update or "value" in update and isinstance(update["value"], str)):
            assert update.get("label", update.get("value")) in english, component
    assert updates[layout.chat.send] == gr.update(value="Send")
    assert updates[layout.ask_tab] == gr.update(label="Ask")
    assert 'title="Agency"' in updates[layout.evidence.cards]
    assert "Addressee" in updates[layout.letter.view] and 'id="cited-span"' in updates[layout.letter.view]
    assert "Library: 2 letters" in updates[layout.library.summary]
    assert updates[layout.chat.chatbot]["value"][0]["content"] == f"<p>{ZH}</p>"


def test_switching_the_language_does_not_scroll_the_page_to_the_letter(page: tuple[object, object, object]) -> None:
    """The letter view re-rendered for a new language is marked to follow: its script scrolls the letter's own box
    to the span (``SCROLL_JS``), where a view opened by a click brings the letter into the page's view."""
    _, layout, events = page
    conversation = events.ask(ZH, Conversation(), 3, None, None, None, [], "zh")[layout.conversation]
    clicked = events.open_citation(conversation, "zh", gr.EventData(None, {"turn": 0, "n": 1}))[layout.letter.view]
    relabelled = events.relabel("en", conversation, 0, (0, 1))[layout.letter.view]
    assert "data-follow" not in clicked and "data-follow" in relabelled and 'id="cited-span"' in relabelled


def test_citation_click_opens_the_letter_and_a_bad_one_does_nothing(page: tuple[object, object, object]) -> None:
    demo, layout, events = page
    conversation = events.ask(ZH, Conversation(), 3, None, None, None, [], "zh")[layout.conversation]
    opened = events.open_citation(conversation, "zh", gr.EventData(None, {"turn": 0, "n": 1}))
    assert opened[layout.opened] == (0, 1) and '<mark id="cited-span">' in opened[layout.letter.view]
    assert events.open_citation(conversation, "zh", gr.EventData(None, {"turn": 5, "n": 1})) == gr.skip()
    chosen = events.choose(conversation, "en", gr.SelectData(None, {"index": [1, 0], "value": ""}))
    assert chosen[layout.selected] == 0 and "rag-card" in chosen[layout.evidence.cards]


def test_gradio_sees_the_event_data_and_progress_parameters(page: tuple[object, object, object]) -> None:
    _, _, events = page
    assert typing.get_type_hints(events.choose)["event"] is gr.SelectData
    assert typing.get_type_hints(events.open_citation)["event"] is gr.EventData
    assert typing.get_type_hints(events.upload)["progress"] is gr.Progress


def test_remove_without_a_choice_says_so(page: tuple[object, object, object]) -> None:
    _, layout, events = page
    updates = events.remove(None, "en")
    assert updates[layout.library.report] == '<p class="rag-notice">Choose a letter to remove first.</p>'
    assert set(updates) == {layout.library.report, layout.filters.agency, layout.filters.region,
                            layout.filters.year_from, layout.filters.year_to, layout.filters.letters,
                            layout.library.doomed, layout.library.table, layout.library.summary,
                            layout.compare.region}


def test_without_gradio_the_app_names_the_extra_to_install(monkeypatch: pytest.MonkeyPatch, capsys, tmp_path: Path):
    monkeypatch.setitem(sys.modules, "gradio", None)  # what an install without the 'ui' extra looks like
    from rag.ui.app import main

    assert main(["--index", str(tmp_path / "index")]) == 2
    assert "pip install 'policy-rag[ui]'" in capsys.readouterr().err
    assert not (tmp_path / "index").exists()  # refused before building anything


def test_library_errors_show_no_server_paths(page: tuple[object, object, object], fake_index: Index,
                                             letters_dir: Path, tmp_path: Path) -> None:
    from rag.stores.disk import build_lock

    _, layout, events = page
    upload = tmp_path / "new-letter.txt"
    upload.write_text((letters_dir / "000_3530caffdd2f932b.txt").read_text(encoding="utf-8") + "\n补充。",
                      encoding="utf-8")
    directory = fake_index.directory
    assert directory is not None
    with build_lock(directory):  # another build holds the library
        uploaded = str(events.upload([str(upload)], "en", progress=lambda *a, **k: None)[layout.library.report])
        removed = str(events.remove("004_dce9e1310b5c7813", "en")[layout.library.report])
    for html in (uploaded, removed):
        assert "being updated by another upload or build" in html
        assert str(directory) not in html and ".build.lock" not in html and "manifest.json" not in html
    assert "new-letter.txt" in uploaded  # the user's own file name, with the reason
    assert not list((directory / "uploads").glob("new-letter*"))  # not kept when it was not indexed
    assert len(fake_index.letters) == 2


@pytest.mark.slow
def test_uploading_a_scan_reports_ocr_progress_per_page(page: tuple[object, object, object], fake_index: Index,
                                                        tmp_path: Path) -> None:
    from tests.scans import render_pages

    _, layout, events = page
    scan = tmp_path / "扫描件.png"
    render_pages("关于增设公交站点的答复\n王五代表：\n一、新增公交站点两处，年内建成。", seed=4)[0].save(scan)
    steps: list[str] = []
    report = str(events.upload([str(scan)], "en", progress=lambda value, desc="": steps.append(desc))[
        layout.library.report])
    assert "Reading the scan 扫描件.png (OCR): page 1 of 1" in steps
    assert any("新增公交站点两处" in letter.text for letter in fake_index.letters)
    assert "Added" in report and "扫描件" in report


# ---- hostile clients ----------------------------------------------------------------------------

def _request(host: str) -> object:
    """What Gradio hands a handler: the client's address, and a session hash the client chose (a new one each time)."""
    import uuid
    from types import SimpleNamespace

    return SimpleNamespace(client=SimpleNamespace(host=host), session_hash=uuid.uuid4().hex)


def _reply(updates: dict[object, object], layout: object) -> object:
    return updates[layout.conversation].turns[-1]  # type: ignore[attr-defined]


def test_the_per_client_limit_is_by_address_not_by_session(page: tuple[object, object, object]) -> None:
    _, layout, events = page
    with events.clients.slot("10.0.0.1"):  # that address has a question running
        same = _reply(events.ask(ZH, Conversation(), 3, None, None, None, [], "en", request=_request("10.0.0.1")),
                      layout)
        other = _reply(events.ask(ZH, Conversation(), 3, None, None, None, [], "en", request=_request("10.0.0.2")),
                       layout)
    assert same.mode == "error" and same.text.startswith("this address already has 1 question being answered")
    assert other.mode == "answer" and CIXI in str(other.evidence)
    again = _reply(events.ask(ZH, Conversation(), 3, None, None, None, [], "en", request=_request("10.0.0.1")), layout)
    assert again.mode == "answer"  # its slot was freed


def test_model_answers_are_limited_in_total_and_the_rest_are_extractive(fake_index: Index, tmp_path: Path,
                                                                        closed_url: str) -> None:
    from rag import LLM
    from rag.ui.events import Events
    from rag.ui.layout import build_layout

    with gr.Blocks():
        layout = build_layout(fake_index, "zh")
        events = Events(fake_index, layout, exports=tmp_path, llm=LLM(closed_url, "any"))
    most = fake_index.config.max_model_asks
    assert most < fake_index.config.app_workers  # a worker is always left for extractive answers
    with contextlib.ExitStack() as held:
        assert all(held.enter_context(events.writers.slot("model")) for _ in range(most))  # all writing, slowly
        *_, updates = events.ask_streaming(ZH, Conversation(), 3, None, None, None, [], "en",
                                           request=_request("10.0.0.3"))
    turn = _reply(updates, layout)
    assert turn.mode == "answer" and CIXI in str(turn.evidence)
    assert turn.notes[0] == (f"the language model is writing {most} other answers; this is the extractive answer "
                             "(Config.max_model_asks)")
    assert not any("language model was not used" in note for note in turn.notes)  # the endpoint was not tried


@pytest.mark.parametrize("k", [float("nan"), float("inf"), 0, -3, 1e9, "5; DROP", None, True])
def test_a_bad_number_of_passages_from_the_api_is_one_message(page: tuple[object, object, object], k: object) -> None:
    _, layout, events = page
    turn = _reply(events.ask(ZH, Conversation(), k, None, None, None, [], "en"), layout)  # type: ignore[arg-type]
    assert turn.mode == "error" and turn.text.startswith("the number of passages must be a number from 1 to 20, not ")


@pytest.mark.parametrize("index", ["x", [], None, ["a", 0], 2.5, {"0": 1}])
def test_a_malformed_chat_selection_does_nothing(page: tuple[object, object, object], index: object) -> None:
    _, _, events = page
    conversation = events.ask(ZH, Conversation(), 3, None, None, None, [], "zh")[page[1].conversation]
    assert events.choose(conversation, "en", gr.SelectData(None, {"index": index, "value": ""})) == gr.skip()


def test_the_app_prints_file_names_and_reasons_without_terminal_escapes(tmp_path: Path, capsys) -> None:
    from rag import Config
    from rag.ui.app import open_index

    from .conftest import LETTER_000

    letters = tmp_path / "letters"
    letters.mkdir()
    (letters / "letter.txt").write_text(LETTER_000.read_text(encoding="utf-8"), encoding="utf-8")
    (letters / "\x1b[2J\x1b[31mforged.txt").write_bytes(b"\x00\x01" * 100)
    args = parse_args(["--index", str(tmp_path / "index"), "--letters", str(letters)])
    open_index(args, Config())
    err = capsys.readouterr().err
    assert "\x1b" not in err and "skipped" in err and "\\x1b[2J\\x1b[31mforged.txt" in err


def test_a_question_is_answered_from_the_letters_committed_since_by_another_process(
        page: tuple[object, object, object], fake_index: Index, analyzer: object) -> None:
    from .conftest import FakeEncoder

    demo, layout, events = page
    assert CIXI in events.ask(ZH, Conversation(), 3, None, None, None, [], "zh")[layout.evidence.cards]
    cixi = next(letter.letter_id for letter in fake_index.letters if letter.doc_number == CIXI)
    assert fake_index.directory is not None
    Index.load(fake_index.directory, encoder=FakeEncoder(), analyzer=analyzer).remove([cixi])  # `rag remove`
    assert CIXI not in events.ask(ZH, Conversation(), 3, None, None, None, [], "zh")[layout.evidence.cards]
