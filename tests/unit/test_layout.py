"""The layers stay layers: checked from the source, every import counted, at any depth.

- no import cycle inside `pytest_mcpperf` (function-level imports included);
- only the CLI package itself and the CLI's own tests import `pytest_mcpperf.cli`;
- `engine/` and `analysis/` import neither pytest nor argparse.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "pytest_mcpperf"


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _imports(path: Path) -> Iterator[str]:
    """Every module name an import statement in `path` names, at any depth."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    package = (
        _module_name(path) if path.name == "__init__.py" else _module_name(path).rpartition(".")[0]
    )
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            yield base
            yield from (f"{base}.{alias.name}" for alias in node.names)
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "import_module"
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            yield node.args[0].value


def _internal_edges(path: Path) -> set[str]:
    """The package modules `path` imports (a `from pkg import submodule` counts once)."""
    return {name for name in _imports(path) if name in MODULES}


def _graph() -> dict[str, set[str]]:
    graph = {}
    for name, path in MODULES.items():
        edges = _internal_edges(path)
        # `from pytest_mcpperf.engine import report` names both the package and the
        # module: keep the most specific one only.
        graph[name] = {e for e in edges if not any(o.startswith(e + ".") for o in edges)}
        graph[name].discard(name)
    return graph


def _find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt) :], nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_the_module_list_is_real() -> None:
    assert {
        "pytest_mcpperf.engine.runner",
        "pytest_mcpperf.analysis.memory",
        "pytest_mcpperf.cli",
    } <= set(MODULES)


def test_no_import_cycle_inside_the_package() -> None:
    cycle = _find_cycle(_graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


def test_the_cycle_finder_finds_one() -> None:
    assert _find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]


def _outside_the_cli() -> Iterator[Path]:
    yield from (
        p
        for n, p in MODULES.items()
        if n != "pytest_mcpperf.cli" and not n.startswith("pytest_mcpperf.cli.")
    )
    yield from sorted((ROOT / "scenarios").rglob("*.py"))
    yield from (
        p
        for p in sorted((ROOT / "tests").rglob("*.py"))
        if not p.name.startswith("test_cli") and p.name != "test_layout.py"
    )
    yield ROOT / "conftest.py"


@pytest.mark.parametrize("path", list(_outside_the_cli()), ids=lambda p: str(p.relative_to(ROOT)))
def test_only_the_cli_and_its_tests_import_the_cli(path: Path) -> None:
    bad = sorted(
        n
        for n in _imports(path)
        if n == "pytest_mcpperf.cli" or n.startswith("pytest_mcpperf.cli.")
    )
    assert not bad, f"{path.relative_to(ROOT)} imports {bad}: the CLI is only a front end"


@pytest.mark.parametrize("layer", ["engine", "analysis"])
def test_engine_and_analysis_know_no_front_end(layer: str) -> None:
    offenders = {}
    for name, path in MODULES.items():
        if name.startswith(f"pytest_mcpperf.{layer}"):
            used = {n.split(".")[0] for n in _imports(path)}
            if used & {"pytest", "_pytest", "argparse"}:
                offenders[name] = sorted(used & {"pytest", "_pytest", "argparse"})
    assert not offenders, offenders


def test_test_modules_have_unique_basenames() -> None:
    """pytest imports tests/unit, tests/e2e, tests/plugin and scenarios by basename (no
    packages): two test files of one name stop collection of the whole suite."""
    root = Path(__file__).resolve().parents[2]
    seen: dict[str, Path] = {}
    for folder in ("tests/unit", "tests/e2e", "tests/plugin", "tests/browser", "scenarios"):
        for path in sorted((root / folder).glob("test_*.py")):
            assert path.name not in seen, f"{path} has the name of {seen[path.name]}"
            seen[path.name] = path
