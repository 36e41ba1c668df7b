"""NLU training data: Rasa 3.x YAML (`nlu:` key) and the older Rasa NLU JSON format.

Both readers build one ``NLUTrainingData`` so the pipeline never cares where examples came from.
Entity annotations are parsed out of the example text here, once, into character offsets.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from engine.config import read_yaml
from engine.errors import BotError

# `[text](entity)`, `[text](entity:value)` (legacy) or `[text]{"entity": ...}`.
_ANNOTATION = re.compile(r"\[(?P<text>[^\]]+?)\](?:\((?P<paren>[^)]+?)\)|(?P<brace>\{[^}]*?\}))")
_LIST_ITEM = re.compile(r"^\s*-\s?(?P<item>.*)$")
_ENTITY_KEYS = {"entity", "role", "group", "value"}
RESPONSE_KEY_SEPARATOR = "/"


@dataclass
class Example:
    """One training utterance; ``intent`` is the base intent of a retrieval intent."""

    text: str
    intent: str | None = None
    entities: list[dict[str, Any]] = field(default_factory=list)
    response_key: str | None = None
    metadata: dict[str, Any] | None = None

    @property
    def full_intent(self) -> str | None:
        """``faq/ask_name`` for a retrieval intent, the plain intent otherwise."""
        if self.intent and self.response_key:
            return f"{self.intent}{RESPONSE_KEY_SEPARATOR}{self.response_key}"
        return self.intent


@dataclass
class NLUTrainingData:
    """Examples plus the lexical resources (synonyms, regexes, lookup tables) of a bot."""

    examples: list[Example] = field(default_factory=list)
    synonyms: dict[str, str] = field(default_factory=dict)
    regexes: list[dict[str, str]] = field(default_factory=list)
    lookups: list[dict[str, Any]] = field(default_factory=list)

    @property
    def intents(self) -> set[str]:
        return {ex.intent for ex in self.examples if ex.intent}

    @property
    def entities(self) -> set[str]:
        return {ent["entity"] for ex in self.examples for ent in ex.entities}

    @property
    def retrieval_intents(self) -> set[str]:
        return {ex.intent for ex in self.examples if ex.intent and ex.response_key}

    @property
    def intent_examples(self) -> list[Example]:
        return [ex for ex in self.examples if ex.intent]

    def merge(self, *others: NLUTrainingData) -> NLUTrainingData:
        """A new object holding this data followed by the others' (later synonyms win)."""
        merged = NLUTrainingData(
            list(self.examples), dict(self.synonyms), list(self.regexes), list(self.lookups)
        )
        for other in others:
            merged.examples.extend(other.examples)
            merged.synonyms.update(other.synonyms)
            merged.regexes.extend(r for r in other.regexes if r not in merged.regexes)
            merged.lookups.extend(other.lookups)
        return merged

    def fingerprint(self) -> str:
        """A stable hash of everything training reads, used to skip unneeded retraining."""
        payload = {
            "examples": [asdict(ex) for ex in self.examples],
            "synonyms": sorted(self.synonyms.items()),
            "regexes": self.regexes,
            "lookups": self.lookups,
        }
        text = json.dumps(payload, sort_keys=True, ensure_ascii=False, default=str)
        return hashlib.sha256(text.encode("utf-8")).hexdigest()

    def is_empty(self) -> bool:
        return not (self.examples or self.regexes or self.lookups or self.synonyms)


# --- entity annotations -------------------------------------------------------------------


def parse_annotated_text(
    annotated: str, *, source: str | None = None
) -> tuple[str, list[dict[str, Any]]]:
    """Strip ``[text](entity)`` markup; return the plain text and entities with offsets."""
    entities: list[dict[str, Any]] = []
    plain: list[str] = []
    cursor = 0
    offset = 0
    for match in _ANNOTATION.finditer(annotated):
        plain.append(annotated[cursor : match.start()])
        offset += match.start() - cursor
        entity_text = match.group("text")
        entity = _annotation_fields(match, annotated, source)
        start, end = offset, offset + len(entity_text)
        value = entity.pop("value", None)
        entities.append(
            {"start": start, "end": end, "value": entity_text if value is None else value, **entity}
        )
        plain.append(entity_text)
        offset = end
        cursor = match.end()
    plain.append(annotated[cursor:])
    return "".join(plain), entities


def _annotation_fields(match: re.Match[str], example: str, source: str | None) -> dict[str, Any]:
    if match.group("paren") is not None:
        name, _, value = match.group("paren").partition(":")
        fields: dict[str, Any] = {"entity": name.strip()}
        if value:
            fields["value"] = value.strip()
        return fields
    try:
        fields = json.loads(match.group("brace"))
    except json.JSONDecodeError as exc:
        raise BotError(
            f"the entity annotation {match.group(0)!r} in the example {example!r} "
            f"is not valid JSON ({exc.msg})",
            file=source,
        ) from exc
    unknown = set(fields) - _ENTITY_KEYS if isinstance(fields, dict) else set()
    if not isinstance(fields, dict) or "entity" not in fields or unknown:
        raise BotError(
            f"the entity annotation {match.group(0)!r} in the example {example!r} needs "
            f"an 'entity' key and only the keys {sorted(_ENTITY_KEYS)}",
            file=source,
        )
    return {key: value for key, value in fields.items() if value is not None}


def _check_leftover_markup(text: str, example: str, source: str | None) -> None:
    if re.search(r"\[[^\]]+\]\s*[({]", text):
        raise BotError(
            f"the entity annotation in the example {example!r} is malformed", file=source
        )


# --- YAML -----------------------------------------------------------------------------------


def nlu_data_from_yaml(text: str, *, source: str | None = None) -> NLUTrainingData:
    """Read the ``nlu:`` part of a Rasa YAML document; other top-level keys are ignored."""
    document = read_yaml(text, source=source)
    if document is None:
        return NLUTrainingData()
    if not isinstance(document, dict):
        raise BotError("the document must be a mapping with an 'nlu' key", file=source)
    return nlu_data_from_dict(document, source=source)


def nlu_data_from_dict(data: dict[str, Any], *, source: str | None = None) -> NLUTrainingData:
    """Build training data from an already-parsed YAML document."""
    items = data.get("nlu") or []
    if not isinstance(items, list):
        raise BotError("'nlu' must be a list of items", file=source, key="nlu")
    result = NLUTrainingData()
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            raise BotError(f"item {index + 1} must be a mapping", file=source, key="nlu")
        _read_item(item, result, source)
    return result


def _read_item(item: dict[str, Any], result: NLUTrainingData, source: str | None) -> None:
    if "intent" in item:
        _read_intent(item, result, source)
    elif "synonym" in item:
        canonical = str(item["synonym"])
        for variant in _item_examples(item, source, "synonym"):
            result.synonyms[variant.lower()] = canonical
    elif "regex" in item:
        for pattern in _item_examples(item, source, "regex"):
            result.regexes.append({"name": str(item["regex"]), "pattern": pattern})
    elif "lookup" in item:
        elements = _item_examples(item, source, "lookup")
        result.lookups.append({"name": str(item["lookup"]), "elements": elements})
    else:
        keys = ", ".join(map(str, item))
        raise BotError(
            f"unknown NLU item with keys [{keys}]; expected intent, synonym, regex or lookup",
            file=source,
            key="nlu",
        )


def _read_intent(item: dict[str, Any], result: NLUTrainingData, source: str | None) -> None:
    full_name = str(item["intent"])
    intent, _, response_key = full_name.partition(RESPONSE_KEY_SEPARATOR)
    intent_metadata = item.get("metadata")
    for raw, metadata in _intent_examples(item, source):
        text, entities = parse_annotated_text(raw, source=source)
        _check_leftover_markup(text, raw, source)
        merged_meta = _merge_metadata(intent_metadata, metadata)
        example = Example(text, intent, entities, response_key or None, merged_meta)
        result.examples.append(example)
        _add_entity_synonyms(example, result.synonyms)


def _merge_metadata(intent_meta: Any, example_meta: Any) -> dict[str, Any] | None:
    if intent_meta is None and example_meta is None:
        return None
    merged: dict[str, Any] = {}
    if intent_meta is not None:
        merged["intent"] = intent_meta
    if example_meta is not None:
        merged["example"] = example_meta
    return merged


def _add_entity_synonyms(example: Example, synonyms: dict[str, str]) -> None:
    """An annotation whose value differs from its text makes the text a synonym (as Rasa)."""
    for entity in example.entities:
        surface = example.text[entity["start"] : entity["end"]]
        value = entity["value"]
        if isinstance(value, str) and surface != value:
            synonyms[surface.lower()] = value


def _intent_examples(item: dict[str, Any], source: str | None) -> list[tuple[str, Any]]:
    raw = item.get("examples")
    if isinstance(raw, list):
        pairs = []
        for entry in raw:
            if isinstance(entry, dict) and "text" in entry:
                pairs.append((str(entry["text"]).strip(), entry.get("metadata")))
            elif isinstance(entry, str):
                pairs.append((entry.strip(), None))
            else:
                raise BotError(
                    f"an example of intent '{item['intent']}' must be text or have a 'text' key",
                    file=source,
                    key="examples",
                )
        return pairs
    return [(text, None) for text in _item_examples(item, source, "intent")]


def _item_examples(item: dict[str, Any], source: str | None, kind: str) -> list[str]:
    """The lines of an ``examples: |`` block (``- `` list syntax inside a string)."""
    raw = item.get("examples")
    if raw is None:
        raise BotError(f"{kind} '{item[kind]}' has no 'examples'", file=source, key=kind)
    if isinstance(raw, list):
        return [str(entry).strip() for entry in raw]
    if not isinstance(raw, str):
        raise BotError(f"the examples of {kind} '{item[kind]}' must be text", file=source)
    lines = []
    for line in raw.splitlines():
        if not line.strip():
            continue
        match = _LIST_ITEM.match(line)
        if not match:
            raise BotError(
                f"the examples of {kind} '{item[kind]}' must be a list of '- ' lines; "
                f"got {line.strip()!r}",
                file=source,
                key="examples",
            )
        lines.append(match.group("item").strip())
    return [line for line in lines if line]


# --- Rasa NLU JSON ------------------------------------------------------------------------


def nlu_data_from_rasa_json(data: dict[str, Any]) -> NLUTrainingData:
    """Read ``{"rasa_nlu_data": {"common_examples": [...], ...}}`` (the API's JSON body)."""
    body = data.get("rasa_nlu_data") if isinstance(data, dict) else None
    if not isinstance(body, dict):
        raise BotError("Rasa NLU JSON needs a 'rasa_nlu_data' object", key="rasa_nlu_data")
    result = NLUTrainingData()
    for entry in body.get("common_examples") or []:
        result.examples.append(_json_example(entry))
        _add_entity_synonyms(result.examples[-1], result.synonyms)
    for entry in body.get("entity_synonyms") or []:
        for variant in entry.get("synonyms", []):
            result.synonyms[str(variant).lower()] = str(entry["value"])
    for entry in body.get("regex_features") or []:
        result.regexes.append({"name": str(entry["name"]), "pattern": str(entry["pattern"])})
    for entry in body.get("lookup_tables") or []:
        elements = entry.get("elements", [])
        if isinstance(elements, str):
            elements = [line.strip() for line in elements.splitlines() if line.strip()]
        result.lookups.append({"name": str(entry["name"]), "elements": list(elements)})
    return result


def _json_example(entry: dict[str, Any]) -> Example:
    if not isinstance(entry, dict) or "text" not in entry:
        raise BotError(f"a common example needs a 'text': {entry!r}", key="common_examples")
    text = str(entry["text"])
    intent, _, response_key = str(entry.get("intent") or "").partition(RESPONSE_KEY_SEPARATOR)
    entities = []
    for ent in entry.get("entities") or []:
        try:
            start, end = int(ent["start"]), int(ent["end"])
            entity = {"start": start, "end": end, "value": ent.get("value", text[start:end])}
            entity["entity"] = str(ent["entity"])
        except (KeyError, TypeError, ValueError) as exc:
            raise BotError(
                f"the entity {ent!r} of the example {text!r} needs start, end and entity",
                key="common_examples",
            ) from exc
        entity.update({k: ent[k] for k in ("role", "group") if ent.get(k) is not None})
        entities.append(entity)
    return Example(text, intent or None, entities, response_key or None, entry.get("metadata"))


# --- files --------------------------------------------------------------------------------


def load_nlu_files(paths: Iterable[Path]) -> NLUTrainingData:
    """Read and merge every YAML/JSON NLU file given (in order)."""
    parts = []
    for path in paths:
        path = Path(path)
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise BotError(f"cannot read the file: {exc}", file=str(path)) from exc
        if path.suffix.lower() == ".json":
            try:
                parts.append(nlu_data_from_rasa_json(json.loads(text)))
            except json.JSONDecodeError as exc:
                raise BotError(f"invalid JSON at line {exc.lineno}", file=str(path)) from exc
        else:
            parts.append(nlu_data_from_yaml(text, source=str(path)))
    return NLUTrainingData().merge(*parts)
