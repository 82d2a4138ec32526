"""Imports run one way: commands -> library -> model. Read from the source with `ast`, nothing is imported."""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "pbr_cli"


@dataclass
class Module:
    name: str  # dotted, e.g. pbr_cli.model.run
    path: Path
    top_level: set[str] = field(default_factory=set)  # pbr_cli modules imported when the module is imported
    anywhere: set[str] = field(default_factory=set)  # ... or inside a function, or for type checking only


def _module_name(path: Path) -> tuple[str, bool]:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    is_package = parts[-1] == "__init__"
    return ".".join(parts[:-1] if is_package else parts), is_package


def _is_type_checking(node: ast.AST) -> bool:
    test = getattr(node, "test", None)
    return isinstance(node, ast.If) and (
        (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING")
        or (isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")
    )


def _targets(node: ast.Import | ast.ImportFrom, package: list[str]) -> list[str]:
    """The dotted names an import statement in a module of `package` may import (X, and X.name for `from X`)."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    base = package[: len(package) - node.level + 1] if node.level else []
    stem = ".".join(base + (node.module.split(".") if node.module else []))
    return [stem] + [f"{stem}.{alias.name}" for alias in node.names]


def _record_imports(node: ast.AST, module: Module, package: list[str], known: set[str], top_level: bool) -> None:
    for child in ast.iter_child_nodes(node):
        if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)) or _is_type_checking(child):
            _record_imports(child, module, package, known, False)
        elif isinstance(child, (ast.Import, ast.ImportFrom)):
            for target in _targets(child, package):
                if target in known and target != module.name:
                    module.anywhere.add(target)
                    if top_level:
                        module.top_level.add(target)
        else:
            _record_imports(child, module, package, known, top_level)


def read_modules() -> dict[str, Module]:
    """Every module of pbr_cli and the pbr_cli modules it imports (a `from X import name` counts X and X.name)."""
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        name, is_package = _module_name(path)
        found[name] = (path, is_package)
    modules = {name: Module(name, path) for name, (path, _) in found.items()}
    for name, (path, is_package) in found.items():
        package = name.split(".") if is_package else name.split(".")[:-1]
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        _record_imports(tree, modules[name], package, set(modules), True)
    return modules


@pytest.fixture(scope="module")
def modules() -> dict[str, Module]:
    return read_modules()


def find_cycle(graph: dict[str, set[str]]) -> list[str]:
    """One import cycle of `graph` as [a, b, ..., a], or [] when there is none."""
    state: dict[str, str] = {}
    stack: list[str] = []

    def walk(node: str) -> list[str]:
        state[node] = "open"
        stack.append(node)
        for other in sorted(graph[node]):
            if state.get(other) == "open":
                return stack[stack.index(other) :] + [other]
            if other not in state:
                cycle = walk(other)
                if cycle:
                    return cycle
        state[node] = "done"
        stack.pop()
        return []

    for node in sorted(graph):
        if node not in state:
            cycle = walk(node)
            if cycle:
                return cycle
    return []


def test_the_module_level_imports_of_pbr_cli_have_no_cycle(modules):
    cycle = find_cycle({name: module.top_level for name, module in modules.items()})
    assert not cycle, "import cycle: " + " -> ".join(cycle)


def test_find_cycle_finds_a_cycle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) == []


def test_only_the_cli_imports_the_commands(modules):
    allowed = {"pbr_cli.cli"}
    offenders = {
        name: sorted(target for target in module.anywhere if target.startswith("pbr_cli.commands"))
        for name, module in modules.items()
        if not name.startswith("pbr_cli.commands") and name not in allowed
    }
    assert not {name: targets for name, targets in offenders.items() if targets}


def test_the_weights_module_is_a_leaf_of_the_model_package(modules):
    weights = modules["pbr_cli.model.weights"]
    assert not {target for target in weights.anywhere if target.startswith("pbr_cli.model")}


def test_within_the_model_package_only_the_run_module_builds_the_model(modules):
    importers = {
        name
        for name, module in modules.items()
        if name.startswith("pbr_cli.model") and "pbr_cli.model.pbr" in module.anywhere
    }
    assert importers == {"pbr_cli.model.run"}


def test_the_model_package_has_no_cycle_even_through_function_imports(modules):
    graph = {
        name: {target for target in module.anywhere if target.startswith("pbr_cli.model")}
        for name, module in modules.items()
        if name.startswith("pbr_cli.model")
    }
    cycle = find_cycle(graph)
    assert not cycle, "import cycle: " + " -> ".join(cycle)
