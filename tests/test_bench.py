"""Speed and scale benchmark: the synthetic corpus grower, and ``eval.bench --quick`` end to end."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

from eval.bench import main
from eval.corpus import grow_corpus
from rag import parse_letter, read_document, split_sentences

ROOT = Path(__file__).resolve().parents[1]


def test_grown_corpus_recombines_real_sentences_under_new_numbers(letters_dir: Path, tmp_path: Path) -> None:
    files = grow_corpus([letters_dir], 5, tmp_path / "corpus")
    real = {p.name: read_document(p).text for p in letters_dir.iterdir()}
    assert len(files) == 10
    assert {f.name for f in files[:2]} == set(real)
    assert [f.name for f in files[2:]] == [f"syn-{n:05d}.txt" for n in range(1, 9)]
    source_text = "".join(real.values())
    numbers = set()
    for path in files[2:]:
        text = path.read_text(encoding="utf-8")
        letter = parse_letter(text, letter_id=path.stem)
        numbers.add(letter.doc_number)
        assert re.fullmatch(r"(慈卫建〔20\d\d〕|冀工信承字〔20\d\d〕第)1\d{3}号", letter.doc_number)
        assert letter.title and letter.agency in {"慈溪市卫生健康局", "河北省工业和信息化厅"}
        body = [s for s in letter.sections if s.level >= 1]
        assert len(body) in {9, 12}  # the template's numbered sections: 9 in letter 000, 12 in letter 004
        for section in body:  # every body sentence after the heading is a real one
            for start, end in split_sentences(text[section.start:section.end])[1:]:
                assert text[section.start + start:section.start + end] in source_text
        assert 0.5 < len(text) / (len(source_text) / 2) < 2
    assert len(numbers) == 8
    assert files[2].read_text(encoding="utf-8") == grow_corpus([letters_dir], 2, tmp_path / "again")[2].read_text(
        encoding="utf-8")


def test_a_growth_factor_below_one_is_refused(letters_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="at least 1"):
        grow_corpus([letters_dir], 0, tmp_path / "corpus")


@pytest.mark.slow
def test_quick_bench_writes_its_table_and_chart(letters_dir: Path, tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "bench"
    assert main(["--quick", "--scales", "1", "2", "--queries", "5", "--letters", str(letters_dir),
                 "--out", str(out)]) == 0
    rows = json.loads((out / "bench.json").read_text(encoding="utf-8"))["rows"]
    assert [(r["scale"], r["letters"]) for r in rows] == [(1, 2), (2, 4)]
    assert rows[0]["chunks"] < rows[1]["chunks"]
    for row in rows:
        assert row["queries"] == 5 and row["index_bytes"] > 0 and row["peak_rss_bytes"] >= row["base_rss_bytes"]
        assert set(row["latency"]) == {"total", "encode", "search", "fusion", "dense", "lexical", "cpu"}
        assert row["latency"]["total"]["p50_ms"] <= row["latency"]["total"]["p95_ms"]
    assert (out / "latency.png").stat().st_size > 0
    assert "| 2× | 4 |" in (out / "bench.md").read_text(encoding="utf-8")
    assert not (out / "corpus-2x").exists() and not (out / "index-2x").exists()
    printed = capsys.readouterr().out
    assert "total p50/p95 ms" in printed and "chunks/s" in printed


SCALE_KEYS = {"chunks", "vectors", "dense_index", "build_s", "peak_rss_mib", "rss_after_load_mib", "load_s",
              "disk_mib", "p50_ms", "p95_ms", "recall_at_10_vs_exact", "add_letter_s"}


@pytest.mark.slow
def test_search_scale_quick_variant_prints_the_contract_keys(shared_letters: Path, tmp_path: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "scale"
    assert main(["--search-scale", "400", "--dense", "ivf", "--json", "--out", str(out),
                 "--letters", str(shared_letters)]) == 0
    row = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert SCALE_KEYS <= row.keys()
    assert row["dense_index"] == "ivf" and row["dense_stats"]["backend"] == "ivf" and row["dense_stats"]["nlist"] > 1
    assert 200 <= row["chunks"] <= 800 and row["vectors"] > row["chunks"]  # a chunk's vector plus its sentences'
    assert 0.0 <= row["recall_at_10_vs_exact"] <= 1.0 and row["p50_ms"] <= row["p95_ms"]
    assert not (out / "scale-corpus").exists() and not (out / "scale-ivf").exists()


def test_stand_in_encoder_builds_passages_from_real_sentence_vectors(fake_encoder) -> None:
    from eval.scale import MixtureEncoder

    encoder = MixtureEncoder(fake_encoder, ["对企业给予补助。", "新增床位500张。"])
    both = encoder.encode_passages(["对企业给予补助。新增床位500张。", "对企业给予补助。新增床位500张。"])
    assert np.allclose(both[0], both[1]) and np.isclose(np.linalg.norm(both[0]), 1.0, atol=1e-5)
    subsidy = fake_encoder.encode_passages(["对企业给予补助。"])[0]
    assert float(encoder.encode_passages(["对企业给予补助。"])[0] @ subsidy) > 0.8  # near its real vector
    assert np.allclose(encoder.encode_queries(["补助"]), fake_encoder.encode_queries(["补助"]))
    import pickle

    sent = pickle.loads(pickle.dumps(encoder))  # what a build's worker process gets: passages, not the model
    assert np.allclose(sent.encode_passages(["对企业给予补助。"]), encoder.encode_passages(["对企业给予补助。"]))
    with pytest.raises(RuntimeError, match="passages only"):
        sent.encode_queries(["补助"])


@pytest.mark.slow
def test_build_workers_bench_reports_chars_per_second_for_each_count(letters_dir: Path, tmp_path: Path,
                                                                     capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "bench"
    assert main(["--build-workers", "1,2", "--build-scale", "2", "--letters", str(letters_dir), "--out", str(out),
                 "--json"]) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result == json.loads((out / "build-workers.json").read_text(encoding="utf-8"))
    assert result["workers"] == [1, 2] and result["letters"] == 4 and result["scale"] == 2
    assert result["chars"] > sum(len(p.read_text(encoding="utf-8")) for p in letters_dir.iterdir())
    for key in ("chars_per_s", "seconds", "cpu_s", "worker_cpu_s", "cpu_bound_chars_per_s", "chars_per_cpu_s"):
        assert len(result[key]) == 2 and all(value >= 0 for value in result[key])
    assert result["worker_cpu_s"][0] == 0 < result["worker_cpu_s"][1]  # one worker embeds in the build's process
    assert result["speedup"] == pytest.approx(result["chars_per_s"][1] / result["chars_per_s"][0])
    assert not list(out.glob("build-*x")) and not list(out.glob("build-index-*"))


def test_build_workers_refuses_a_count_below_one(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--build-workers", "0,2", "--out", str(tmp_path / "bench")]) == 2
    assert "worker counts of at least 1" in capsys.readouterr().err


def test_search_scale_against_a_full_scan_then_plotted_and_tabulated(shared_letters: Path, tmp_path: Path,
                                                                     capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "scale"
    assert main(["--search-scale", "300", "--dense", "ivf", "--exact-by", "scan", "--json", "--out", str(out),
                 "--letters", str(shared_letters)]) == 0
    line = capsys.readouterr().out.strip().splitlines()[-1]
    row = json.loads(line)
    assert SCALE_KEYS <= row.keys() and row["exact_reference"] == "every IVF cell scanned"
    assert not (out / "scale-exact").exists()  # no twin was built
    assert row["recall_at_10_vs_exact"] == 1.0  # 32 cells probed of fewer than 32: the scan itself
    small, large = tmp_path / "small.txt", tmp_path / "large.txt"
    small.write_text("building …\n" + line + "\n", encoding="utf-8")
    large.write_text(json.dumps({**row, "chunks": row["chunks"] * 10, "p50_ms": 25.0, "p95_ms": 31.5}) + "\n",
                     encoding="utf-8")
    assert main(["--plot-scale", str(large), str(small), "--out", str(tmp_path / "plot")]) == 0
    table = (tmp_path / "plot" / "scale.md").read_text(encoding="utf-8").splitlines()
    assert table[2].startswith(f"| {row['chunks']:,} |") and "25.0 / 31.5 ms" in table[3]  # smallest first
    assert (tmp_path / "plot" / "scale.png").stat().st_size > 10_000
    empty = tmp_path / "empty.txt"
    empty.write_text("", encoding="utf-8")
    assert main(["--plot-scale", str(empty), "--out", str(tmp_path / "plot")]) == 2
    assert "empty" in capsys.readouterr().err


@pytest.mark.slow
def test_search_scale_builds_the_rescore_mode_when_asked(shared_letters: Path, tmp_path: Path,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "scale"
    assert main(["--search-scale", "300", "--dense", "flat", "--sentence-rescore", "--json", "--out", str(out),
                 "--letters", str(shared_letters)]) == 0
    row = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert SCALE_KEYS <= row.keys() and row["sentence_rescore"] is True
    stats = row["dense_stats"]
    assert stats["sentences"] == "rescore" and stats["backend"] == "flat"
    assert stats["chunk_vectors"] == stats["index_vectors"] == row["chunks"] < row["vectors"] == stats["vectors"]


@pytest.mark.slow
def test_rescore_scale_compares_two_kept_indexes_of_one_corpus(shared_letters: Path, tmp_path: Path,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    from eval.rescore_scale import main as compare

    for name, flags in (("today", []), ("rescore", ["--sentence-rescore"])):
        assert main(["--search-scale", "300", "--dense", "flat", "--no-exact", "--keep", "--out",
                     str(tmp_path / name), "--letters", str(shared_letters), *flags]) == 0
    capsys.readouterr()
    today, rescore = tmp_path / "today" / "scale-flat", tmp_path / "rescore" / "scale-flat"
    assert compare([str(rescore), str(today), "--letters", str(shared_letters)]) == 2  # the order matters
    assert compare([str(today), str(rescore), "--letters", str(shared_letters)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len([line for line in lines if line.startswith(("today ", "rescore "))]) == 4 * 2 + 2
    agreement = {line.split()[1] + line.split()[0]: float(line.split()[-1]) for line in lines if "top 10 vs" in line}
    assert agreement["todayweighted"] == agreement["todaydense"] == 1.0  # today's against itself
    assert 0.0 <= agreement["rescoreweighted"] <= 1.0 and 0.0 <= agreement["rescoredense"] <= 1.0
