"""The package layout of ARCHITECTURE.md: imports point one way, and the engine is pure Python.

Every import of every module outside ``tests/`` counts, those inside functions too: a
deferred import is still a dependency.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

from tests.conftest import ROOT

PACKAGES = ("config", "convapi", "serving", "trackers", "jobs", "engine", "interactive")


def imported_modules(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
    return names


def package_imports() -> dict[str, set[str]]:
    """Which of our packages each of our packages imports (itself left out)."""
    graph: dict[str, set[str]] = defaultdict(set)
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            for name in imported_modules(path):
                top = name.split(".")[0]
                if top in PACKAGES and top != package:
                    graph[package].add(top)
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of the graph as a path that ends where it starts, or None."""
    visiting: list[str] = []
    done: set[str] = set()

    def visit(node: str) -> list[str] | None:
        if node in visiting:
            return [*visiting[visiting.index(node) :], node]
        if node in done:
            return None
        visiting.append(node)
        for target in sorted(graph.get(node, ())):
            cycle = visit(target)
            if cycle:
                return cycle
        visiting.pop()
        done.add(node)
        return None

    for node in sorted(graph):
        cycle = visit(node)
        if cycle:
            return cycle
    return None


def test_no_package_imports_one_that_imports_it_back():
    cycle = find_cycle(package_imports())
    assert cycle is None, " -> ".join(cycle or [])


def test_the_cycle_finder_finds_a_cycle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_the_layers_point_down():
    graph = package_imports()
    assert graph["engine"] == set(), "the engine imports none of the Django packages"
    assert graph["jobs"] <= {"engine"}, "jobs/ knows nothing of serving or conversations"
    assert graph["serving"] <= {"engine", "jobs"}
    assert graph["trackers"] <= {"engine", "jobs", "serving"}
    assert graph["interactive"] <= {"engine"}


def test_the_engine_imports_no_django():
    for path in (ROOT / "engine").rglob("*.py"):
        third_party = {name.split(".")[0] for name in imported_modules(path)}
        assert not third_party & {"django", "rest_framework", "celery"}, path
