"""The Milvus store on Milvus Lite: killed builds leave the previous results, the CLI end to end, credentials."""

from __future__ import annotations

import json
import os
import select
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from rag import Config, Index
from rag.cli import main
from rag.stores.base import Place, StoreUnavailable
from rag.stores.dense_milvus import MilvusDenseStore

from .conftest import ROOT
from .milvus_helpers import raw_rows, release_all_lite

QUESTIONS = ("what subsidies exist for Class II device registration", "临床试验费用能不能用创新券", "养老服务补贴标准")


@pytest.fixture(autouse=True)
def _release_lite() -> Iterator[None]:
    yield
    release_all_lite()


def results(index: Index) -> list[list[tuple[str, float]]]:
    return [[(h.chunk_id, round(h.score, 4)) for h in index.search(q, k=8)] for q in QUESTIONS]


def committed_generation(index_dir: Path) -> int:
    manifest = json.loads((index_dir / "manifest.json").read_text(encoding="utf-8"))
    return int(manifest["stores"]["dense"]["generation"])


# The child updates the index and stops for good at the named stage; the test kills it there.
_KILLED_BUILD = """
import sys, time
from rag import Analyzer, Config, Index
from rag.stores.dense_milvus import MilvusDenseStore
from tests.conftest import FakeEncoder

index_dir, letters, stage = sys.argv[1:4]
encoder = FakeEncoder()

def stall(stage):
    print(stage, flush=True)
    time.sleep(600)

if stage == "embedding":
    encoder.encode_passages = lambda texts, batch_size=64: stall(stage)
else:
    add = MilvusDenseStore.add
    def add_then_stall(self, ids, vectors):  # "inserting": half the rows written; "inserted": all, not committed
        upto = len(ids) // 2 if stage == "inserting" else len(ids)
        add(self, ids[:upto], vectors[:upto])
        stall(stage)
    MilvusDenseStore.add = add_then_stall
Index.build([letters], index_dir, config=Config(dense="milvus"), encoder=encoder, analyzer=Analyzer())
"""


def kill_build_at(stage: str, index_dir: Path, letters: Path) -> None:
    """Run an update of ``index_dir`` from ``letters`` in another process and SIGKILL it at ``stage``."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1"}
    child = subprocess.Popen([sys.executable, "-c", _KILLED_BUILD, str(index_dir), str(letters), stage],
                             cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        ready, _, _ = select.select([child.stdout], [], [], 180)
        line = child.stdout.readline().strip() if ready and child.stdout else ""
        assert line == stage, f"the build never reached {stage}: {child.stderr.read() if child.stderr else ''}"
        child.send_signal(signal.SIGKILL)
        assert child.wait(timeout=60) == -signal.SIGKILL
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()


@pytest.mark.parametrize("stage", ["embedding", "inserting", "inserted"])
def test_a_build_killed_midway_leaves_the_previous_results_and_the_next_build_cleans_up(
        stage: str, letters_dir: Path, shared_letters: Path, tmp_path: Path, fake_encoder, analyzer):
    index_dir = tmp_path / "index"
    before = Index.build([letters_dir], index_dir, config=Config(dense="milvus"), encoder=fake_encoder,
                         analyzer=analyzer)
    expected, generation = results(before), committed_generation(index_dir)
    changed = letters_dir / "004_dce9e1310b5c7813.txt"  # re-embedded: its old rows are retired, new ones added
    changed.write_text(changed.read_text(encoding="utf-8") + "\n此件公开发布。\n", encoding="utf-8")
    others = sorted(shared_letters.glob("x0*.txt"))
    for path in others[:4]:
        shutil.copy(path, letters_dir / path.name)
    release_all_lite()  # Milvus Lite serves one process at a time: let the child open the file

    kill_build_at(stage, index_dir, letters_dir)
    for path in others[:4]:  # the next build adds less: rows the killed one left must go, not be overwritten
        (letters_dir / path.name).unlink()

    left = raw_rows(index_dir)
    if stage != "embedding":  # the kill hit the window: unsaved rows are in the collection (retirements
        # come after the last batch of rows, so that a letter that fails to embed keeps its indexed version)
        assert any(r["born"] > generation for r in left) and all(r["retired"] == 0 for r in left)
    else:
        assert all(r["born"] <= generation and r["retired"] == 0 for r in left)
    reloaded = Index.load(index_dir, encoder=fake_encoder, analyzer=analyzer)  # counts checked against the manifest
    assert results(reloaded) == expected and committed_generation(index_dir) == generation
    assert sorted(lt.letter_id for lt in reloaded.letters) == sorted(lt.letter_id for lt in before.letters)

    after = Index.build([letters_dir], index_dir, config=Config(dense="milvus"), encoder=fake_encoder,
                        analyzer=analyzer)
    fresh = Index.build([letters_dir], None, encoder=fake_encoder, analyzer=analyzer)
    assert results(after) == results(fresh) and after.report.updated == ("004_dce9e1310b5c7813",)
    now = committed_generation(index_dir)
    rows = raw_rows(index_dir)
    assert all(r["born"] <= now for r in rows)  # the killed build's rows are gone
    assert {r["retired"] for r in rows} <= {0, now}  # only this build's retirements remain (for older readers)
    assert sum(r["retired"] == 0 for r in rows) == len(fresh._stores.dense)


def test_a_committed_store_is_read_only_and_a_copy_is_independent(tmp_path: Path):
    import numpy as np

    from rag.stores.base import as_ids

    store = MilvusDenseStore.create(4, Place(directory=tmp_path))
    store.add(as_ids([1, 2]), np.eye(4, dtype=np.float32)[:2])
    (tmp_path / "saved").mkdir()
    store.save(tmp_path / "saved")
    with pytest.raises(RuntimeError, match="read-only"):
        store.add(as_ids([3]), np.eye(4, dtype=np.float32)[2:3])
    view = store.copy()
    view.remove(as_ids([1]))
    view.add(as_ids([3]), np.eye(4, dtype=np.float32)[2:3])
    assert view.ids().tolist() == [2, 3] and store.ids().tolist() == [1, 2]
    assert view.generation == store.generation + 1
    loaded = MilvusDenseStore.load(tmp_path / "saved", 4)  # what a reader of the manifest's generation sees
    assert loaded.ids().tolist() == [1, 2] and len(loaded) == 2


def rounded(value: object) -> object:
    """JSON with floats to 5 places: Milvus Lite's inner products may differ from FAISS's in the last float32 bit."""
    if isinstance(value, float):
        return round(value, 5)
    if isinstance(value, list):
        return [rounded(v) for v in value]
    if isinstance(value, dict):
        return {k: rounded(v) for k, v in value.items()}
    return value


def cli_json(argv: list[str], capsys: pytest.CaptureFixture[str]) -> object:
    assert main(argv) == 0
    return rounded(json.loads(capsys.readouterr().out.strip().splitlines()[-1]))


def test_cli_store_milvus_end_to_end_matches_the_local_store(letters_dir: Path, tmp_path: Path,
                                                             capsys: pytest.CaptureFixture[str]):
    local, milvus = str(tmp_path / "local"), str(tmp_path / "milvus")
    cli_json(["build", str(letters_dir), "--index", local, "--json", "--quiet"], capsys)
    report = cli_json(["build", str(letters_dir), "--index", milvus, "--store", "milvus", "--json", "--quiet"],
                      capsys)
    assert isinstance(report, dict) and report["letters"] == 2 and report["chunks"] > 30
    assert (tmp_path / "milvus" / "milvus.db").is_dir()
    manifest = json.loads((tmp_path / "milvus" / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["config"]["dense"] == "milvus" and manifest["config"]["milvus_uri"] is None
    assert manifest["stores"]["dense"]["collection"] == "policy_rag"
    for question in QUESTIONS:
        hits = [cli_json(["search", question, "--index", where, "--k", "5", "--json"], capsys) for where in
                (local, milvus)]
        assert hits[1] == hits[0] and hits[0]
    filtered = ["search", QUESTIONS[0], "--k", "5", "--json", "--agency", "卫生"]
    assert cli_json([*filtered, "--index", milvus], capsys) == cli_json([*filtered, "--index", local], capsys)
    assert cli_json(["letters", "--index", milvus, "--json"], capsys) == cli_json(["letters", "--index", local,
                                                                                    "--json"], capsys)
    asked = [cli_json(["ask", QUESTIONS[1], "--index", where, "--json"], capsys) for where in (local, milvus)]
    assert asked[1] == asked[0]
    for where in (local, milvus):
        assert main(["remove", "000_3530caffdd2f932b", "--index", where]) == 0
    capsys.readouterr()
    hits = [cli_json(["search", QUESTIONS[1], "--index", where, "--k", "5", "--json"], capsys) for where in
            (local, milvus)]
    assert hits[1] == hits[0] and {h["letter_id"] for h in hits[1]} == {"004_dce9e1310b5c7813"}  # type: ignore


def test_credentials_are_never_written(letters_dir: Path, tmp_path: Path, fake_encoder, analyzer,
                                       capsys: pytest.CaptureFixture[str]):
    secret = "root:Milvus-s3cret-token"
    index = Index.build([letters_dir], tmp_path / "index", config=Config(dense="milvus"), encoder=fake_encoder,
                        analyzer=analyzer, store_token=secret)
    index.remove(["000_3530caffdd2f932b"])
    assert "s3cret" not in repr(index._stores.dense.__dict__) + repr(Place(token=secret))
    for path in (tmp_path / "index").rglob("*"):
        if path.is_file() and not path.is_relative_to(tmp_path / "index" / "milvus.db"):
            assert b"s3cret" not in path.read_bytes(), path
    assert main(["build", str(letters_dir), "--index", str(tmp_path / "server"), "--store", "milvus",
                 "--milvus-uri", "http://root:pw@localhost:19530"]) == 2
    assert "must not hold a password" in capsys.readouterr().err
    assert not (tmp_path / "server").exists()
    with pytest.raises(StoreUnavailable, match="must not hold a password"):
        MilvusDenseStore.create(4, Place(uri="http://root:pw@localhost:19530"))


def test_a_missing_extra_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setitem(sys.modules, "pymilvus", None)
    with pytest.raises(StoreUnavailable, match=r"needs the \[milvus\] extra: pip install 'policy-rag\[milvus\]'"):
        MilvusDenseStore.create(4, Place(directory=tmp_path))


def test_a_lite_file_open_in_another_process_is_a_clear_error(letters_dir: Path, tmp_path: Path, fake_encoder,
                                                             analyzer):
    Index.build([letters_dir], tmp_path / "index", config=Config(dense="milvus"), encoder=fake_encoder,
                analyzer=analyzer)
    release_all_lite()
    holder = subprocess.Popen([sys.executable, "-c", "import sys, time; from milvus_lite import MilvusLite; "
                               "db = MilvusLite(sys.argv[1]); print('open', flush=True); time.sleep(600)",
                               str(tmp_path / "index" / "milvus.db")], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "open"
        with pytest.raises(StoreUnavailable, match="one process at a time"):
            Index.load(tmp_path / "index", encoder=fake_encoder, analyzer=analyzer)
    finally:
        holder.kill()
        holder.wait()


def test_a_rebuild_into_the_same_collection_hides_then_drops_the_old_rows(letters_dir: Path, tmp_path: Path,
                                                                          fake_encoder, analyzer):
    index_dir, config = tmp_path / "index", Config(dense="milvus")
    Index.build([letters_dir], index_dir, config=config, encoder=fake_encoder, analyzer=analyzer)
    old = {r["pk"] for r in raw_rows(index_dir)}
    only = letters_dir / "004_dce9e1310b5c7813.txt"
    rebuilt = Index.build([only], index_dir, config=config, encoder=fake_encoder, analyzer=analyzer, rebuild=True)
    fresh = Index.build([only], None, encoder=fake_encoder, analyzer=analyzer)
    assert results(rebuilt) == results(fresh) and old <= {r["pk"] for r in raw_rows(index_dir)}  # hidden, kept
    reloaded = Index.load(index_dir, encoder=fake_encoder, analyzer=analyzer)
    assert results(reloaded) == results(fresh)
    reloaded.remove(["004_dce9e1310b5c7813"])  # the next write drops the rows from before the rebuild
    assert not old & {r["pk"] for r in raw_rows(index_dir)} and reloaded.search(QUESTIONS[0], k=5) == []


def test_a_lite_store_needs_an_index_folder(fake_encoder, analyzer, letters_dir: Path):
    with pytest.raises(StoreUnavailable, match="a Milvus Lite store lives in the index folder"):
        Index.build([letters_dir], None, config=Config(dense="milvus"), encoder=fake_encoder, analyzer=analyzer)


def test_the_web_app_opens_a_milvus_index(letters_dir: Path, tmp_path: Path, fake_encoder, analyzer):
    from rag.ui.app import app_config, open_index, parse_args

    Index.build([letters_dir], tmp_path / "index", config=Config(dense="milvus"), encoder=fake_encoder,
                analyzer=analyzer)
    expected = results(Index.load(tmp_path / "index", encoder=fake_encoder, analyzer=analyzer))
    release_all_lite()
    args = parse_args(["--index", str(tmp_path / "index")])
    opened = open_index(args, app_config(args))
    assert opened.config.dense == "milvus" and len(opened) == len(Index.load(tmp_path / "index"))
    opened.encoder, opened.analyzer = fake_encoder, analyzer  # the test's encoder instead of the bundled model
    assert results(opened) == expected
