"""Readers and writers of one index folder: a reader keeps the generation it opened; the app sees new commits."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

from rag import Analyzer, Index

from .conftest import LETTER_000, LETTER_004, ROOT, FakeEncoder

QUESTION = "医疗器械注册补助"
WRITER = """
import sys
from rag import Analyzer, Index
from tests.conftest import FakeEncoder
directory, letter = sys.argv[1], sys.argv[2]
analyzer = Analyzer()
for _ in range(400):  # a build/remove loop: each pass commits two generations
    Index.load(directory, encoder=FakeEncoder(), analyzer=analyzer).remove([letter])
    Index.build([letter], directory, encoder=FakeEncoder(), analyzer=analyzer)
    print("committed", flush=True)
"""


def _generation(directory: Path) -> str:
    return str(json.loads((directory / "manifest.json").read_text(encoding="utf-8"))["generation"])


def _wait_for_commit(directory: Path, seen: str, until: float) -> None:
    """Until the folder's generation is not ``seen`` (two commits: the one read has been replaced) or time is up."""
    commits = 0
    while time.monotonic() < until and commits < 2:
        now = _generation(directory)
        if now != seen:
            commits, seen = commits + 1, now
        time.sleep(0.005)


def test_forty_searches_during_a_build_and_remove_loop_never_fail(fake_index: Index, letters_dir: Path,
                                                                  analyzer: Analyzer) -> None:
    directory, letter = fake_index.directory, letters_dir / LETTER_004.name
    assert directory is not None
    writer = subprocess.Popen([sys.executable, "-c", WRITER, str(directory), str(letter)], cwd=ROOT,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    failures: list[str] = []
    searched = 0
    deadline = time.monotonic() + 240  # a bound on the test, not a figure it checks
    try:
        assert writer.stdout is not None
        writer.stdout.readline()  # the loop is running
        while searched < 40 and time.monotonic() < deadline:
            try:
                index = Index.load(directory, encoder=FakeEncoder(), analyzer=analyzer)
                # the generation just opened is replaced (and older ones cleaned up) before the search reads it
                _wait_for_commit(directory, str(index._generation), min(deadline, time.monotonic() + 10))
                hits = index.search(QUESTION, k=5)
                assert hits and all(hit.text for hit in hits)
                index.letter(hits[0].letter_id).text  # noqa: B018 - the letter is read from its segment file
            except Exception as exc:  # every failure is counted, not only the first
                failures.append(f"{type(exc).__name__}: {exc}")
            searched += 1
    finally:
        writer.kill()
        writer.wait(timeout=30)
    assert searched == 40
    assert failures == []
    generations = [p for p in directory.iterdir() if p.name.startswith("gen-")]
    assert 1 <= len(generations) <= 4  # generations no reader holds are still removed (four readers here at most)


def test_the_app_picks_up_a_generation_committed_by_another_process(fake_index: Index, letters_dir: Path,
                                                                   analyzer: Analyzer) -> None:
    directory, letter = fake_index.directory, letters_dir / LETTER_004.name
    assert directory is not None
    served = Index.load(directory, encoder=FakeEncoder(), analyzer=analyzer)
    assert not served.refresh()  # nothing new
    Index.load(directory, encoder=FakeEncoder(), analyzer=analyzer).remove([LETTER_004.stem])
    assert LETTER_004.stem in {lt.letter_id for lt in served.letters}  # until it looks again
    assert served.refresh()
    assert {lt.letter_id for lt in served.letters} == {LETTER_000.stem}
    assert all(hit.letter_id == LETTER_000.stem for hit in served.search(QUESTION, k=5))
    Index.build([letter], directory, encoder=FakeEncoder(), analyzer=analyzer)
    assert served.refresh()
    assert LETTER_004.stem in {lt.letter_id for lt in served.letters}
