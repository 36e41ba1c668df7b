"""A bot's ``config.yml``: recipe, language, assistant id, NLU pipeline and policies.

Missing or empty ``pipeline`` / ``policies`` sections fall back to Rasa's default configuration
(the one commented out in a freshly created bot's ``config.yml``), so an unchanged Rasa bot
trains the same components here as it would there.
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from engine.errors import BotError, ConfigError
from engine.yaml_bounds import BoundedSafeLoader

DEFAULT_RECIPE = "default.v1"
KNOWN_RECIPES = ("default.v1", "graph.v1")
DEFAULT_LANGUAGE = "en"

DEFAULT_PIPELINE: list[dict[str, Any]] = [
    {"name": "WhitespaceTokenizer"},
    {"name": "RegexFeaturizer"},
    {"name": "LexicalSyntacticFeaturizer"},
    {"name": "CountVectorsFeaturizer"},
    {"name": "CountVectorsFeaturizer", "analyzer": "char_wb", "min_ngram": 1, "max_ngram": 4},
    {"name": "DIETClassifier", "epochs": 100},
    {"name": "EntitySynonymMapper"},
    {"name": "ResponseSelector", "epochs": 100},
    {"name": "FallbackClassifier", "threshold": 0.3, "ambiguity_threshold": 0.1},
]

# Rasa 3.6's defaults, in its order.
DEFAULT_POLICIES: list[dict[str, Any]] = [
    {"name": "MemoizationPolicy"},
    {"name": "RulePolicy"},
    {"name": "UnexpecTEDIntentPolicy", "max_history": 5, "epochs": 100},
    {"name": "TEDPolicy", "max_history": 5, "epochs": 100},
]


# --- YAML ---------------------------------------------------------------------------------


class _Yaml12Loader(BoundedSafeLoader):
    """Safe loader reading plain scalars as YAML 1.2's core schema does, as Rasa reads bots
    (ruamel.yaml, version 1.2): ``yes``/``no``/``on`` stay text, ``12:30`` stays text (1.1
    made it 750), ``010`` is ten (1.1: eight), ``0o10`` eight; a key given twice in one
    mapping is refused, as Rasa refuses it. A document whose aliases or nesting are out of
    proportion to its size is refused before it is built (``engine/yaml_bounds.py``)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = self.construct_object(key_node, deep=True)
            try:
                duplicate = key in seen
                seen.add(key)
            except TypeError:
                continue  # an unhashable key: the base constructor refuses it
            if duplicate:
                raise yaml.constructor.ConstructorError(
                    "while constructing a mapping",
                    node.start_mark,
                    f"found duplicate key '{key}'",
                    key_node.start_mark,
                )
        return super().construct_mapping(node, deep=deep)


def _yaml12_int(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> int:
    text = loader.construct_scalar(node)
    if text.startswith("0o"):
        return int(text[2:], 8)
    if text.startswith("0x"):
        return int(text[2:], 16)
    return int(text, 10)


_YAML12_RESOLVERS = [
    ("tag:yaml.org,2002:bool", r"true|True|TRUE|false|False|FALSE", "tTfF"),
    ("tag:yaml.org,2002:int", r"[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+", "-+0123456789"),
    (
        "tag:yaml.org,2002:float",
        r"[-+]?(?:\.[0-9]+|[0-9]+\.[0-9]*)(?:[eE][-+]?[0-9]+)?|[-+]?[0-9]+[eE][-+]?[0-9]+"
        r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN)",
        "-+.0123456789",
    ),
]
_Yaml12Loader.yaml_implicit_resolvers = {
    first: [
        (tag, regexp)
        for tag, regexp in resolvers
        if tag not in {resolver_tag for resolver_tag, _, _ in _YAML12_RESOLVERS}
    ]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
for _tag, _pattern, _first in _YAML12_RESOLVERS:
    _Yaml12Loader.add_implicit_resolver(_tag, re.compile(f"^(?:{_pattern})$"), list(_first))
_Yaml12Loader.add_constructor("tag:yaml.org,2002:int", _yaml12_int)


def read_yaml(text: str, *, source: str | None = None, error: type[BotError] = BotError) -> Any:
    """Parse one YAML document as Rasa does (YAML 1.2: an intent called ``yes`` stays text);
    a syntax error becomes ``error`` naming file, line and column."""
    try:
        return yaml.load(text, Loader=_Yaml12Loader)  # noqa: S506 - a safe loader subclass
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise error(f"invalid YAML{where}: {problem}", file=source) from exc


def read_yaml_file(path: Path) -> Any:
    """Read and parse a YAML file, turning I/O and syntax errors into BotErrors."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise BotError(f"cannot read the file: {exc}", file=str(path)) from exc
    return read_yaml(text, source=str(path))


# --- config -------------------------------------------------------------------------------


@dataclass
class BotConfig:
    """The parsed ``config.yml``, with Rasa's defaults filled in where sections are missing."""

    recipe: str = DEFAULT_RECIPE
    language: str = DEFAULT_LANGUAGE
    assistant_id: str | None = None
    pipeline: list[dict[str, Any]] = field(default_factory=lambda: copy.deepcopy(DEFAULT_PIPELINE))
    policies: list[dict[str, Any]] = field(default_factory=lambda: copy.deepcopy(DEFAULT_POLICIES))
    default_pipeline: bool = True
    default_policies: bool = True
    source: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """The effective configuration (defaults written out), as stored in a model archive."""
        data: dict[str, Any] = {"recipe": self.recipe, "language": self.language}
        if self.assistant_id is not None:
            data["assistant_id"] = self.assistant_id
        data["pipeline"] = copy.deepcopy(self.pipeline)
        data["policies"] = copy.deepcopy(self.policies)
        return data

    def as_yaml(self) -> str:
        return yaml.safe_dump(self.as_dict(), sort_keys=False, allow_unicode=True)

    def fingerprint(self) -> str:
        """Hash of what training reads (the assistant id does not change what is learned)."""
        payload = {k: v for k, v in self.as_dict().items() if k != "assistant_id"}
        text = json.dumps(payload, sort_keys=True, ensure_ascii=False, default=str)
        return hashlib.sha256(text.encode("utf-8")).hexdigest()


def config_from_dict(data: dict[str, Any] | None, *, source: str | None = None) -> BotConfig:
    """Validate a parsed config document and fill in Rasa's defaults."""
    data = data or {}
    if not isinstance(data, dict):
        raise ConfigError("the configuration must be a mapping", file=source)
    recipe = _text_value(data, "recipe", DEFAULT_RECIPE, source)
    if recipe not in KNOWN_RECIPES:
        raise ConfigError(
            f"unknown recipe '{recipe}'; use one of {', '.join(KNOWN_RECIPES)}",
            file=source,
            key="recipe",
        )
    assistant_id = data.get("assistant_id")
    pipeline = _component_list(data, "pipeline", source)
    policies = _component_list(data, "policies", source)
    return BotConfig(
        recipe=recipe,
        language=_text_value(data, "language", DEFAULT_LANGUAGE, source),
        assistant_id=None if assistant_id is None else str(assistant_id),
        pipeline=pipeline if pipeline else copy.deepcopy(DEFAULT_PIPELINE),
        policies=policies if policies else copy.deepcopy(DEFAULT_POLICIES),
        default_pipeline=not pipeline,
        default_policies=not policies,
        source=source,
    )


def config_from_yaml(text: str, *, source: str | None = None) -> BotConfig:
    document = read_yaml(text, source=source)
    if document is not None and not isinstance(document, dict):
        raise ConfigError("the configuration must be a mapping", file=source)
    return config_from_dict(document, source=source)


def load_config(path: str | Path) -> BotConfig:
    """Read a ``config.yml``; a missing file means Rasa's defaults throughout."""
    path = Path(path)
    if not path.exists():
        return BotConfig(source=str(path))
    return config_from_dict(read_yaml_file(path), source=str(path))


def _text_value(data: dict[str, Any], key: str, default: str, source: str | None) -> str:
    value = data.get(key)
    if value is None or value == "":
        return default
    if not isinstance(value, str):
        raise ConfigError(f"'{key}' must be text, got {value!r}", file=source, key=key)
    return value


def _component_list(data: dict[str, Any], key: str, source: str | None) -> list[dict[str, Any]]:
    """The list of ``{name: ..., options...}`` items; each must have a text ``name``."""
    items = data.get(key)
    if items is None:
        return []
    if not isinstance(items, list):
        raise ConfigError(f"'{key}' must be a list of components", file=source, key=key)
    components = []
    for index, item in enumerate(items):
        if not isinstance(item, dict) or not isinstance(item.get("name"), str):
            raise ConfigError(
                f"item {index + 1} must be a mapping with a 'name' (got {item!r})",
                file=source,
                key=key,
            )
        components.append(copy.deepcopy(item))
    return components
