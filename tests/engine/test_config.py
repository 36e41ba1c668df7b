from __future__ import annotations

from pathlib import Path

import pytest

from engine.config import (
    DEFAULT_PIPELINE,
    DEFAULT_POLICIES,
    config_from_yaml,
    load_config,
    read_yaml,
)
from engine.errors import BotError, ConfigError
from tests.conftest import BOTS


def test_it_uses_rasa_defaults_when_sections_are_commented_out() -> None:
    config = load_config(BOTS / "initbot" / "config.yml")
    assert config.pipeline == DEFAULT_PIPELINE
    assert config.policies == DEFAULT_POLICIES
    assert config.default_pipeline and config.default_policies
    assert config.assistant_id == "placeholder_default"
    assert config.language == "en"
    assert config.recipe == "default.v1"


def test_it_reads_a_given_pipeline_and_policies() -> None:
    config = load_config(BOTS / "formbot" / "config.yml")
    names = [item["name"] for item in config.pipeline]
    assert names[:3] == [
        "WhitespaceTokenizer",
        "LexicalSyntacticFeaturizer",
        "CountVectorsFeaturizer",
    ]
    assert config.pipeline[3]["dimensions"] == ["number"]
    assert [p["name"] for p in config.policies] == [
        "TEDPolicy",
        "AugmentedMemoizationPolicy",
        "RulePolicy",
    ]
    assert not config.default_pipeline
    assert config.assistant_id == "form_bot"


def test_it_defaults_everything_for_an_empty_or_missing_file(tmp_path: Path) -> None:
    assert config_from_yaml("").pipeline == DEFAULT_PIPELINE
    missing = load_config(tmp_path / "config.yml")
    assert missing.language == "en" and missing.policies == DEFAULT_POLICIES


def test_it_writes_the_effective_config_back_as_yaml() -> None:
    config = load_config(BOTS / "clinc150" / "config.yml")
    again = config_from_yaml(config.as_yaml())
    assert again.as_dict() == config.as_dict()
    assert again.fingerprint() == config.fingerprint()


def test_it_changes_the_fingerprint_when_a_component_option_changes() -> None:
    first = config_from_yaml("pipeline:\n- name: WhitespaceTokenizer\n")
    second = config_from_yaml("pipeline:\n- name: WhitespaceTokenizer\n  case_sensitive: true\n")
    renamed = config_from_yaml("assistant_id: other\npipeline:\n- name: WhitespaceTokenizer\n")
    assert first.fingerprint() != second.fingerprint()
    assert first.fingerprint() == renamed.fingerprint()


def test_it_rejects_an_unknown_recipe() -> None:
    with pytest.raises(ConfigError, match="unknown recipe 'fancy.v9'") as info:
        config_from_yaml("recipe: fancy.v9\n", source="config.yml")
    assert info.value.file == "config.yml" and info.value.key == "recipe"


def test_it_rejects_a_component_without_a_name() -> None:
    with pytest.raises(ConfigError, match="item 2 must be a mapping with a 'name'"):
        config_from_yaml("pipeline:\n- name: WhitespaceTokenizer\n- epochs: 3\n")


def test_it_rejects_policies_that_are_not_a_list() -> None:
    with pytest.raises(ConfigError, match="'policies' must be a list"):
        config_from_yaml("policies: RulePolicy\n")


def test_it_reports_bad_yaml_with_file_and_line() -> None:
    with pytest.raises(BotError, match=r"file 'config.yml': invalid YAML at line 4"):
        config_from_yaml("language: en\npipeline:\n  - name: [oops\n", source="config.yml")


def test_it_reads_yaml_booleans_like_rasa() -> None:
    assert read_yaml("a: yes\nb: on\nc: true\nd: False\n") == {
        "a": "yes",
        "b": "on",
        "c": True,
        "d": False,
    }


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("12:30", "12:30"),  # YAML 1.1's sexagesimal 750
        ("1:02:03", "1:02:03"),
        ("010", 10),  # YAML 1.1's octal 8
        ("0o10", 8),
        ("0x1f", 31),
        ("-3", -3),
        ("+7", 7),
        ("1_000", "1_000"),  # YAML 1.1's 1000
        ("0b101", "0b101"),  # YAML 1.1's 5
        ("1.5", 1.5),
        (".5", 0.5),
        ("1e3", 1000.0),
        ("-.inf", float("-inf")),
        ("~", None),
        ("null", None),
        ("Yes", "Yes"),
        ("TRUE", True),
    ],
)
def test_it_reads_scalars_as_yaml_1_2_does(text: str, value: object) -> None:
    assert read_yaml(f"a: {text}\n") == {"a": value}
    assert type(read_yaml(f"a: {text}\n")["a"]) is type(value)


def test_it_refuses_a_key_given_twice_naming_the_line() -> None:
    text = "nlu:\n- intent: greet\n  examples: |\n    - hi\n  intent: bye\n"
    with pytest.raises(BotError, match="line 5, column 3: found duplicate key 'intent'"):
        read_yaml(text, source="data/nlu.yml")


def test_anchors_and_merge_keys_still_work() -> None:
    text = "base: &b {x: 1, y: 2}\nmerged:\n  <<: *b\n  y: 3\nalias: *b\n"
    assert read_yaml(text) == {
        "base": {"x": 1, "y": 2},
        "merged": {"x": 1, "y": 3},
        "alias": {"x": 1, "y": 2},
    }


def test_every_reference_bot_reads_as_before() -> None:
    for path in sorted(BOTS.glob("*/**/*.yml")):
        read_yaml(path.read_text(encoding="utf-8"), source=str(path))  # no duplicate keys
