"""Building in worker processes, a batch at a time: same index as one process, resumable after a kill, no strays."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import psutil
import pytest

from rag import Analyzer, Config, Index
from rag.checkpoint import AREA
from tests.conftest import LETTER_000, LETTER_004, ROOT, FakeEncoder, kill_when

QUESTIONS = ("医疗器械临床试验费用能不能用创新券", "二类医疗器械注册补助", "高新技术企业认定")


class Picky(FakeEncoder):
    """Refuses any text with ``BOOM`` in it, as a model might choke on one letter's text."""

    def encode_passages(self, texts: Sequence[str], batch_size: int = 64) -> np.ndarray:
        if any("BOOM" in text for text in texts):
            raise ValueError("cannot embed this text")
        return super().encode_passages(texts, batch_size)


class Slow(FakeEncoder):
    """The fake encoder at 0.3 s per call (a build makes one per letter), so that a test can stop a build halfway."""

    def encode_passages(self, texts: Sequence[str], batch_size: int = 64) -> np.ndarray:
        time.sleep(0.3)
        return super().encode_passages(texts, batch_size)


def _shape(index: Index) -> list[tuple[int, str, str]]:
    return sorted((c.chunk_id, c.letter_id, c.text) for c in index.chunks)


def _hits(index: Index) -> list[list[tuple[int, float]]]:
    return [[(h.chunk_id, round(h.score, 6)) for h in index.search(q, k=8)] for q in QUESTIONS]


def test_two_workers_build_the_same_index_as_one(shared_letters: Path, tmp_path: Path, analyzer: Analyzer) -> None:
    here, there = FakeEncoder(), FakeEncoder()
    one = Index.build([shared_letters], tmp_path / "one", encoder=here, analyzer=analyzer, workers=1)
    two = Index.build([shared_letters], tmp_path / "two", encoder=there, analyzer=analyzer, workers=2)
    assert here.passages_encoded > 0 and there.passages_encoded == 0  # the workers embedded, not this process
    assert _shape(two) == _shape(one) and len(one.letters) == 28
    assert _hits(two) == _hits(one)
    assert two.report.chars_embedded == one.report.chars_embedded > 0
    reloaded = Index.load(tmp_path / "two", encoder=FakeEncoder(), analyzer=analyzer)
    assert _hits(reloaded) == _hits(one)
    assert not (tmp_path / "two" / AREA).exists()  # the checkpoint goes with the commit


class _Unsendable(FakeEncoder):
    """An encoder holding a lock: it cannot be pickled, so it cannot be sent to a worker process."""

    def __init__(self) -> None:
        super().__init__()
        self.lock = threading.Lock()


def test_an_encoder_that_cannot_go_to_workers_embeds_here_and_the_report_says_so(letters_dir: Path, tmp_path: Path,
                                                                                   analyzer: Analyzer) -> None:
    encoder = _Unsendable()
    index = Index.build([letters_dir], tmp_path / "index", encoder=encoder, analyzer=analyzer, workers=2)
    assert encoder.passages_encoded > 0 and len(index.letters) == 2
    assert any("embedded in this process, not 2 workers" in note for note in index.report.notes)
    assert "embedded in this process" in index.report.summary()
    plain = Index.build([letters_dir], tmp_path / "plain", encoder=FakeEncoder(), analyzer=analyzer, workers=2)
    assert not any("embedded in this process" in note for note in plain.report.notes)


@pytest.mark.slow
def test_two_workers_load_the_real_encoder_by_name(letters_dir: Path, tmp_path: Path, analyzer: Analyzer) -> None:
    one = Index.build([letters_dir], tmp_path / "one", analyzer=analyzer, workers=1)
    two = Index.build([letters_dir], tmp_path / "two", encoder=one.encoder, analyzer=analyzer, workers=2)
    assert _shape(two) == _shape(one)
    assert [[c for c, _ in hits] for hits in _hits(two)] == [[c for c, _ in hits] for hits in _hits(one)]
    for mine, theirs in zip(_hits(one), _hits(two), strict=True):
        assert np.allclose([s for _, s in mine], [s for _, s in theirs], atol=1e-5)


def test_a_letter_that_cannot_be_embedded_is_skipped_with_its_reason(letters_dir: Path, tmp_path: Path,
                                                                     analyzer: Analyzer) -> None:
    bad = letters_dir / "bad.txt"
    # a letter of its own (a near-copy of another would be stored as that letter's second source)
    bad.write_text("测试市工业和信息化局\n\n关于测试编码失败的答复\n\n张三代表：\n"
                   "　　一、这封信的一句话无法编码。BOOM\n　　二、另附。\n\n测试市工业和信息化局\n2024年1月1日\n",
                   encoding="utf-8")
    index = Index.build([letters_dir], tmp_path / "index", encoder=Picky(), analyzer=analyzer, workers=2)
    assert sorted(letter.letter_id for letter in index.letters) == sorted([LETTER_000.stem, LETTER_004.stem])
    assert [(s.path, s.reason.split(" (")[0]) for s in index.report.skipped] == [
        (str(bad), "could not be embedded or tokenised")]
    assert "cannot embed this text" in index.report.skipped[0].reason
    assert sorted(index.report.added) == sorted([LETTER_000.stem, LETTER_004.stem])
    assert {c.letter_id for c in index.chunks} == {LETTER_000.stem, LETTER_004.stem}


def test_a_changed_letter_that_cannot_be_embedded_keeps_its_indexed_version(letters_dir: Path, tmp_path: Path,
                                                                           analyzer: Analyzer) -> None:
    index = Index.build([letters_dir], tmp_path / "index", encoder=Picky(), analyzer=analyzer)
    before = _shape(index)
    target = letters_dir / LETTER_000.name
    target.write_text(target.read_text(encoding="utf-8") + "\nBOOM。", encoding="utf-8")
    report = index.add([letters_dir])
    assert report.updated == () and [s.path for s in report.skipped] == [str(target)]
    assert _shape(index) == before
    assert _shape(Index.load(tmp_path / "index", encoder=Picky(), analyzer=analyzer)) == before


@pytest.mark.parametrize("workers", [1, 2])
def test_progress_is_reported_in_chunks_up_to_the_total(shared_letters: Path, tmp_path: Path, analyzer: Analyzer,
                                                        workers: int) -> None:
    calls: list[tuple[int, int]] = []
    index = Index.build([shared_letters], tmp_path / "index", encoder=FakeEncoder(), analyzer=analyzer,
                        on_progress=lambda done, total: calls.append((done, total)), workers=workers)
    assert len(calls) > 1  # batches, not one call at the end
    assert {total for _, total in calls} == {len(index.chunks)}
    done = [d for d, _ in calls]
    assert done == sorted(done) and done[0] > 0 and done[-1] == len(index.chunks)


def _checkpointed(directory: Path) -> list[Path]:
    return sorted(directory.glob(f"{AREA}/*/[0-9a-f]*.json"))


def test_a_checkpoint_that_is_corrupt_or_of_other_settings_is_not_trusted(shared_letters: Path, tmp_path: Path,
                                                                          analyzer: Analyzer, monkeypatch) -> None:
    clean = Index.build([shared_letters], tmp_path / "clean", encoder=FakeEncoder(), analyzer=analyzer)
    directory = tmp_path / "index"

    def no_commit(self: Index, stores: object, sources: object) -> None:
        raise OSError("disk full")

    with monkeypatch.context() as patch:  # a build that embeds everything, then fails to commit
        patch.setattr(Index, "_commit", no_commit)
        with pytest.raises(OSError, match="disk full"):
            Index.build([shared_letters], directory, encoder=FakeEncoder(), analyzer=analyzer)
    markers = _checkpointed(directory)
    assert len(markers) == 28 and not (directory / "manifest.json").exists()
    spoilt_units = sum(sum(json.loads(m.read_text(encoding="utf-8"))["units"]) for m in markers[:3])
    markers[0].write_text("{not json", encoding="utf-8")
    markers[1].with_suffix(".npy").write_bytes(b"\x93NUMPY truncated")
    meta = json.loads(markers[2].read_text(encoding="utf-8"))
    np.save(markers[2].with_suffix(".npy"), np.full((sum(meta["units"]), 256), np.nan, np.float32),
            allow_pickle=False)
    again = FakeEncoder()
    index = Index.build([shared_letters], directory, encoder=again, analyzer=analyzer)
    assert again.passages_encoded == spoilt_units  # only the three spoilt letters were embedded again
    assert 0 < index.report.chars_embedded < clean.report.chars_embedded
    assert _shape(index) == _shape(clean) and _hits(index) == _hits(clean)
    assert not (directory / AREA).exists()


def test_a_checkpoint_of_other_settings_is_removed_and_everything_embedded(shared_letters: Path, tmp_path: Path,
                                                                          analyzer: Analyzer, monkeypatch) -> None:
    directory = tmp_path / "index"
    with monkeypatch.context() as patch:
        patch.setattr(Index, "_commit", lambda self, stores, sources: (_ for _ in ()).throw(OSError("disk full")))
        with pytest.raises(OSError):
            Index.build([shared_letters], directory, encoder=FakeEncoder(), analyzer=analyzer)
    stale = {m.parent for m in _checkpointed(directory)}
    assert len(stale) == 1
    encoder = FakeEncoder()
    index = Index.build([shared_letters], directory, config=Config(max_chunk_chars=300), encoder=encoder,
                        analyzer=analyzer)
    clean = Index.build([shared_letters], tmp_path / "clean", config=Config(max_chunk_chars=300),
                        encoder=FakeEncoder(), analyzer=analyzer)
    assert index.report.chars_embedded == clean.report.chars_embedded
    assert _shape(index) == _shape(clean) and not any(path.exists() for path in stale)


# A build in another process, with an encoder at 0.3 s per letter; it prints its pid and builds.
# (Ctrl-C as in a terminal: a child inherits an ignored SIGINT, which the test process may have been left with)
_BUILD = """
import os, signal, sys
signal.signal(signal.SIGINT, signal.default_int_handler)
from rag import Analyzer, Index
from tests.test_build import Slow
letters, directory, workers = sys.argv[1], sys.argv[2], int(sys.argv[3])
print(os.getpid(), flush=True)
Index.build([letters], directory, encoder=Slow(), analyzer=Analyzer(), workers=workers)
print("done", flush=True)
"""


def _start_build(letters: Path, directory: Path, workers: int) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1"}
    return subprocess.Popen([sys.executable, "-c", _BUILD, str(letters), str(directory), str(workers)], cwd=ROOT,
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _wait_for_checkpoint(child: subprocess.Popen[str], directory: Path) -> None:
    deadline = time.monotonic() + 180  # a hang guard only: the build writes its first letters in seconds
    while not _checkpointed(directory):
        assert child.poll() is None, f"the build ended early: {child.stderr.read() if child.stderr else ''}"
        assert time.monotonic() < deadline, "the build never checkpointed a letter"
        time.sleep(0.05)


def _gone(processes: Sequence[psutil.Process]) -> bool:
    _, alive = psutil.wait_procs(processes, timeout=60)  # a hang guard: they end within a batch
    return not alive


def test_a_killed_build_resumes_without_embedding_its_finished_letters_again(shared_letters: Path, tmp_path: Path,
                                                                             analyzer: Analyzer) -> None:
    clean_encoder = FakeEncoder()
    clean = Index.build([shared_letters], tmp_path / "clean", encoder=clean_encoder, analyzer=analyzer)
    previous = Index.build([LETTER_004], tmp_path / "index", encoder=FakeEncoder(), analyzer=analyzer)
    expected_before = _hits(previous)
    directory = tmp_path / "index"
    child = _start_build(shared_letters, directory, workers=1)
    kill_when(child, lambda: _wait_for_checkpoint(child, directory))
    assert _hits(Index.load(directory, encoder=FakeEncoder(), analyzer=analyzer)) == expected_before
    kept = _checkpointed(directory)
    kept_units = sum(sum(json.loads(m.read_text(encoding="utf-8"))["units"]) for m in kept)
    assert 0 < len(kept) < 28
    encoder = FakeEncoder()
    resumed = Index.build([shared_letters], directory, encoder=encoder, analyzer=analyzer, rebuild=True)
    assert encoder.passages_encoded == clean_encoder.passages_encoded - kept_units  # only the rest is embedded
    assert resumed.report.chars_embedded < clean.report.chars_embedded
    assert _shape(resumed) == _shape(clean) and _hits(resumed) == _hits(clean)
    assert not (directory / AREA).exists()


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM, signal.SIGKILL])
def test_stopping_a_build_leaves_no_worker_processes(shared_letters: Path, tmp_path: Path, stop: int) -> None:
    letters = tmp_path / "letters"
    shutil.copytree(shared_letters, letters)
    directory = tmp_path / "index"
    child = _start_build(letters, directory, workers=2)
    try:
        assert child.stdout is not None and int(child.stdout.readline()) == child.pid
        _wait_for_checkpoint(child, directory)
        workers = psutil.Process(child.pid).children(recursive=True)
        assert len(workers) >= 2
        child.send_signal(stop)
        child.wait(timeout=120)
        assert child.returncode != 0, child.stderr.read() if child.stderr else ""
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    assert _gone(workers), [p.cmdline() for p in workers if p.is_running()]
    assert not (directory / "manifest.json").exists()


class _Swallows(FakeEncoder):
    """On its first call, Ctrl-C arrives while code that drops every exception runs (as a finaliser does)."""

    def encode_passages(self, texts: Sequence[str], batch_size: int = 64) -> np.ndarray:
        if not self.passages_encoded:
            try:
                signal.raise_signal(signal.SIGINT)
                time.sleep(0.05)
            except KeyboardInterrupt:
                pass
        return super().encode_passages(texts, batch_size)


def test_ctrl_c_stops_a_build_even_when_its_keyboard_interrupt_is_swallowed(shared_letters: Path, tmp_path: Path,
                                                                           analyzer: Analyzer) -> None:
    whole = FakeEncoder()
    Index.build([shared_letters], tmp_path / "whole", encoder=whole, analyzer=analyzer)
    encoder = _Swallows()
    before = signal.signal(signal.SIGINT, signal.default_int_handler)  # Ctrl-C as Python sets it up
    try:
        with pytest.raises(KeyboardInterrupt):
            Index.build([shared_letters], tmp_path / "index", encoder=encoder, analyzer=analyzer)
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # the build's handler is gone again
    finally:
        signal.signal(signal.SIGINT, before)
    assert 0 < encoder.passages_encoded < whole.passages_encoded  # it stopped after a batch, not at the end
    assert not (tmp_path / "index" / "manifest.json").exists()


def test_the_progress_bar_shows_letters_chunks_and_characters_per_second(letters_dir: Path, tmp_path: Path,
                                                                        analyzer: Analyzer, capsys) -> None:
    index = Index.build([letters_dir], tmp_path / "index", encoder=FakeEncoder(), analyzer=analyzer, progress=True)
    bar = capsys.readouterr().err.replace("\r", "\n").strip().splitlines()[-1]
    assert bar.startswith("indexing: 100%") and "2/2" in bar
    assert f"{len(index.chunks)}/{len(index.chunks)} chunks" in bar and "chars/s" in bar


@pytest.mark.slow
def test_rag_build_takes_a_number_of_workers(letters_dir: Path, tmp_path: Path, capsys) -> None:
    from rag.cli import main

    assert main(["build", str(letters_dir), "--index", str(tmp_path / "index"), "--workers", "0"]) == 2
    assert "error: --workers must be 1 or more, not 0" in capsys.readouterr().err
    assert main(["build", str(letters_dir), "--index", str(tmp_path / "index"), "--workers", "2", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["letters"] == 2 and report["chars_embedded"] > 0 and report["skipped"] == []
    assert not (tmp_path / "index" / AREA).exists()


def test_an_encoder_that_fails_on_every_letter_changes_nothing(letters_dir: Path, tmp_path: Path,
                                                               analyzer: Analyzer) -> None:
    from rag.updates import NothingToIndex

    for path in letters_dir.iterdir():
        path.write_text(path.read_text(encoding="utf-8") + "\nBOOM。", encoding="utf-8")
    with pytest.raises(NothingToIndex, match=r"not one of the 2 letters .* cannot embed this text\)\. Nothing"):
        Index.build([letters_dir], tmp_path / "index", encoder=Picky(), analyzer=analyzer, workers=2)
    assert not (tmp_path / "index" / "manifest.json").exists()


@pytest.mark.slow
def test_two_workers_load_a_sentence_transformers_model_by_name(letters_dir: Path, tmp_path: Path,
                                                                analyzer: Analyzer) -> None:
    from tests.test_sentence_transformers import _model_path

    config = Config(model=_model_path())
    one = Index.build([letters_dir], tmp_path / "one", config=config, analyzer=analyzer, workers=1)
    two = Index.build([letters_dir], tmp_path / "two", config=config, encoder=one.encoder, analyzer=analyzer,
                      workers=2)
    assert two.encoder.id == one.encoder.id and _shape(two) == _shape(one)
    question = "Hebei talent training"
    mine, theirs = one.search(question, k=5), two.search(question, k=5)
    assert [h.chunk_id for h in theirs] == [h.chunk_id for h in mine]
    assert np.allclose([h.score for h in theirs], [h.score for h in mine], atol=1e-4)
