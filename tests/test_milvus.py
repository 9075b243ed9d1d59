"""The Milvus store on Milvus Lite (a file), Lite's gRPC server and the Milvus 2.3.5 standalone server: killed builds
leave the previous results, the CLI end to end, credentials, errors, and a server's own features."""

from __future__ import annotations

import functools
import gc
import json
import os
import select
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from rag import Config, Filters, Index, IndexLoadError
from rag.cli import main
from rag.stores.base import Place, StoreUnavailable
from rag.stores.dense_milvus import MilvusDenseStore

from .conftest import ROOT, STORES, kill_when
from .milvus_helpers import raw_rows, release_all_lite
from .milvus_servers import MilvusTarget, lite_server, server_client, standalone_server

QUESTIONS = ("what subsidies exist for Class II device registration", "临床试验费用能不能用创新券", "养老服务补贴标准")


@pytest.fixture(autouse=True)
def _release_lite() -> Iterator[None]:
    yield
    release_all_lite()


# Milvus Lite in the index folder, Lite's gRPC server, and the 2.3.5 standalone server (marked: ~10 s to start,
# one per session, in a loopback-only network namespace; CI runs it)
TARGETS = ["lite-file", "lite-server", pytest.param("server-2.3.5", marks=pytest.mark.milvus_server)]
SERVED = TARGETS[1:]


@pytest.fixture(scope="session")
def lite_served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MilvusTarget]:
    yield from lite_server(tmp_path_factory.mktemp("lite-server") / "data")


@pytest.fixture(scope="session")
def standalone(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MilvusTarget]:
    yield from standalone_server(tmp_path_factory.mktemp("milvus-2.3.5") / "data")


class Used:
    """A test's Milvus: where (a target), in which collection (its own), and how to build, load and look inside."""

    def __init__(self, target: MilvusTarget) -> None:
        self.target = target
        self.config = Config(dense="milvus", milvus_uri=target.uri, milvus_collection=target.collection())

    def build(self, paths: list[Path], directory: Path | None, **kwargs: object) -> Index:
        kwargs.setdefault("config", self.config)
        return Index.build(paths, directory, store_token=self.target.token, **kwargs)  # type: ignore[arg-type]

    def load(self, directory: Path, **kwargs: object) -> Index:
        return Index.load(directory, store_token=self.target.token, milvus_uri=self.target.uri,
                          **kwargs)  # type: ignore[arg-type]

    def place(self, directory: Path | None) -> Place:
        return Place(directory=directory, uri=self.target.uri, collection=self.config.milvus_collection,
                     token=self.target.token)

    def rows(self, index_dir: Path) -> list[dict[str, object]]:
        """Every row physically in the collection, whatever generation it belongs to."""
        if self.target.uri is None:
            return raw_rows(index_dir, self.config.milvus_collection)
        client = server_client(self.target)
        return list(client.query(self.config.milvus_collection, filter="pk >= 0",
                                 output_fields=["pk", "chunk", "born", "retired"], consistency_level="Strong"))

    def flags(self) -> list[str]:
        """The CLI flags that open this store (its token comes from MILVUS_TOKEN, set by the fixture)."""
        uri = ["--milvus-uri", self.target.uri] if self.target.uri else []
        return [*uri, "--collection", self.config.milvus_collection]


def use(name: str, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Used:
    """The Milvus ``name`` (a TARGETS entry), its servers started once per session."""
    target = MilvusTarget(name) if name == "lite-file" else request.getfixturevalue(
        "lite_served" if name == "lite-server" else "standalone")
    if target.token:
        monkeypatch.setenv("MILVUS_TOKEN", target.token)
    return Used(target)


@pytest.fixture(params=TARGETS)
def used(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Used:
    """Each test on each Milvus (a parametrised fixture): Lite's file, Lite's server, the 2.3.5 server."""
    return use(request.param, request, monkeypatch)


@pytest.fixture(params=SERVED)
def served(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Used:
    """Each Milvus reached over the network: Lite's server, the 2.3.5 server."""
    return use(request.param, request, monkeypatch)


def results(index: Index) -> list[list[tuple[str, float]]]:
    return [[(h.chunk_id, round(h.score, 4)) for h in index.search(q, k=8)] for q in QUESTIONS]


def committed_generation(index_dir: Path) -> int:
    manifest = json.loads((index_dir / "manifest.json").read_text(encoding="utf-8"))
    return int(manifest["stores"]["dense"]["generation"])


# The child updates the index and stops for good at the named stage; the test kills it there.
_KILLED_BUILD = """
import json, os, sys, time
from rag import Analyzer, Config, Index
from rag.stores.dense_flat import FlatDenseStore
from rag.stores.dense_milvus import MilvusDenseStore
from tests.conftest import FakeEncoder

index_dir, letters, stage, settings = sys.argv[1:5]
config = Config.from_dict(json.loads(settings))
encoder = FakeEncoder()
Store = MilvusDenseStore if config.dense == "milvus" else FlatDenseStore

def stall(stage):
    print(stage, flush=True)
    time.sleep(600)

if stage == "embedding":
    encoder.encode_passages = lambda texts, batch_size=64: stall(stage)
else:
    add = Store.add
    def add_then_stall(self, ids, vectors, *facts):  # "inserting": half the rows written; "inserted": all, uncommitted
        upto = len(ids) // 2 if stage == "inserting" else len(ids)
        add(self, ids[:upto], vectors[:upto], *(f[:upto] for f in facts))
        stall(stage)
    Store.add = add_then_stall
Index.build([letters], index_dir, config=config, encoder=encoder, analyzer=Analyzer(),
            store_token=os.environ.get("MILVUS_TOKEN"))
"""


def kill_build_at(stage: str, index_dir: Path, letters: Path, config: Config) -> None:
    """Run an update of ``index_dir`` from ``letters`` in another process and SIGKILL it at ``stage``."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1"}
    child = subprocess.Popen([sys.executable, "-c", _KILLED_BUILD, str(index_dir), str(letters), stage,
                              json.dumps(config.to_dict())],
                             cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def reached() -> None:
        ready, _, _ = select.select([child.stdout], [], [], 180)
        line = child.stdout.readline().strip() if ready and child.stdout else ""
        assert line == stage, f"the build never reached {stage}: {child.stderr.read() if child.stderr else ''}"

    kill_when(child, reached)


@pytest.mark.parametrize("store", ["local", *TARGETS])
@pytest.mark.parametrize("stage", ["embedding", "inserting", "inserted"])
def test_a_build_killed_midway_leaves_the_previous_results_and_the_next_build_cleans_up(
        stage: str, store: str, letters_dir: Path, shared_letters: Path, tmp_path: Path, fake_encoder, analyzer,
        request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch):
    milvus = None if store == "local" else use(store, request, monkeypatch)
    index_dir, config = tmp_path / "index", milvus.config if milvus else STORES["local"]
    build = milvus.build if milvus else functools.partial(Index.build, config=config)
    load = milvus.load if milvus else Index.load
    before = build([letters_dir], index_dir, encoder=fake_encoder, analyzer=analyzer)
    expected, manifest = results(before), (index_dir / "manifest.json").read_bytes()
    changed = letters_dir / "004_dce9e1310b5c7813.txt"  # re-embedded: its old rows are retired, new ones added
    changed.write_text(changed.read_text(encoding="utf-8") + "\n此件公开发布。\n", encoding="utf-8")
    others = sorted(shared_letters.glob("x0*.txt"))
    for path in others[:4]:
        shutil.copy(path, letters_dir / path.name)
    release_all_lite()  # Milvus Lite serves one process at a time: let the child open the file

    kill_build_at(stage, index_dir, letters_dir, config)
    for path in others[:4]:  # the next build adds less: rows the killed one left must go, not be overwritten
        (letters_dir / path.name).unlink()

    if milvus:
        generation, left = committed_generation(index_dir), milvus.rows(index_dir)
        if stage != "embedding":  # the kill hit the window: unsaved rows are in the collection (retirements
            # come after the last batch of rows, so that a letter that fails to embed keeps its indexed version)
            assert any(r["born"] > generation for r in left) and all(r["retired"] == 0 for r in left)
        else:
            assert all(r["born"] <= generation and r["retired"] == 0 for r in left)
    reloaded = load(index_dir, encoder=fake_encoder, analyzer=analyzer)  # counts checked against the manifest
    assert results(reloaded) == expected and (index_dir / "manifest.json").read_bytes() == manifest
    assert sorted(lt.letter_id for lt in reloaded.letters) == sorted(lt.letter_id for lt in before.letters)
    del before, reloaded  # readers of the old generation: it is kept while one holds it
    gc.collect()

    after = build([letters_dir], index_dir, encoder=fake_encoder, analyzer=analyzer)
    fresh = Index.build([letters_dir], None, encoder=fake_encoder, analyzer=analyzer)
    assert results(after) == results(fresh) and after.report.updated == ("004_dce9e1310b5c7813",)
    assert [p.name for p in index_dir.iterdir() if p.name.startswith((".gen", "gen-"))] == \
        [json.loads((index_dir / "manifest.json").read_text(encoding="utf-8"))["generation"]]
    if milvus:
        now = committed_generation(index_dir)
        rows = milvus.rows(index_dir)
        assert all(r["born"] <= now for r in rows)  # the killed build's rows are gone
        assert {r["retired"] for r in rows} <= {0, now}  # only this build's retirements remain (for older readers)
        assert sum(r["retired"] == 0 for r in rows) == len(fresh._stores.dense)


def test_a_committed_store_is_read_only_and_a_copy_is_independent(tmp_path: Path, used: Used):
    import numpy as np

    from rag.stores.base import as_ids

    store = MilvusDenseStore.create(4, used.place(tmp_path))
    store.add(as_ids([1, 2]), np.eye(4, dtype=np.float32)[:2])
    saved = tmp_path / "gen-1" / "dense"  # where an index keeps it: the Lite file two folders up
    saved.mkdir(parents=True)
    store.save(saved)
    with pytest.raises(RuntimeError, match="read-only"):
        store.add(as_ids([3]), np.eye(4, dtype=np.float32)[2:3])
    view = store.copy()
    view.remove(as_ids([1]))
    view.add(as_ids([3]), np.eye(4, dtype=np.float32)[2:3])
    assert view.ids().tolist() == [2, 3] and store.ids().tolist() == [1, 2]
    assert view.generation == store.generation + 1
    loaded = MilvusDenseStore.load(saved, 4, used.place(tmp_path))  # what a reader of the manifest's generation sees
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


def test_cli_store_milvus_end_to_end_matches_the_local_store(letters_dir: Path, tmp_path: Path, used: Used,
                                                             capsys: pytest.CaptureFixture[str]):
    local, milvus = str(tmp_path / "local"), str(tmp_path / "milvus")
    server = ["--milvus-uri", used.target.uri] if used.target.uri else []  # how every command opens the index
    cli_json(["build", str(letters_dir), "--index", local, "--json", "--quiet"], capsys)
    report = cli_json(["build", str(letters_dir), "--index", milvus, "--store", "milvus", *used.flags(), "--json",
                       "--quiet"], capsys)
    assert isinstance(report, dict) and report["letters"] == 2 and report["chunks"] > 30
    assert (tmp_path / "milvus" / "milvus.db").is_dir() == (used.target.uri is None)
    manifest = json.loads((tmp_path / "milvus" / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["config"]["dense"] == "milvus" and manifest["config"]["milvus_uri"] == used.target.uri
    assert manifest["stores"]["dense"]["collection"] == used.config.milvus_collection
    assert manifest["stores"]["dense"]["index"] == ("flat" if "lite" in used.target.name else "ivf_flat")
    for question in QUESTIONS:
        hits = [cli_json(["search", question, "--index", where, "--k", "5", "--json", *flags], capsys)
                for where, flags in ((local, []), (milvus, server))]
        assert hits[1] == hits[0] and hits[0]
    filtered = ["search", QUESTIONS[0], "--k", "5", "--json", "--agency", "卫生"]
    assert cli_json([*filtered, "--index", milvus, *server], capsys) == cli_json([*filtered, "--index", local],
                                                                                 capsys)
    assert cli_json(["letters", "--index", milvus, "--json", *server], capsys) == cli_json(
        ["letters", "--index", local, "--json"], capsys)
    asked = [cli_json(["ask", QUESTIONS[1], "--index", where, "--json", *flags], capsys)
             for where, flags in ((local, []), (milvus, server))]
    assert asked[1] == asked[0]
    for where, flags in ((local, []), (milvus, server)):
        assert main(["remove", "000_3530caffdd2f932b", "--index", where, *flags]) == 0
    capsys.readouterr()
    hits = [cli_json(["search", QUESTIONS[1], "--index", where, "--k", "5", "--json", *flags], capsys)
            for where, flags in ((local, []), (milvus, server))]
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
                                                                          fake_encoder, analyzer, used: Used):
    index_dir = tmp_path / "index"
    used.build([letters_dir], index_dir, encoder=fake_encoder, analyzer=analyzer)
    old = {r["pk"] for r in used.rows(index_dir)}
    only = letters_dir / "004_dce9e1310b5c7813.txt"
    rebuilt = used.build([only], index_dir, encoder=fake_encoder, analyzer=analyzer, rebuild=True)
    fresh = Index.build([only], None, encoder=fake_encoder, analyzer=analyzer)
    assert results(rebuilt) == results(fresh) and old <= {r["pk"] for r in used.rows(index_dir)}  # hidden, kept
    reloaded = used.load(index_dir, encoder=fake_encoder, analyzer=analyzer)
    assert results(reloaded) == results(fresh)
    reloaded.remove(["004_dce9e1310b5c7813"])  # the next write drops the rows from before the rebuild
    assert not old & {r["pk"] for r in used.rows(index_dir)} and reloaded.search(QUESTIONS[0], k=5) == []


def test_a_collection_made_before_rows_kept_their_region_is_refused_then_rebuilt(
        letters_dir: Path, tmp_path: Path, fake_encoder, analyzer, monkeypatch: pytest.MonkeyPatch):
    from rag.stores import dense_milvus, milvus_rows

    index_dir = tmp_path / "index"
    with monkeypatch.context() as earlier:  # the schema and rows of a policy-rag before the region fields
        earlier.setattr(milvus_rows, "REGION_FIELDS", ())
        earlier.setattr(dense_milvus, "ROW_FIELDS", tuple(f for f in milvus_rows.ROW_FIELDS
                                                         if f not in ("province", "city", "county")))
        Index.build([letters_dir], index_dir, config=Config(dense="milvus"), encoder=fake_encoder,
                    analyzer=analyzer)
    release_all_lite()
    with pytest.raises(IndexLoadError) as error:
        Index.load(index_dir, encoder=fake_encoder, analyzer=analyzer)
    assert "before its rows carried their letter's region (province, city, county)" in str(error.value)
    assert f"Rebuild: rag build {letters_dir} --index {index_dir} --model fake-bigrams --store milvus --rebuild" \
        in str(error.value)
    release_all_lite()
    Index.build([letters_dir], index_dir, config=Config(dense="milvus"), encoder=fake_encoder, analyzer=analyzer,
                rebuild=True)  # the command the message names: the index's own collection is made again
    release_all_lite()
    index = Index.load(index_dir, encoder=fake_encoder, analyzer=analyzer)
    place = next(lt.region for lt in index.letters if lt.region.province)
    assert index.search(QUESTIONS[1], k=5, filters=Filters(region=place.province or ""))


def test_a_lite_store_needs_an_index_folder(fake_encoder, analyzer, letters_dir: Path):
    with pytest.raises(StoreUnavailable, match="a Milvus Lite store lives in the index folder"):
        Index.build([letters_dir], None, config=Config(dense="milvus"), encoder=fake_encoder, analyzer=analyzer)


def test_the_web_app_opens_a_milvus_index(letters_dir: Path, tmp_path: Path, analyzer):
    from rag.config import DEFAULT_MODEL
    from rag.ui.app import app_config, open_index, parse_args

    from .conftest import FakeEncoder

    fake_encoder = FakeEncoder(f"{DEFAULT_MODEL}@fake")  # the app's model (its --model) is the index's
    Index.build([letters_dir], tmp_path / "index", config=Config(dense="milvus"), encoder=fake_encoder,
                analyzer=analyzer)
    expected = results(Index.load(tmp_path / "index", encoder=fake_encoder, analyzer=analyzer))
    release_all_lite()
    args = parse_args(["--index", str(tmp_path / "index")])
    opened = open_index(args, app_config(args))
    assert opened.config.dense == "milvus" and len(opened) == len(Index.load(tmp_path / "index"))
    opened.encoder, opened.analyzer = fake_encoder, analyzer  # the test's encoder instead of the bundled model
    assert results(opened) == expected


HOSTILE = 'x" or chunk >= 0 or letter == "'  # would select every row if it reached the expression unescaped
FILTERS = {
    "letter": Filters(letters=("004_dce9e1310b5c7813",)),
    "two letters": Filters(letters=("000_3530caffdd2f932b", "004_dce9e1310b5c7813")),
    "quoted letter id": Filters(letters=('say "yes" \\ no',)),
    "agency": Filters(agency="卫生"),
    "agency none": Filters(agency="不存在的机构"),
    "date from": Filters(date_from="2021-07-01"),
    "date range": Filters(date_from="2021-01-01", date_to="2021-12-31"),
    "undated excluded": Filters(date_to="2030-12-31"),
    "all kinds": Filters(letters=("000_3530caffdd2f932b", 'say "yes" \\ no'), agency="慈溪", date_to="2021-06-30"),
    "region": Filters(region="宁波"),
    "region and date": Filters(region="河北省", date_from="2021-01-01"),
    "region none": Filters(region="湖南"),
    "hostile region": Filters(region=HOSTILE),
    "hostile letter": Filters(letters=(HOSTILE,)),
    "hostile agency": Filters(agency=HOSTILE),
}


@pytest.fixture()
def three_letters(letters_dir: Path) -> Path:
    """The sample letters and a copy of one under a file name with quotes and a backslash (its letter id)."""
    shutil.copy(letters_dir / "000_3530caffdd2f932b.txt", letters_dir / 'say "yes" \\ no.txt')
    text = (letters_dir / 'say "yes" \\ no.txt').read_text(encoding="utf-8")
    (letters_dir / 'say "yes" \\ no.txt').write_text(text.replace("2021年6月30日", "2022年1月5日") + "\n另附。\n",
                                                     encoding="utf-8")
    return letters_dir


@pytest.mark.parametrize("kind", list(FILTERS))
def test_filters_reach_milvus_as_expressions_and_give_the_local_hits(kind: str, three_letters: Path, tmp_path: Path,
                                                                      fake_encoder, analyzer, monkeypatch):
    local = Index.build([three_letters], tmp_path / "local", encoder=fake_encoder, analyzer=analyzer)
    milvus = Index.build([three_letters], tmp_path / "milvus", config=Config(dense="milvus"), encoder=fake_encoder,
                         analyzer=analyzer)
    assert 'say "yes" \\ no' in {lt.letter_id for lt in milvus.letters}
    expressions: list[str] = []
    search = MilvusDenseStore.search

    def recorded(self, query, k, allowed=None, where=None):
        assert allowed is None  # the filter is an expression over the rows' fields, not a list of chunk ids
        expressions.append(where)
        return search(self, query, k, allowed, where)

    monkeypatch.setattr(MilvusDenseStore, "search", recorded)
    filters = FILTERS[kind]
    for question in QUESTIONS:
        expected = [(h.chunk_id, round(h.score, 4)) for h in local.search(question, k=50, filters=filters)]
        found = [(h.chunk_id, round(h.score, 4)) for h in milvus.search(question, k=50, filters=filters)]
        assert found == expected
    if kind.startswith("hostile") or kind in ("agency none", "region none"):
        assert expected == [] and expressions == []  # no letter matches: nothing is even asked of Milvus
    else:
        wanted = {"letter": "letter in [", "agency": "agency in [", "date": "day > 0", "region": "province in ["}
        assert len(expressions) == len(QUESTIONS)
        assert all(text in e for e in expressions for key, text in wanted.items() if key in kind), expressions


def test_hostile_text_stays_inside_its_string_literal(tmp_path: Path, used: Used):
    import numpy as np

    from rag.parse import Region
    from rag.retrieve.filters import milvus_expression
    from rag.stores.base import as_ids
    from rag.stores.milvus_rows import RowFacts

    store = MilvusDenseStore.create(4, used.place(tmp_path)).copy()
    names = [HOSTILE, 'a"b', "a\\", "plain", "line\nbreak"]
    store.add(as_ids(range(len(names))), np.eye(4, dtype=np.float32)[[0, 1, 2, 3, 0]],
              [RowFacts(name, name, 0, region=Region(None, name)) for name in names])
    for name in names:
        for filters in (Filters(letters=(name,)), Filters(agency=name), Filters(region=name)):
            ids, _ = store.search(np.ones(4, np.float32) / 2, 10, where=milvus_expression(filters, names))
            assert ids.tolist() == [names.index(name)], (name, filters)


def test_a_second_index_on_the_same_collection_is_refused(letters_dir: Path, tmp_path: Path, fake_encoder, analyzer):
    first = tmp_path / "first"
    Index.build([letters_dir], first, config=Config(dense="milvus"), encoder=fake_encoder, analyzer=analyzer)
    release_all_lite()
    shutil.copytree(first / "milvus.db", tmp_path / "milvus.db")  # a second index folder over the same database
    second = tmp_path / "second"
    second.mkdir()
    (second / ".policy-rag-index").write_text("{}", encoding="utf-8")  # an index folder, of an unfinished build
    (second / "milvus.db").symlink_to(tmp_path / "milvus.db", target_is_directory=True)
    with pytest.raises(StoreUnavailable, match=r"belongs to another index .*give this index its own --collection"):
        Index.build([letters_dir], second, config=Config(dense="milvus"), encoder=fake_encoder, analyzer=analyzer)
    release_all_lite()
    other = Index.build([letters_dir], second, config=Config(dense="milvus", milvus_collection="second"),
                        encoder=fake_encoder, analyzer=analyzer)  # its own collection: fine
    assert len(other) > 30
    release_all_lite()
    again = Index.build([letters_dir], first, config=Config(dense="milvus"), encoder=fake_encoder, analyzer=analyzer,
                        rebuild=True)  # the same index, rebuilt: its own collection
    assert results(again) == results(Index.build([letters_dir], None, encoder=fake_encoder, analyzer=analyzer))


def test_rebuild_hints_name_the_milvus_store(letters_dir: Path, tmp_path: Path, fake_encoder, analyzer):
    from .conftest import FakeEncoder

    config = Config(dense="milvus", milvus_collection="letters_2021", milvus_lexical=True)
    Index.build([letters_dir], tmp_path / "index", config=config, encoder=fake_encoder, analyzer=analyzer)
    release_all_lite()
    with pytest.raises(IndexLoadError) as error:
        Index.load(tmp_path / "index", encoder=FakeEncoder("another-model"), analyzer=analyzer)
    assert (f"rag build {letters_dir} --index {tmp_path / 'index'} --model another-model --store milvus "
            "--collection letters_2021 --milvus-lexical --rebuild") in str(error.value)
    from rag.stores.disk import rebuild_hint

    hint = rebuild_hint(tmp_path, ["a"], None, Config(dense="milvus", milvus_uri="http://h:19530",
                                                       milvus_token_env="TOKEN_VAR", milvus_index="ivf_sq8").to_dict())
    assert hint == f"rag build a --index {tmp_path} --store milvus --milvus-uri http://h:19530 " \
                   "--milvus-token-env TOKEN_VAR --milvus-index ivf_sq8 --rebuild"
    assert "--store" not in rebuild_hint(tmp_path, ["a"], None, Config().to_dict())


@pytest.mark.parametrize("damage", ["rows missing", "foreign row"])
def test_rows_that_disagree_with_the_manifest_are_refused_without_a_scan(damage: str, letters_dir: Path,
                                                                        tmp_path: Path, fake_encoder, analyzer,
                                                                        monkeypatch):
    from .milvus_helpers import lite_client

    index_dir = tmp_path / "index"
    Index.build([letters_dir], index_dir, config=Config(dense="milvus"), encoder=fake_encoder, analyzer=analyzer)
    generation = committed_generation(index_dir)
    client = lite_client(index_dir)
    rows = client.query("policy_rag", filter="chunk >= 0", output_fields=["*"], limit=2)
    if damage == "rows missing":  # every row of two chunks gone, the same number of rows put back under chunk 0
        gone = client.query("policy_rag", filter=f"chunk in {[rows[0]['chunk'] + 1, rows[0]['chunk'] + 2]}",
                            output_fields=["pk"])
        client.delete("policy_rag", ids=[r["pk"] for r in gone])
        client.insert("policy_rag", [{**rows[0], "pk": (1 << 40) + n} for n in range(len(gone))])
    else:  # a row under a chunk id no chunk has, in place of one that had a sibling
        client.delete("policy_rag", ids=[rows[0]["pk"]])
        client.insert("policy_rag", [{**rows[0], "pk": 1 << 40, "chunk": 10**6, "born": generation}])
    release_all_lite()
    monkeypatch.setattr(MilvusDenseStore, "ids", lambda self: pytest.fail("the load check read every id"))
    with pytest.raises(IndexLoadError, match="dense store's ids differ"):
        Index.load(index_dir, encoder=fake_encoder, analyzer=analyzer)


def test_a_sharded_build_commits_once_all_shards_are_in(letters_dir: Path, shared_letters: Path, tmp_path: Path,
                                                        fake_encoder, analyzer, monkeypatch, used: Used):
    from rag.shards import sharded_build

    for path in sorted(shared_letters.glob("x0*.txt"))[:4]:
        shutil.copy(path, letters_dir / path.name)
    index_dir, config, token = tmp_path / "index", used.config, used.target.token
    fresh = Index.build([letters_dir], None, encoder=fake_encoder, analyzer=analyzer)

    def shard(part: str) -> None:
        sharded_build([letters_dir], index_dir, config=config, shard=part, encoder=fake_encoder, analyzer=analyzer,
                      store_token=token)

    def commit():
        return sharded_build([letters_dir], index_dir, config=config, commit=3, encoder=fake_encoder,
                             analyzer=analyzer, store_token=token)

    shard("0/3")
    shard("2/3")
    with pytest.raises(ValueError, match=r"shard\(s\) 1 of 3 have not finished"):
        commit()
    assert not (index_dir / "manifest.json").exists()
    add = MilvusDenseStore.add
    monkeypatch.setattr(MilvusDenseStore, "add", lambda self, ids, vectors, facts: add(
        self, ids[: len(ids) // 2], vectors[: len(ids) // 2], facts[: len(ids) // 2]) or pytest.fail("killed"))
    with pytest.raises(pytest.fail.Exception):  # shard 1 dies halfway through its inserts
        shard("1/3")
    monkeypatch.setattr(MilvusDenseStore, "add", add)
    with pytest.raises(ValueError, match=r"shard\(s\) 1 of 3"):
        commit()
    shard("1/3")  # run again: it first drops what its killed run inserted
    report = commit()
    assert report.letters == len(fresh.letters) and report.chunks == len(fresh)
    built = used.load(index_dir, encoder=fake_encoder, analyzer=analyzer)
    assert results(built) == results(fresh)
    assert {r["born"] for r in used.rows(index_dir)} == {1}

    changed = letters_dir / "004_dce9e1310b5c7813.txt"  # an update, sharded too: 004's old rows retired
    changed.write_text(changed.read_text(encoding="utf-8") + "\n此件公开发布。\n", encoding="utf-8")
    release_all_lite()
    shard("0/2")
    release_all_lite()
    before = results(used.load(index_dir, encoder=fake_encoder, analyzer=analyzer))
    assert before == results(fresh)  # the pending shard is invisible to readers
    shard("1/2")
    commit_two = sharded_build([letters_dir], index_dir, config=config, commit=2, encoder=fake_encoder,
                               analyzer=analyzer, store_token=token)
    assert commit_two.updated == ("004_dce9e1310b5c7813",)
    updated = used.load(index_dir, encoder=fake_encoder, analyzer=analyzer)
    assert results(updated) == results(Index.build([letters_dir], None, encoder=fake_encoder, analyzer=analyzer))


def test_store_speed_times_each_index_unfiltered_and_filtered(letters_dir: Path, tmp_path: Path, fake_encoder,
                                                              analyzer):
    from eval.store_speed import measure

    local = Index.build([letters_dir], tmp_path / "local", encoder=fake_encoder, analyzer=analyzer)
    milvus = Index.build([letters_dir], tmp_path / "milvus", config=Config(dense="milvus"), encoder=fake_encoder,
                         analyzer=analyzer)
    timed = measure([local, milvus], list(QUESTIONS))
    assert sorted(timed) == ["0", "0+date", "1", "1+date"]
    assert all(set(row) == {"total", "dense", "lexical"} and row["total"] >= row["dense"] > 0
               for row in timed.values())


def test_cli_sharded_build_and_commit(letters_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    index = str(tmp_path / "index")
    build = ["build", str(letters_dir), "--index", index, "--store", "milvus", "--quiet"]
    assert main([*build, "--shard", "0/2"]) == 0
    assert "shard 0/2: embedded" in capsys.readouterr().out
    assert main([*build, "--commit-shards", "2"]) == 2
    assert "shard(s) 1 of 2 have not finished" in capsys.readouterr().err
    assert main([*build, "--shard", "2/2"]) == 2 and "need 0 <= i < N" in capsys.readouterr().err
    assert main([*build, "--shard", "1/2", "--rebuild"]) == 2 and "sharded rebuild" in capsys.readouterr().err
    assert main([*build, "--shard", "1/2"]) == 0
    report = cli_json([*build, "--commit-shards", "2", "--json"], capsys)
    assert isinstance(report, dict) and report["added"] == ["000_3530caffdd2f932b", "004_dce9e1310b5c7813"]
    cli_json(["build", str(letters_dir), "--index", str(tmp_path / "local"), "--json", "--quiet"], capsys)
    search = ["search", QUESTIONS[1], "--k", "5", "--json", "--agency", "慈溪"]
    assert cli_json([*search, "--index", index], capsys) == cli_json([*search, "--index", str(tmp_path / "local")],
                                                                      capsys)


class _Recording:
    """A Milvus client that records the inserts (rows per call) and flushes made through it."""

    def __init__(self, client: object) -> None:
        self.client, self.calls = client, []

    def insert(self, collection: str, rows: list[dict[str, object]]) -> object:
        self.calls.append(("insert", len(rows)))
        return self.client.insert(collection, rows)  # type: ignore[attr-defined]

    def flush(self, collection: str) -> object:
        self.calls.append(("flush", 0))
        return self.client.flush(collection)  # type: ignore[attr-defined]

    def __getattr__(self, name: str) -> object:
        return getattr(self.client, name)


def test_rows_go_into_milvus_lite_in_bounded_batches_flushed_every_few_rows(tmp_path: Path, monkeypatch):
    import numpy as np

    from rag.stores import dense_milvus
    from rag.stores.base import as_ids

    monkeypatch.setattr(dense_milvus, "BATCH", 2)
    monkeypatch.setattr(dense_milvus, "LITE_FLUSH_ROWS", 5)
    view = MilvusDenseStore.create(4, Place(directory=tmp_path))
    recording = view._client = _Recording(view._client)
    view.add(as_ids([1, 1, 2, 3, 3]), np.eye(5, 4, dtype=np.float32))  # 5 rows unflushed: flushed, …
    view.add(as_ids([4, 5, 6, 7, 8, 9, 9]), np.eye(7, 4, dtype=np.float32))  # … again at 6 more, 1 left over
    assert recording.calls == [("insert", 2), ("insert", 2), ("insert", 1), ("flush", 0),
                               ("insert", 2), ("insert", 2), ("insert", 2), ("flush", 0), ("insert", 1)]
    assert len(view) == 12 and view.ids().tolist() == list(range(1, 10))


def test_counting_a_lite_store_does_not_read_its_rows_into_memory(tmp_path: Path):
    """Milvus Lite's count(*) over a filter makes every matching row, vector included, a Python dict (~9 times the
    vectors' float32 bytes): counted that way, a build of 10^5 chunks (564,467 rows) held 9 GB more and was killed.
    Any filtered query there still copies every vector once (its candidate assembly), so that is the bound."""
    import tracemalloc

    import numpy as np

    from rag.stores.base import as_ids

    rows, dim = 6_000, 512
    vectors = np.random.default_rng(0).standard_normal((rows, dim)).astype(np.float32)
    store = MilvusDenseStore.create(dim, Place(directory=tmp_path))
    store.add(as_ids(np.arange(rows) // 3), vectors)
    (tmp_path / "saved").mkdir()
    store.save(tmp_path / "saved")
    view = store.copy()
    view.remove(as_ids(range(400)))  # 1,200 rows hidden from the view, still in the collection for readers of store
    tracemalloc.start()
    try:
        counts = len(store), len(view)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert counts == (rows, rows - 1_200)
    assert peak < 3 * rows * dim * 4


def test_grouping_by_chunk_on_the_client_gives_the_exact_best_chunks(tmp_path: Path, used: Used):
    """2.3 ignores group_by_field: the store asks for more rows and keeps each chunk's best, growing the request
    while one chunk's many rows crowd the others out; the result is the exact ranking of chunks by their best row."""
    import dataclasses

    import numpy as np

    from rag.stores.base import as_ids
    from rag.stores.milvus_server import Server

    rng = np.random.default_rng(7)
    query = rng.standard_normal(16).astype(np.float32)
    query /= np.linalg.norm(query)
    crowd = query + 0.05 * rng.standard_normal((120, 16)).astype(np.float32)  # chunk 0: 120 rows near the query
    others = rng.standard_normal((300, 16)).astype(np.float32)  # chunks 1..100: three rows each
    vectors = np.vstack([crowd, others])
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    owners = np.concatenate([np.zeros(120, np.int64), 1 + np.arange(300) // 3])
    store = MilvusDenseStore.create(16, dataclasses.replace(used.place(tmp_path), index="flat")).copy()
    store.add(as_ids(owners), vectors)
    scores = vectors @ query
    best = {int(c): float(scores[owners == c].max()) for c in np.unique(owners)}
    expected = sorted(best, key=lambda c: -best[c])[:10]
    assert not Server.of(used.target.version or "milvus_lite-3.2.2").groups  # none of these groups fully
    ids, scores = store.search(query, 10)
    assert ids.tolist() == expected and np.allclose(scores, [best[c] for c in expected], atol=1e-5)
    assert store.search(query, 3)[0].tolist() == expected[:3]
    assert Server.of("v2.3.5").release == (2, 3, 5) and Server.of("v2.4.0").groups


def test_lexical_fields_are_refused_before_anything_is_made_on_a_server_without_bm25(
        letters_dir: Path, tmp_path: Path, used: Used, capsys: pytest.CaptureFixture[str]):
    from rag.stores.milvus_server import Server

    code = main(["build", str(letters_dir), "--index", str(tmp_path / "index"), "--store", "milvus", *used.flags(),
                 "--milvus-lexical", "--quiet"])
    err = capsys.readouterr().err
    if Server.of(used.target.version or "milvus_lite-3.2.2").bm25:  # Lite: built with the BM25 fields
        assert code == 0 and not err
        return
    assert code == 2 and err.count("\n") == 1 and err.startswith("error: --milvus-lexical needs Milvus 2.5"), err
    assert used.config.milvus_collection not in server_client(used.target).list_collections()


@pytest.mark.parametrize("name", ["bad-name", "9starts_with_a_digit"])
def test_a_bad_collection_name_is_one_error_line(name: str, letters_dir: Path, tmp_path: Path, used: Used,
                                                 capsys: pytest.CaptureFixture[str]):
    flags = [*used.flags()[:-1], name]  # --collection NAME last
    code = main(["build", str(letters_dir), "--index", str(tmp_path / "index"), "--store", "milvus", *flags,
                 "--quiet"])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and err.startswith("error: ") and name in err, err
    assert "collection" in err and "Traceback" not in err


@pytest.mark.milvus_server
def test_a_wrong_token_is_one_error_line_naming_its_variable(letters_dir: Path, tmp_path: Path,
                                                            request: pytest.FixtureRequest,
                                                            monkeypatch: pytest.MonkeyPatch,
                                                            capsys: pytest.CaptureFixture[str]):
    used = use("server-2.3.5", request, monkeypatch)  # the one with authentication on
    build = ["build", str(letters_dir), "--index", str(tmp_path / "index"), "--store", "milvus", *used.flags(),
             "--quiet", "--milvus-token-env", "OUR_MILVUS_TOKEN"]
    for token in ("root:not-the-password", None):
        if token is None:
            monkeypatch.delenv("OUR_MILVUS_TOKEN", raising=False)
        else:
            monkeypatch.setenv("OUR_MILVUS_TOKEN", token)
        assert main(build) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and err.startswith("error: ") and "OUR_MILVUS_TOKEN" in err, err
    monkeypatch.setenv("OUR_MILVUS_TOKEN", used.target.token or "")
    assert main(build) == 0


def test_a_stalled_server_is_an_error_after_the_timeout(letters_dir: Path, tmp_path: Path,
                                                         capsys: pytest.CaptureFixture[str]):
    import socket

    with socket.socket() as listener:  # accepts connections and never answers
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        uri = f"http://127.0.0.1:{listener.getsockname()[1]}"
        code = main(["build", str(letters_dir), "--index", str(tmp_path / "index"), "--store", "milvus",
                     "--milvus-uri", uri, "--milvus-timeout", "2", "--quiet"])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and err.startswith(f"error: cannot open the Milvus server at {uri}")


class _Reads(dict):  # type: ignore[type-arg]
    """``os.environ`` that records which variables are read."""

    def __init__(self, values: dict[str, str]) -> None:
        super().__init__(values)
        self.read: list[str] = []

    def get(self, key: str, default: object = None) -> object:  # type: ignore[override]
        self.read.append(key)
        return super().get(key, default)

    def __getitem__(self, key: str) -> str:
        self.read.append(key)
        return str(super().__getitem__(key))


def forge(index_dir: Path, config: dict[str, object], settings: dict[str, object]) -> None:
    """Rewrite an index's manifest config and its dense/milvus.json, with the file list and checksum recomputed
    as anyone can (plain SHA-256s)."""
    from rag.stores.disk import _manifest_checksum, _manifest_text, sha256_file

    manifest = json.loads((index_dir / "manifest.json").read_text(encoding="utf-8"))
    manifest["config"].update(config)
    manifest["build_settings"].update({k: v for k, v in config.items() if k in manifest["build_settings"]})
    path = index_dir / manifest["generation"] / "dense" / "milvus.json"
    path.write_text(json.dumps({**json.loads(path.read_text(encoding="utf-8")), **settings}), encoding="utf-8")
    manifest["files"]["dense/milvus.json"] = {"bytes": path.stat().st_size, "sha256": sha256_file(path)}
    manifest["checksum"] = _manifest_checksum(manifest)
    (index_dir / "manifest.json").write_text(_manifest_text(manifest), encoding="utf-8")


def test_a_forged_index_reaches_no_server_and_reads_no_variable_the_user_did_not_name(
        letters_dir: Path, tmp_path: Path, fake_encoder, analyzer, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]):
    import socket

    from rag.ui.app import app_config, open_index, parse_args

    index_dir = tmp_path / "index"
    Index.build([letters_dir], index_dir, config=Config(dense="milvus"), encoder=fake_encoder, analyzer=analyzer)
    release_all_lite()
    environ = _Reads({**os.environ, "AWS_SECRET_ACCESS_KEY": "s3cret"})
    monkeypatch.setattr(os, "environ", environ)
    with socket.socket() as listener:  # the attacker's server: nothing may connect to it
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        listener.setblocking(False)
        uri = f"http://127.0.0.1:{listener.getsockname()[1]}"
        forge(index_dir, {"milvus_uri": uri, "milvus_token_env": "AWS_SECRET_ACCESS_KEY"}, {"uri": uri})
        for argv, flag in ((["letters", "--index", str(index_dir)], "--milvus-uri"),
                           (["search", "补贴", "--index", str(index_dir)], "--milvus-uri"),
                           (["letters", "--index", str(index_dir), "--milvus-uri", uri], "--milvus-token-env")):
            assert main(argv) == 2
            err = capsys.readouterr().err
            assert err.count("\n") == 1 and err.startswith("error: ") and flag in err, err
        with pytest.raises(IndexLoadError, match="--milvus-uri"):
            Index.load(index_dir, encoder=fake_encoder, analyzer=analyzer)
        args = parse_args(["--index", str(index_dir)])
        with pytest.raises(IndexLoadError, match="--milvus-uri"):
            open_index(args, app_config(args))
        with pytest.raises(BlockingIOError):
            listener.accept()
    assert "AWS_SECRET_ACCESS_KEY" not in environ.read


def test_a_forged_lite_path_makes_no_folder_outside_the_index(letters_dir: Path, tmp_path: Path, fake_encoder,
                                                              analyzer, capsys: pytest.CaptureFixture[str]):
    index_dir, elsewhere = tmp_path / "index", tmp_path / "elsewhere" / "milvus.db"
    Index.build([letters_dir], index_dir, config=Config(dense="milvus"), encoder=fake_encoder, analyzer=analyzer)
    release_all_lite()
    forge(index_dir, {}, {"uri": str(elsewhere)})
    assert main(["letters", "--index", str(index_dir)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "outside the index folder" in err, err
    assert not (tmp_path / "elsewhere").exists()


def test_search_scale_on_a_server_reports_rows_and_server_memory_per_chunk(shared_letters: Path, tmp_path: Path,
                                                                           served: Used,
                                                                           capsys: pytest.CaptureFixture[str]):
    from eval.bench import main as bench

    assert served.target.uri is not None
    out = tmp_path / "scale"
    assert bench(["--search-scale", "300", "--dense", "milvus", "--json", "--out", str(out), "--letters",
                  str(shared_letters), "--milvus-uri", served.target.uri, "--milvus-server-pid",
                  str(served.target.pid)]) == 0
    row = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert row["dense_stats"]["backend"] == "milvus" and row["dense_stats"]["server"] == served.target.version
    assert row["dense_stats"]["index"] == ("flat" if served.target.name == "lite-server" else "ivf_flat")
    assert row["rows_per_chunk"] == row["vectors"] / row["chunks"] > 1  # a chunk's row plus its sentences'
    assert 0.9 <= row["recall_at_10_vs_exact"] <= 1.0 and row["p50_ms"] <= row["p95_ms"]
    assert row["server_rss_peak_mib"] >= max(row["server_rss_before_mib"], row["server_rss_after_mib"]) > 0
    assert "server_bytes_per_chunk" in row
    assert not [name for name in server_client(served.target).list_collections() if name.startswith("bench_")]
