"""The lean install: runtime and development requirements apart, every version locked with
hashes, and no runtime code importing what only the development set installs."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from tests.conftest import ROOT

RUNTIME_PACKAGES = ["config", "convapi", "trackers", "serving", "jobs", "engine", "interactive"]
DEVELOPMENT_ONLY = {
    "pytest",
    "pytest_django",
    "hypothesis",
    "schemathesis",
    "playwright",
    "rasa_sdk",
}
PIN = re.compile(r"^([A-Za-z0-9_.-]+)(?:\[[^\]]*\])?==([^\s;\\]+)")


def normalized(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def pins(path: Path) -> dict[str, str]:
    """``name==version`` lines of a requirements file, following ``-r`` includes."""
    found: dict[str, str] = {}
    for line in path.read_text().splitlines():
        if line.startswith("-r "):
            found.update(pins(path.parent / line.split(maxsplit=1)[1]))
        elif match := PIN.match(line):
            found[normalized(match[1])] = match[2]
    return found


@pytest.mark.parametrize(
    ("requirements", "lock"),
    [("requirements.txt", "requirements.lock"), ("requirements-dev.txt", "requirements-dev.lock")],
)
def test_it_locks_every_requirement_at_its_pinned_version(requirements, lock):
    wanted = pins(ROOT / requirements)
    locked = pins(ROOT / lock)
    stale = {name: version for name, version in wanted.items() if locked.get(name) != version}
    assert not stale, f"{lock} is out of date; regenerate it (command at its top): {stale}"


@pytest.mark.parametrize("lock", ["requirements.lock", "requirements-dev.lock"])
def test_it_pins_every_locked_package_with_hashes(lock):
    text = (ROOT / lock).read_text()
    entries = re.findall(r"^[A-Za-z0-9].*$(?:\n    .*$)*", text, flags=re.MULTILINE)
    assert len(entries) > 20
    for entry in entries:
        assert PIN.match(entry), entry
        assert "--hash=sha256:" in entry, entry


def test_the_runtime_set_leaves_out_the_tools_spacy_and_matplotlib():
    runtime = pins(ROOT / "requirements.lock")
    tools = ["pytest", "schemathesis", "hypothesis", "playwright", "ruff", "rasa-sdk"]
    for tool in [*tools, "spacy", "matplotlib"]:
        assert tool not in runtime, tool
    assert {"spacy", "matplotlib"} <= set(pins(ROOT / "requirements-dev.lock"))


def imports(tree: ast.AST) -> list[tuple[ast.stmt, str]]:
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node, alias.name.split(".")[0]) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.append((node, node.module.split(".")[0]))
    return found


def test_runtime_code_imports_no_development_tool_and_the_optional_extras_only_when_used():
    for package in RUNTIME_PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            tree = ast.parse(path.read_text(), filename=str(path))
            for node, module in imports(tree):
                assert module not in DEVELOPMENT_ONLY, f"{path} imports {module}"
                # spaCy and matplotlib are optional: imported inside the function that
                # needs them, never at the top of a module (the engine loads without them).
                optional = module in ("spacy", "matplotlib")
                assert not optional or node not in tree.body, f"{path} imports {module}"
