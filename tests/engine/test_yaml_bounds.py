"""Untrusted YAML is read within bounds: aliases and nesting cannot blow a document up."""

from __future__ import annotations

import pytest

from engine.config import read_yaml
from engine.errors import BotError
from engine.project import project_from_yaml_document
from engine.yaml_bounds import SIZE_ALLOWANCE, YamlTooLarge, yaml_bounds_check


def alias_bomb(levels: int = 9, width: int = 9) -> str:
    """ "Billion laughs": each level lists the previous one ``width`` times (9 x 9: 1.5 KB)."""
    lines = [f"lol0: &lol0 [{', '.join(['lol lol lol lol lol'] * width)}]"]
    for level in range(1, levels + 1):
        refs = "".join(f"\n  - *lol{level - 1}" for _ in range(width))
        lines.append(f"lol{level}: &lol{level}{refs}")
    return "nlu:\n  - intent: greet\n    examples: |\n      - hi\n" + "\n".join(lines) + "\n"


def test_it_refuses_a_billion_laughs_document_before_building_it():
    bomb = alias_bomb()
    assert 1_000 < len(bomb.encode()) < 2_000
    with pytest.raises(BotError) as error:
        read_yaml(bomb, source="request body")
    assert "request body" in str(error.value)
    assert "aliases expand" in str(error.value)


def test_it_refuses_it_as_a_training_document_too():
    with pytest.raises(BotError, match="aliases expand"):
        project_from_yaml_document(alias_bomb())


def test_it_refuses_nesting_that_would_crash_the_parser():
    # libyaml's composer recurses: 100,000 levels end the process (SIGSEGV).
    with pytest.raises(BotError, match="nests deeper than"):
        read_yaml("[" * 100_000 + "]" * 100_000, source="x")


def test_it_refuses_an_alias_inside_its_own_anchor():
    with pytest.raises(YamlTooLarge, match="contains it"):
        yaml_bounds_check("a: &loop [1, *loop]\n")


def test_it_reads_modest_aliases_and_yaml_1_2_booleans():
    document = read_yaml("base: &base {a: 1, b: [x, y]}\ncopy: *base\nanswer: yes\n")
    assert document == {
        "base": {"a": 1, "b": ["x", "y"]},
        "copy": {"a": 1, "b": ["x", "y"]},
        "answer": "yes",
    }


def test_it_lets_aliases_expand_up_to_the_allowance():
    # 3 levels of 9 over a long scalar: well inside the allowance, however small the text.
    text = "a: &a " + "x" * 1_000 + "\nb: &b [" + ", ".join(["*a"] * 9) + "]\n"
    text += "c: [" + ", ".join(["*b"] * 9) + "]\n"
    assert SIZE_ALLOWANCE > 81 * 1_000
    assert len(read_yaml(text)["c"]) == 9


def test_it_leaves_syntax_errors_to_the_parser_which_names_the_line():
    with pytest.raises(BotError, match="line 3"):
        read_yaml("a: 1\nb: [\n", source="data.yml")
