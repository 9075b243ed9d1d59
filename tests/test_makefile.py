"""`make run` installs once: its setup step is redone only when pyproject.toml changes."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_setup_installs_once_then_again_only_after_pyproject_changes(tmp_path: Path) -> None:
    if shutil.which("make") is None:
        pytest.fail("the Makefile test needs `make` (apt-get install make)")
    shutil.copy(ROOT / "Makefile", tmp_path)
    shutil.copy(ROOT / "pyproject.toml", tmp_path)
    bin_dir = tmp_path / ".venv" / "bin"
    bin_dir.mkdir(parents=True)
    (bin_dir / "python").touch()
    pip = bin_dir / "pip"  # records each call instead of installing
    pip.write_text('#!/bin/sh\necho "$@" >> "$(dirname "$0")/../../pip-calls.log"\n', encoding="utf-8")
    pip.chmod(0o755)

    def setup() -> list[str]:
        subprocess.run(["make", "-s", "setup"], cwd=tmp_path, check=True, capture_output=True)
        log = tmp_path / "pip-calls.log"
        return log.read_text(encoding="utf-8").splitlines() if log.exists() else []

    assert setup() == ["install --quiet -e .[ui]"]
    assert len(setup()) == 1  # the second start installs nothing
    later = time.time() + 5
    os.utime(tmp_path / "pyproject.toml", (later, later))
    assert len(setup()) == 2
