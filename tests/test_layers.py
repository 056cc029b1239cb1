"""The package's layers, checked from its source: no import circle, and the statistics wing
imports nothing of the package but its errors.

Every ``import`` and ``from ... import`` counts, at module level or inside a function: a
function-level import is still a dependency, only a later one.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "validators"
MAX_LINES = 750


def module_name(path: Path) -> str:
    parts = ("validators", *path.relative_to(PACKAGE).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def imports_of(path: Path, known: set[str]) -> set[str]:
    """The package's modules that ``path`` imports, relative imports resolved."""
    name = module_name(path)
    here = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = here[: len(here) - (node.level - 1)]
                origin = ".".join(base + ([node.module] if node.module else []))
            else:
                origin = node.module or ""
            # "from pkg import name": name is a submodule when one exists, else an attribute of pkg
            targets = [f"{origin}.{a.name}" if f"{origin}.{a.name}" in known else origin for a in node.names]
        elif (isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", None)) == "import_module"
              and node.args and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)):
            # importlib.import_module(".kinds", __package__): an import all the same
            target = node.args[0].value
            if target.startswith("."):
                level = len(target) - len(target.lstrip("."))
                base = here[: len(here) - (level - 1)]
                rest = target.lstrip(".")
                target = ".".join(base + ([rest] if rest else []))
            targets = [target]
        else:
            continue
        found.update(t for t in targets if t in known)
    found.discard(name)
    return found


def import_graph() -> dict[str, set[str]]:
    mods = modules()
    known = set(mods)
    return {name: imports_of(path, known) for name, path in mods.items()}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import circle as a list of modules (first == last), or None."""
    state: dict[str, int] = {}  # 1 on the stack, 2 done
    stack: list[str] = []

    def visit(node):
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return None


def test_the_package_has_no_import_circle():
    cycle = find_cycle(import_graph())
    assert cycle is None, "import circle: " + " -> ".join(cycle)


def test_import_module_calls_are_edges_too(tmp_path, monkeypatch):
    # the circle the old tree had: registry.load_builtin_kinds did importlib.import_module(".kinds", ...)
    package = tmp_path / "validators"
    (package / "kinds").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "registry.py").write_text("import importlib\n\ndef load():\n"
                                         "    return importlib.import_module('.kinds', __package__)\n")
    (package / "kinds" / "__init__.py").write_text("from ..registry import load\n")
    monkeypatch.setattr(sys.modules[__name__], "PACKAGE", package)
    assert find_cycle(import_graph()) == ["validators.kinds", "validators.registry", "validators.kinds"]


def test_find_cycle_finds_a_circle_and_accepts_a_tree():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b", "c"}, "b": {"c"}, "c": set()}) is None


def test_function_level_and_relative_imports_are_edges():
    graph = import_graph()
    # spec imports the built-in kinds inside a function; baseline picks epochs from the histories wing
    assert "validators.kinds" in graph["validators.spec"]
    assert "validators.artefacts.history" in graph["validators.baseline"]


@pytest.mark.parametrize("name", sorted(n for n in modules() if n.startswith("validators.stats")))
def test_statistics_import_nothing_of_the_package_but_errors(name):
    """The statistics wing stands alone: its modules import each other and ``errors``, nothing else."""
    outside = {n for n in import_graph()[name] if not n.startswith("validators.stats.") and n != "validators.errors"}
    assert not outside, f"{name} imports {sorted(outside)}"


@pytest.mark.parametrize("name", sorted(n for n in modules() if n.startswith("validators.artefacts")))
def test_readers_never_import_checks_reports_or_faces(name):
    upward = {n for n in import_graph()[name]
              if n.startswith(("validators.kinds", "validators.reports")) or n in {
                  "validators.spec", "validators.gate", "validators.cli", "validators.pytest_plugin",
                  "validators.keras", "validators.advice", "validators.baseline"}}
    assert not upward, f"{name} imports {sorted(upward)}"


def test_the_registry_does_not_know_the_builtin_kinds():
    assert not any(n.startswith("validators.kinds") for n in import_graph()["validators.registry"])


@pytest.mark.parametrize("name", sorted(modules()))
def test_every_module_is_at_most_750_lines(name):
    lines = modules()[name].read_text(encoding="utf-8").count("\n")
    assert lines <= MAX_LINES, f"{name} has {lines} lines: two ideas in one module?"
