"""An index folder is untrusted data: a forged manifest or data file is refused, reaches nothing, loads no code."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from rag import Analyzer, Config, Index, IndexLoadError
from rag.cli import main
from rag.stores import disk
from rag.ui.app import app_config, open_index, parse_args

from .conftest import LETTER_000, FakeEncoder

QUESTION = "医疗器械注册补助"


@pytest.fixture()
def built(fake_index: Index) -> Path:
    """The folder of the two sample letters' index (fake encoder)."""
    assert fake_index.directory is not None
    return fake_index.directory


def _manifest(directory: Path) -> dict[str, Any]:
    return dict(json.loads((directory / "manifest.json").read_text(encoding="utf-8")))


def _forge(directory: Path, edit: Callable[[dict[str, Any]], None]) -> None:
    """Rewrite the manifest with ``edit`` and a recomputed checksum, as anyone sharing an index can."""
    manifest = _manifest(directory)
    edit(manifest)
    manifest.pop("checksum", None)
    body = json.dumps(manifest, sort_keys=True, ensure_ascii=False).encode("utf-8")
    manifest["checksum"] = hashlib.sha256(body).hexdigest()
    (directory / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False), encoding="utf-8")


def _relist(directory: Path, name: str) -> None:
    """List the generation's file ``name`` with its present size and hash (or drop it when it is gone)."""
    def edit(manifest: dict[str, Any]) -> None:
        path = directory / manifest["generation"] / name
        if path.is_file() and not path.is_symlink():
            manifest["files"][name] = {"bytes": path.stat().st_size,
                                       "sha256": hashlib.sha256(path.read_bytes()).hexdigest()}
        else:
            manifest["files"].pop(name, None)
    _forge(directory, edit)


def _file(directory: Path, name: str) -> Path:
    return directory / _manifest(directory)["generation"] / name


def _load(directory: Path, **kwargs: Any) -> Index:
    return Index.load(directory, encoder=FakeEncoder(), analyzer=Analyzer(), **kwargs)


# ---- the manifest ------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("key", "value", "said"), [
    ("config", ["model"], "config must be an object, not a list"),
    ("sources", None, "sources must be a list, not null"),
    ("files", {"letters.json": 5}, "the entry of file 'letters.json' must be an object"),
    ("encoder", {"id": "x", "dim": "512"}, "encoder must have a text id and a dimension"),
])
def test_a_manifest_of_wrong_types_is_one_error_line(built: Path, capsys: pytest.CaptureFixture[str], key: str,
                                                     value: object, said: str) -> None:
    _forge(built, lambda manifest: manifest.__setitem__(key, value))
    assert main(["letters", "--index", str(built)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(f"error: {built / 'manifest.json'} is not a valid index manifest")
    assert said in err


def test_a_config_value_of_the_wrong_type_is_refused(built: Path) -> None:
    _forge(built, lambda manifest: manifest["config"].__setitem__("max_chunk_chars", "360"))
    with pytest.raises(IndexLoadError, match="config.max_chunk_chars must be int, not str"):
        _load(built)


def test_an_absolute_or_climbing_generation_is_refused(built: Path, tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    shutil.copytree(built, elsewhere)
    absolute = str(elsewhere / _manifest(elsewhere)["generation"])
    _forge(built, lambda manifest: manifest.__setitem__("generation", absolute))
    with pytest.raises(IndexLoadError, match="is not the name of a generation folder"):
        _load(built)
    _forge(built, lambda manifest: manifest.__setitem__("generation", f"../elsewhere/{Path(absolute).name}"))
    with pytest.raises(IndexLoadError, match="is not the name of a generation folder"):
        _load(built)


def test_a_climbing_file_name_is_refused_before_anything_is_opened(built: Path, monkeypatch: pytest.MonkeyPatch
                                                                   ) -> None:
    secret = built.parent / "secret.txt"
    secret.write_text("hunter2", encoding="utf-8")
    opened: list[str] = []
    monkeypatch.setattr(disk, "sha256_file", lambda path: opened.append(str(path)) or "0" * 64)
    _forge(built, lambda manifest: manifest["files"].__setitem__("../../secret.txt", {"bytes": 7, "sha256": "0"}))
    with pytest.raises(IndexLoadError, match="must be a relative path inside its generation folder"):
        _load(built)
    assert opened == []


# ---- the generation folder's entries -----------------------------------------------------------------------

def test_a_hidden_file_a_copy_added_is_ignored_and_never_named(built: Path) -> None:
    (_file(built, "lexical") / ".DS_Store").write_bytes(b"\0" * 64)
    assert _load(built).search(QUESTION, k=3)
    meta = _file(built, "lexical/segments.json")
    body = json.loads(meta.read_text(encoding="utf-8"))
    body["segments"][0]["name"] = ".DS_Store"
    meta.write_text(json.dumps(body), encoding="utf-8")
    _relist(built, "lexical/segments.json")
    with pytest.raises(IndexLoadError, match="not a plain, visible file name"):
        _load(built)


def test_a_linked_data_file_is_refused(built: Path, tmp_path: Path) -> None:
    letters = _file(built, "letters.json")
    copy = tmp_path / "letters-copy.json"
    shutil.copy(letters, copy)
    letters.unlink()
    letters.symlink_to(copy)  # the same bytes, listed with the same hash: only the link is wrong
    with pytest.raises(IndexLoadError, match="is a link"):
        _load(built)


def test_an_unlisted_fifo_among_the_files_is_never_opened(built: Path) -> None:
    meta = json.loads(_file(built, "lexical/segments.json").read_text(encoding="utf-8"))
    vocabulary = _file(built, f"lexical/{meta['segments'][0]['name']}.vocab.json")
    vocabulary.unlink()
    os.mkfifo(vocabulary)
    _relist(built, f"lexical/{vocabulary.name}")  # dropped from the list: no hash is checked
    outcome: list[BaseException | Index] = []
    reader = threading.Thread(target=lambda: outcome.append(_catch(lambda: _load(built))), daemon=True)
    reader.start()
    reader.join(timeout=60)
    if reader.is_alive():  # the old code waits in open() for a writer: give it one, so the thread ends
        with open(vocabulary, "wb"):
            pass
        reader.join(timeout=30)
        pytest.fail("loading the index opened a FIFO in it")
    assert isinstance(outcome[0], IndexLoadError) and "not listed in the manifest" in str(outcome[0])


def _catch(load: Callable[[], Index]) -> BaseException | Index:
    try:
        return load()
    except BaseException as exc:  # the thread hands its outcome back
        return exc


# ---- sizes read from the files ------------------------------------------------------------------------------

def test_a_faiss_header_claiming_more_vectors_than_its_file_holds_is_refused(built: Path) -> None:
    dense = _file(built, "dense/dense.faiss")
    data = bytearray(dense.read_bytes())
    data[74:82] = (750_000_000).to_bytes(8, "little")  # the flat codes' length: 3 GB of floats
    dense.write_bytes(bytes(data))
    _relist(built, "dense/dense.faiss")
    with pytest.raises(IndexLoadError, match=r"claims 750,000,000 floats"):
        _load(built)


def test_a_numpy_header_claiming_more_rows_than_its_file_holds_is_refused(built: Path) -> None:
    chunks = _file(built, "chunks.npy")
    real = np.load(chunks, allow_pickle=False)
    header = "{'descr': '<i8', 'fortran_order': False, 'shape': (1000000000, 3), }".ljust(117) + "\n"
    chunks.write_bytes(b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little") + header.encode() + real.tobytes())
    _relist(built, "chunks.npy")
    with pytest.raises(IndexLoadError, match=r"its header claims 24,000,000,000 bytes"):
        _load(built)


def test_a_json_file_over_the_configured_bound_is_refused(built: Path) -> None:
    size = max(entry["bytes"] for name, entry in _manifest(built)["files"].items() if name.endswith(".json"))
    with pytest.raises(IndexLoadError, match=r"the limit is .* \(Config.max_index_json_bytes\)"):
        _load(built, config=Config(max_index_json_bytes=size - 1))
    assert _load(built, config=Config(max_index_json_bytes=size + 10_000)).letters


def test_a_view_in_the_place_of_a_letter_table_is_refused(built: Path) -> None:
    name = json.loads(_file(built, "letters.json").read_text(encoding="utf-8"))["segments"][0]
    facts = _file(built, f"{name}.facts.sqlite")
    connection = sqlite3.connect(facts)
    connection.executescript("ALTER TABLE facts RENAME TO stored; CREATE VIEW facts AS SELECT * FROM stored;")
    connection.commit()
    connection.close()
    _relist(built, f"{name}.facts.sqlite")
    with pytest.raises(IndexLoadError, match=r"holds .*view facts"):
        _load(built)


@pytest.mark.parametrize("forged", ["other shape", "objects"])
def test_forged_letter_signatures_are_refused_before_an_update_changes_anything(forged: str, built: Path,
                                                                                  tmp_path: Path) -> None:
    name = json.loads(_file(built, "letters.json").read_text(encoding="utf-8"))["segments"][0]
    sketch = _file(built, f"{name}.sketch.npy")
    rows = np.load(sketch, allow_pickle=False).shape[0]
    if forged == "objects":  # a pickle inside would run code when loaded
        np.save(sketch, np.array([{"a": 1}] * rows, dtype=object), allow_pickle=True)
    else:
        np.save(sketch, np.zeros((rows, 64), dtype=np.uint32))
    _relist(built, f"{name}.sketch.npy")
    index = _load(built)
    letters = {letter.letter_id for letter in index.letters}
    new = tmp_path / "new.txt"
    new.write_text("关于市政协第9号提案的答复\n您提出的提案收悉，现答复如下：\n一、我局将加强社区养老服务。\n",
                   encoding="utf-8")
    with pytest.raises(ValueError, match="holds Python objects" if forged == "objects" else "not one uint32 signature"):
        index.add([new])
    assert {letter.letter_id for letter in _load(built).letters} == letters


# ---- the encoder ---------------------------------------------------------------------------------------------

def _index_naming(model: str, tmp_path: Path, analyzer: Analyzer) -> Path:
    directory = tmp_path / "shared-index"
    Index.build([LETTER_000], directory, encoder=FakeEncoder(f"st:{model}"), analyzer=analyzer)
    return directory


def test_a_model_folder_inside_the_index_is_never_loaded(tmp_path: Path, analyzer: Analyzer,
                                                         monkeypatch: pytest.MonkeyPatch,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    loaded: list[str] = []
    monkeypatch.setattr("rag.embed.load_encoder", lambda model: loaded.append(model) or FakeEncoder(f"st:{model}"))
    model = tmp_path / "shared-index" / "model"
    directory = _index_naming(str(model), tmp_path, analyzer)
    model.mkdir()
    (model / "modules.json").write_text('[{"type": "evil.Module", "path": ""}]', encoding="utf-8")
    assert main(["search", QUESTION, "--index", str(directory)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "give --model" in err and "never taken from an index" in err
    assert main(["search", QUESTION, "--index", str(directory), "--model", str(model)]) == 2
    assert "a model shipped in an index is never loaded" in capsys.readouterr().err
    args = parse_args(["--index", str(directory)])
    with pytest.raises(IndexLoadError, match="give --model"):  # the app refuses at start
        open_index(args, app_config(args))
    index = Index.load(directory, analyzer=analyzer)  # the API without a model: refused when one is needed
    with pytest.raises(IndexLoadError, match="give --model"):
        index.search(QUESTION)
    assert loaded == []


def test_a_hub_name_in_the_manifest_does_not_make_a_search_go_online(tmp_path: Path, analyzer: Analyzer,
                                                                     monkeypatch: pytest.MonkeyPatch,
                                                                     capsys: pytest.CaptureFixture[str]) -> None:
    loaded: list[str] = []
    monkeypatch.setattr("rag.embed.load_encoder", lambda model: loaded.append(model) or FakeEncoder(f"st:{model}"))
    directory = _index_naming("attacker/tracking-model", tmp_path, analyzer)
    assert main(["search", QUESTION, "--index", str(directory)]) == 2
    assert "--model attacker/tracking-model" in capsys.readouterr().err
    assert loaded == []
    assert main(["letters", "--index", str(directory)]) == 0  # listing needs no model
    assert main(["search", QUESTION, "--index", str(directory), "--model", "attacker/tracking-model"]) == 0
    assert loaded == ["attacker/tracking-model"]  # the user's own choice


def test_the_st_extra_requires_a_sentence_transformers_that_runs_no_model_code() -> None:
    import tomllib

    from packaging.requirements import Requirement
    from packaging.version import Version

    project = tomllib.loads((Path(__file__).resolve().parents[1] / "pyproject.toml").read_text(encoding="utf-8"))
    (requirement,) = [Requirement(r) for r in project["project"]["optional-dependencies"]["st"]]
    assert requirement.name == "sentence-transformers"
    assert not any(requirement.specifier.contains(Version(v)) for v in ("3.0", "4.1.0", "5.7.0"))
    assert requirement.specifier.contains(Version("6.3.0"))
