"""The README's Python-API example runs, and prints what the README says it prints."""

from __future__ import annotations

import doctest
import re
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _python_api_block() -> str:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    match = re.search(r"^## Python API\n\n```python\n(.*?)^```", readme, re.S | re.M)
    assert match, "the README has no Python API example"
    return match.group(1)


def test_readme_python_api_example_prints_what_it_says(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    shutil.copytree(ROOT / "letters", tmp_path / "letters")
    monkeypatch.chdir(tmp_path)  # the example builds "index/" from "letters/" in the working directory
    block = _python_api_block()
    test = doctest.DocTestParser().get_doctest(block, {}, "README.md", str(ROOT / "README.md"), 0)
    assert len(test.examples) >= 6 and sum(bool(e.want) for e in test.examples) >= 4
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    messages: list[str] = []
    result = runner.run(test, out=messages.append)
    assert result.failed == 0, "".join(messages)


def test_the_app_usage_lines_name_every_flag() -> None:
    flags = set(re.findall(r"parser\.add_argument\(\"(--[a-z-]+)\"", (ROOT / "rag/ui/app.py").read_text("utf-8")))
    assert {"--index", "--max-upload-mb", "--model", "--llm-url", "--llm-model", "--llm-key-env"} <= flags
    readme = re.search(r"^`python app\.py (.*)`$", (ROOT / "README.md").read_text("utf-8"), re.M)
    ui = re.search(r"^python app\.py (.*?)^```", (ROOT / "docs/ui.md").read_text("utf-8"), re.M | re.S)
    assert readme and ui
    for usage in (readme.group(1), ui.group(1)):
        assert flags <= set(re.findall(r"--[a-z-]+", usage)), sorted(flags - set(re.findall(r"--[a-z-]+", usage)))


def test_the_readme_quotes_the_saved_evaluation_results() -> None:
    """README's figures are eval/results/regression.json's, as `python -m eval.regress --table` prints them."""
    import json

    from eval.regress import RESULTS, table

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    quoted = re.search(r"^<!-- figures: python -m eval\.regress --table -->\n(.*?)^<!-- /figures -->", readme,
                       re.S | re.M)
    assert quoted, "the README has no figures block"
    assert quoted.group(1) == table(json.loads(RESULTS.read_text(encoding="utf-8")))
