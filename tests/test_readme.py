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


def _cli_lines() -> list[str]:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    match = re.search(r"^## Command line\n\n```bash\n(.*?)^```", readme, re.S | re.M)
    assert match, "the README has no command-line block"
    return [line.split("   #")[0].strip() for line in match.group(1).splitlines() if line.startswith("rag ")]


def test_every_cli_line_of_the_readme_runs_on_the_bundled_letters(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
        chat_completions_protocol: tuple[str, object]) -> None:
    """Each line as written, its [optional] parts left out and then put in; placeholders filled in: two letter
    folders, a questions file, the test's chat endpoint for --llm-url. Lines that need a Milvus server are run by
    the Milvus tests (a line naming --shard needs several machines' server)."""
    import shlex

    from rag.cli import main

    for folder in ("letters", "more-letters", "big-folder"):
        shutil.copytree(ROOT / "letters", tmp_path / folder)
    (tmp_path / "questions.jsonl").write_text('{"id": "q1", "question": "临床试验费用能不能用创新券"}\n',
                                              encoding="utf-8")
    url, script = chat_completions_protocol
    script.reply = "临床试验费用纳入创新券范围，给予30%补助[1]。"  # type: ignore[attr-defined]
    monkeypatch.chdir(tmp_path)
    lines = _cli_lines()
    assert len(lines) >= 8
    ran = 0
    for line in lines:
        if "--shard" in line or "--milvus-uri" in line and "[--milvus-uri" not in line:
            continue
        line = line.replace("rag ask ...", 'rag ask "临床试验费用能不能用创新券？" --index index/')
        line = line.replace("http://localhost:11434/v1", url)
        if "--store milvus" in line:  # Milvus Lite in a folder of its own; a server's URI is the Milvus tests' part
            line = line.replace("--index index/", "--index index-milvus/")
        bare = re.sub(r"\s*\[[^\]]*\]", "", line)
        full = re.sub(r"\[([^\]]*)\]", r"\1", line)
        for variant in [bare] + ([full] if full != bare and "--milvus-uri" not in full else []):
            args = shlex.split(variant)[1:]
            assert main(args) == 0, f"{variant}: {capsys.readouterr().err}"
            capsys.readouterr()
            ran += 1
    assert ran >= 10
