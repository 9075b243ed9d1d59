"""The CLI contract: `rag build`, `rag search --json`, `--queries`, and `python -m rag` behaving the same."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from rag.cli import main

HIT_FIELDS = {"text", "score", "letter_id", "doc_number", "title", "agency", "date", "section", "start", "end",
              "citation"}


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    """The bundled letters indexed with the real default encoder through the CLI."""
    from .conftest import BUNDLED

    index = tmp_path_factory.mktemp("cli") / "index"
    assert main(["build", str(BUNDLED), "--index", str(index), "--quiet"]) == 0
    return index


def test_build_prints_letters_chunks_and_skipped(tmp_path: Path, letters_dir: Path, capsys):
    (letters_dir / "broken.txt").write_bytes(b"\x00\x01\x02" * 100)
    assert main(["build", str(letters_dir), "--index", str(tmp_path / "ix"), "--quiet", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["letters"] == 2 and report["chunks"] > 20
    assert report["skipped"] == [{"path": str(letters_dir / "broken.txt"), "reason": "binary file (contains NUL "
                                                                                      "bytes), not text"}]


def test_search_json_contract(built: Path, capsys):
    assert main(["search", "what subsidies exist for Class II device registration", "--index", str(built),
                 "--k", "3", "--json"]) == 0
    hits = json.loads(capsys.readouterr().out)
    assert isinstance(hits, list) and len(hits) == 3
    assert all(HIT_FIELDS <= set(hit) for hit in hits)
    assert any(hit["doc_number"] == "慈卫建〔2021〕15号" for hit in hits)


def test_search_queries_file_prints_one_line_per_query(built: Path, tmp_path: Path, capsys):
    queries = tmp_path / "q.jsonl"
    queries.write_text('{"id": "a", "question": "临床试验费用能不能用创新券"}\n'
                       '{"id": 7, "question": "河北人才培养"}\n', encoding="utf-8")
    assert main(["search", "--queries", str(queries), "--index", str(built), "--k", "2", "--json"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [line["id"] for line in lines] == ["a", 7]
    assert all(len(line["hits"]) == 2 and HIT_FIELDS <= set(line["hits"][0]) for line in lines)
    assert "临床试验费用纳入创新券范围" in lines[0]["hits"][0]["text"]


def test_python_dash_m_rag_matches_rag(built: Path):
    argv = ["search", "临床试验费用能不能用创新券", "--index", str(built), "--k", "2", "--json"]
    module = subprocess.run([sys.executable, "-m", "rag", *argv], capture_output=True, text=True, check=True)
    script = Path(sys.executable).with_name("rag")
    console = subprocess.run([str(script), *argv], capture_output=True, text=True, check=True)
    assert json.loads(module.stdout) == json.loads(console.stdout)


def test_errors_are_messages_not_tracebacks(tmp_path: Path, capsys):
    assert main(["search", "问题", "--index", str(tmp_path / "none")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: no index in") and "rag build" in err and "Traceback" not in err


def test_empty_question_is_refused(built: Path, capsys):
    assert main(["search", "   ", "--index", str(built)]) == 2
    assert "the question is empty" in capsys.readouterr().err


def test_long_question_gets_a_truncation_note(built: Path, capsys):
    assert main(["search", "医疗器械临床试验费用" * 10_000, "--index", str(built), "--k", "1", "--json"]) == 0
    captured = capsys.readouterr()
    assert "note: the question is 100,000 characters; only the first 2,000 are used" in captured.err
    assert len(json.loads(captured.out)) == 1
