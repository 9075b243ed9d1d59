"""Architecture rules, checked on the source's syntax trees (nothing here imports the modules it checks).

The rules: no import cycles in ``rag/``, in ``eval/``, or across them, the tests and ``app.py``; gradio only
under ``rag/ui/``; small files and functions; no environment variables read below the entry points; ``eval/``
uses only ``rag``'s public names; and ``import rag`` (and the CLI) stay free of gradio.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
RAG = ROOT / "rag"
EVAL = ROOT / "eval"

MAX_FILE_LINES = 400
MAX_FUNCTION_LINES = 60
GRADIO = {"gradio", "gradio_client"}
ENTRY_POINTS = {"rag/cli.py", "rag/ui/app.py"}  # they read the API key variable named by --llm-key-env
ENV_NAMES = {"environ", "environb", "getenv"}


# ---- reading the source ----------------------------------------------------------------------------

def _relative(path: Path, root: Path = ROOT) -> str:
    return path.relative_to(root).as_posix()


def _python_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*.py") if "__pycache__" not in p.parts)


def _tree(path: Path) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def module_names(root: Path, package: str) -> dict[str, Path]:
    """Every module of ``package`` (a folder under ``root``, or one ``.py`` file there) by dotted name; a package
    is its ``__init__.py``."""
    single = root / f"{package.replace('.', '/')}.py"
    if single.is_file():
        return {package: single}
    modules = {}
    for path in _python_files(root / package.replace(".", "/")):
        parts = list(path.relative_to(root).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        modules[".".join(parts)] = path
    return modules


def imported_names(tree: ast.AST, module: str, is_package: bool) -> Iterator[tuple[str, int]]:
    """Absolute dotted names each import statement in ``tree`` may load, with its line.

    Every statement counts, wherever it is: module level, inside functions and methods, and under
    ``if TYPE_CHECKING:``. Type-only imports count on purpose: a cycle that exists only for the type
    checker still ties two stages together both ways, which is what the one-way data flow forbids.
    ``from X import y`` yields ``X.y``: a submodule if there is one, else a name of module ``X``.
    """
    package = module if is_package else module.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node.lineno
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                anchor = ".".join(parts[:len(parts) - (node.level - 1)])
                base = f"{anchor}.{base}" if base else anchor
            for alias in node.names:
                yield f"{base}.{alias.name}", node.lineno


def import_graph(root: Path, *packages: str) -> dict[str, set[str]]:
    """Module → the modules of ``packages`` it imports (an import from one package into another is an edge too).

    A name resolves to the longest known module it starts with, so importing package ``rag.foo``
    (or a name defined in its ``__init__.py``) is an edge to ``rag/foo/__init__.py``. The parent
    packages Python initialises on the way (``rag`` for ``rag.foo``, ``rag`` for ``from . import
    foo``) are not edges: every module would otherwise form a cycle with a package ``__init__``
    that re-exports it.
    """
    modules = {name: path for package in packages for name, path in module_names(root, package).items()}
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        for imported, _ in imported_names(_tree(path), name, path.name == "__init__.py"):
            target = imported
            while target and target not in modules:
                target = target.rpartition(".")[0]
            if target and target != name:
                graph[name].add(target)
    return graph


def find_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One cycle per strongly connected component of more than one module, as ``[a, b, …, a]``."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    components: list[set[str]] = []

    def visit(node: str) -> None:  # Tarjan's algorithm; the graph has tens of modules, recursion is fine
        index[node] = low[node] = len(index)
        stack.append(node)
        for target in sorted(graph.get(node, ())):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = set()
            while True:
                member = stack.pop()
                component.add(member)
                if member == node:
                    break
            if len(component) > 1:
                components.append(component)

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return sorted(_cycle_through(min(c), c, graph) for c in components)


def _cycle_through(start: str, component: set[str], graph: dict[str, set[str]]) -> list[str]:
    """The shortest path from ``start`` back to itself inside ``component`` (breadth first)."""
    paths = {start: [start]}
    frontier = [start]
    while frontier:
        following = []
        for node in frontier:
            for target in sorted(graph[node] & component):
                if target == start:
                    return [*paths[node], start]
                if target not in paths:
                    paths[target] = [*paths[node], target]
                    following.append(target)
        frontier = following
    raise AssertionError(f"{start} is in a component without a cycle")  # pragma: no cover


def long_functions(tree: ast.AST, limit: int) -> Iterator[tuple[str, int, int]]:
    """(qualified name, line, length) of every function, method or nested function over ``limit`` lines."""

    def walk(node: ast.AST, prefix: str) -> Iterator[tuple[str, int, int]]:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):
                name = f"{prefix}{child.name}"
                length = (child.end_lineno or child.lineno) - child.lineno + 1  # from `def`, decorators excluded
                if length > limit:
                    yield name, child.lineno, length
                yield from walk(child, f"{name}.")
            elif isinstance(child, ast.ClassDef):
                yield from walk(child, f"{prefix}{child.name}.")
            else:
                yield from walk(child, prefix)

    yield from walk(tree, "")


def environment_reads(tree: ast.AST) -> Iterator[int]:
    """Lines that read the environment: ``os.environ``, ``os.getenv``, or ``environ``/``getenv`` from os."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr in ENV_NAMES:
            yield node.lineno
        elif isinstance(node, ast.Name) and node.id in ENV_NAMES:
            yield node.lineno
        elif isinstance(node, ast.ImportFrom) and node.module == "os" and any(
                a.name in ENV_NAMES for a in node.names):
            yield node.lineno


def public_names(init: Path) -> set[str]:
    """``__all__`` of a package, read from its ``__init__.py`` (``__all__ = [...]`` and ``+= [...]``)."""
    names: set[str] = set()
    for node in _tree(init).body:
        targets = node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(
            node, ast.AugAssign | ast.AnnAssign) else []
        if any(isinstance(t, ast.Name) and t.id == "__all__" for t in targets) and node.value is not None:
            names |= set(ast.literal_eval(node.value))
    return names


def private_uses(tree: ast.AST, public: set[str]) -> Iterator[tuple[int, str]]:
    """(line, what) for every use of ``rag`` other than a public name of the top-level package."""
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and not node.level and (node.module or "").split(".")[0] == "rag":
            if node.module != "rag":
                yield node.lineno, f"from {node.module} import …"
            yield from ((node.lineno, f"rag.{a.name}") for a in node.names if a.name not in public)
        elif isinstance(node, ast.Import):
            yield from ((node.lineno, f"import {a.name}") for a in node.names if a.name.startswith("rag."))
        elif (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "rag"
              and node.attr not in public):
            yield node.lineno, f"rag.{node.attr}"


def _lines(problems: list[str]) -> str:
    return "\n  " + "\n  ".join(problems)


# ---- the rules on this repository ------------------------------------------------------------------

@pytest.mark.parametrize("packages", [("rag",), ("eval",), ("rag", "eval", "tests", "app")],
                         ids=["rag", "eval", "the whole tree"])
def test_no_import_cycles(packages: tuple[str, ...]) -> None:
    cycles = find_cycles(import_graph(ROOT, *packages))
    assert not cycles, (f"import cycles in {', '.join(packages)} (every import counts, TYPE_CHECKING ones too):"
                        + _lines([" → ".join(c) for c in cycles]))


def test_only_the_ui_imports_gradio() -> None:
    problems = []
    for path in _python_files(RAG):
        if _relative(path).startswith("rag/ui/"):
            continue
        module = ".".join(path.relative_to(ROOT).with_suffix("").parts)
        for name, line in imported_names(_tree(path), module, path.name == "__init__.py"):
            if name.split(".")[0] in GRADIO:
                problems.append(f"{_relative(path)}:{line} imports {name}")
    assert not problems, "gradio imported outside rag/ui/:" + _lines(sorted(set(problems)))


def test_no_module_in_rag_is_too_long() -> None:
    lengths = {_relative(p): len(p.read_text(encoding="utf-8").splitlines()) for p in _python_files(RAG)}
    problems = [f"{path}: {n} lines" for path, n in lengths.items() if n > MAX_FILE_LINES]
    assert not problems, f"modules over {MAX_FILE_LINES} lines:" + _lines(problems)


def test_no_function_is_too_long() -> None:
    paths = [*_python_files(RAG), *_python_files(EVAL), *([ROOT / "app.py"] if (ROOT / "app.py").exists() else [])]
    problems = [f"{_relative(path)}:{line} {name}: {length} lines"
                for path in paths for name, line, length in long_functions(_tree(path), MAX_FUNCTION_LINES)]
    assert not problems, f"functions over {MAX_FUNCTION_LINES} lines:" + _lines(problems)


def test_only_entry_points_read_the_environment() -> None:
    problems = [f"{_relative(path)}:{line}" for path in _python_files(RAG) if _relative(path) not in ENTRY_POINTS
                for line in sorted(set(environment_reads(_tree(path))))]
    assert not problems, "environment read below the entry points (pass settings in a Config):" + _lines(problems)


def test_eval_uses_only_the_public_api_of_rag() -> None:
    public = public_names(RAG / "__init__.py")
    problems = [f"{_relative(path)}:{line} {what}" for path in _python_files(EVAL)
                for line, what in private_uses(_tree(path), public)]
    assert not problems, "eval/ uses names outside rag.__all__:" + _lines(problems)


def test_importing_rag_and_its_cli_help_leave_gradio_unloaded() -> None:
    code = ("import contextlib, io, sys\nimport rag, rag.cli\n"
            "with contextlib.suppress(SystemExit), contextlib.redirect_stdout(io.StringIO()):\n"
            "    rag.cli.main(['search', '--help'])\n"
            "loaded = sorted(m for m in sys.modules if m.split('.')[0] in ('gradio', 'gradio_client'))\n"
            "assert not loaded, loaded\n")
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, f"import rag / rag search --help loaded gradio:\n{result.stderr}"


# ---- the checkers themselves, on synthetic packages --------------------------------------------------

def _package(root: Path, files: dict[str, str]) -> Path:
    for name, source in {"pkg/__init__.py": "", **files}.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(source, encoding="utf-8")
    return root


_ACROSS = {"pkg/a.py": "import tool\n", "tool.py": "from other.b import f\n", "other/__init__.py": "",
           "other/b.py": "from pkg import a\n"}  # a cycle through another package and a one-file module


@pytest.mark.parametrize(("files", "packages", "cycles"), [
    ({"pkg/a.py": "from . import b\n", "pkg/b.py": "from .a import x\n"}, ("pkg",), [["pkg.a", "pkg.b", "pkg.a"]]),
    (_ACROSS, ("pkg",), []),
    (_ACROSS, ("pkg", "other", "tool"), [["other.b", "pkg.a", "tool", "other.b"]]),
], ids=["two modules", "across packages, one walked", "across packages, all walked"])
def test_cycles_are_found(tmp_path: Path, files: dict[str, str], packages: tuple[str, ...],
                          cycles: list[list[str]]) -> None:
    assert find_cycles(import_graph(_package(tmp_path, files), *packages)) == cycles


def test_a_cycle_through_a_function_level_import_is_found(tmp_path: Path) -> None:
    root = _package(tmp_path, {
        "pkg/a.py": "def f():\n    from .b import g\n    return g\n",
        "pkg/b.py": "import pkg.c\n",
        "pkg/c.py": "from pkg.a import f\n",
    })
    assert find_cycles(import_graph(root, "pkg")) == [["pkg.a", "pkg.b", "pkg.c", "pkg.a"]]


def test_type_checking_imports_count(tmp_path: Path) -> None:
    root = _package(tmp_path, {
        "pkg/a.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from .b import B\n",
        "pkg/b.py": "from .a import A\n",
    })
    assert find_cycles(import_graph(root, "pkg")) == [["pkg.a", "pkg.b", "pkg.a"]]


def test_parent_relative_imports_resolve_to_the_package_init(tmp_path: Path) -> None:
    root = _package(tmp_path, {
        "pkg/answer/__init__.py": "from ..sub.x import q\n",
        "pkg/sub/__init__.py": "",
        "pkg/sub/x.py": "from ..answer import z\nfrom .. import config\n",
        "pkg/config.py": "",
    })
    graph = import_graph(root, "pkg")
    assert graph["pkg.sub.x"] == {"pkg.answer", "pkg.config"}
    assert find_cycles(graph) == [["pkg.answer", "pkg.sub.x", "pkg.answer"]]


def test_one_way_imports_are_no_cycle(tmp_path: Path) -> None:
    root = _package(tmp_path, {
        "pkg/__init__.py": "from .a import f\nfrom .b import g\n",
        "pkg/a.py": "from .b import g\nimport os\n",
        "pkg/b.py": "from . import c\n",
        "pkg/c.py": "import json\n",
    })
    graph = import_graph(root, "pkg")
    assert graph == {"pkg": {"pkg.a", "pkg.b"}, "pkg.a": {"pkg.b"}, "pkg.b": {"pkg.c"}, "pkg.c": set()}
    assert find_cycles(graph) == []


def test_long_functions_are_named_with_their_class_and_outer_function() -> None:
    def block(indent: int) -> str:
        return "".join(f"{' ' * indent}x{n} = {n}\n" for n in range(60))

    source = (f"class K:\n    @property\n    def short(self):\n        pass\n\n    def long(self):\n{block(8)}\n"
              f"def outer():\n    def inner():\n{block(8)}    return inner\n")
    assert list(long_functions(ast.parse(source), 60)) == [("K.long", 6, 61), ("outer", 68, 63),
                                                           ("outer.inner", 69, 61)]


@pytest.mark.parametrize(("source", "lines"), [
    ("import os\nkey = os.environ['K']\n", [2]),
    ("import os\nkey = os.environ.get('K')\n", [2]),
    ("import os\nkey = os.getenv('K')\n", [2]),
    ("from os import environ\nkey = environ['K']\n", [1, 2]),
    ("import os\npath = os.path.join('a', 'b')\n", []),
])
def test_environment_reads_are_found(source: str, lines: list[int]) -> None:
    assert sorted(set(environment_reads(ast.parse(source)))) == lines


def test_private_uses_of_rag_are_found() -> None:
    source = ("from rag import Index, _secret\nfrom rag.store import IndexError_\nimport rag.chunk\nimport rag\n"
              "rag.Index\nrag.answer\nfrom .gold import load_gold\n")
    assert list(private_uses(ast.parse(source), {"Index"})) == [
        (1, "rag._secret"), (2, "from rag.store import …"), (2, "rag.IndexError_"), (3, "import rag.chunk"),
        (6, "rag.answer")]
