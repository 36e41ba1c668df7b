"""Domain slots: their types, initial values and mappings, read as Rasa 3.x reads them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from engine.errors import InvalidDomainError

SLOT_TYPES = ("text", "bool", "categorical", "float", "list", "any")
MAPPING_TYPES = ("from_entity", "from_intent", "from_trigger_intent", "from_text", "custom")
REQUESTED_SLOT = "requested_slot"
SESSION_START_METADATA_SLOT = "session_started_metadata"


@dataclass
class Slot:
    """One slot of the domain."""

    name: str
    type: str
    initial_value: Any = None
    influence_conversation: bool = True
    mappings: list[dict] = field(default_factory=list)
    values: list[Any] | None = None  # categorical only
    min_value: float | None = None  # float only
    max_value: float | None = None  # float only
    is_default: bool = False  # added by the engine (requested_slot, session metadata)

    @property
    def min(self) -> float | None:
        return self.min_value

    @property
    def max(self) -> float | None:
        return self.max_value


def default_slots(has_forms: bool, declared: set[str]) -> list[Slot]:
    """The slots every domain gets: requested_slot (with forms) and session metadata."""
    slots = []
    if has_forms and REQUESTED_SLOT not in declared:
        slots.append(Slot(REQUESTED_SLOT, "text", influence_conversation=False, is_default=True))
    if SESSION_START_METADATA_SLOT not in declared:
        slots.append(
            Slot(
                SESSION_START_METADATA_SLOT,
                "any",
                influence_conversation=False,
                mappings=[{"type": "custom"}],
                is_default=True,
            )
        )
    return slots


def parse_slots(raw: Any, source: str | None) -> list[Slot]:
    """Read the ``slots`` section; errors name the slot and the key."""
    if raw is None:
        return []
    if not isinstance(raw, dict):
        raise InvalidDomainError(
            "must be a mapping of slot names to definitions.", file=source, key="slots"
        )
    return [_parse_slot(str(name), spec, source) for name, spec in raw.items()]


def _parse_slot(name: str, spec: Any, source: str | None) -> Slot:
    key = f"slots.{name}"
    if not isinstance(spec, dict):
        raise InvalidDomainError("a slot definition must be a mapping.", file=source, key=key)
    slot_type = spec.get("type")
    if not isinstance(slot_type, str) or (slot_type not in SLOT_TYPES and "." not in slot_type):
        raise InvalidDomainError(
            f"unknown slot type {slot_type!r}; use one of {', '.join(SLOT_TYPES)} "
            "or the dotted path of a custom slot class.",
            file=source,
            key=f"{key}.type",
        )
    influence = spec.get("influence_conversation", slot_type != "any")
    if not isinstance(influence, bool):
        raise InvalidDomainError(
            "must be true or false.", file=source, key=f"{key}.influence_conversation"
        )
    if slot_type == "any" and influence:
        raise InvalidDomainError(
            "slots of type 'any' cannot influence the conversation.",
            file=source,
            key=f"{key}.influence_conversation",
        )
    slot = Slot(
        name,
        slot_type,
        initial_value=spec.get("initial_value"),
        influence_conversation=influence,
        mappings=_parse_mappings(spec.get("mappings"), source, f"{key}.mappings"),
    )
    _parse_type_options(slot, spec, source, key)
    return slot


def _parse_type_options(slot: Slot, spec: dict, source: str | None, key: str) -> None:
    if slot.type == "categorical":
        values = spec.get("values")
        if not isinstance(values, list) or not values:
            raise InvalidDomainError(
                "categorical slots need a non-empty list of 'values'.",
                file=source,
                key=f"{key}.values",
            )
        slot.values = list(values)
    if slot.type == "float":
        slot.min_value = _number(spec.get("min_value", 0.0), source, f"{key}.min_value")
        slot.max_value = _number(spec.get("max_value", 1.0), source, f"{key}.max_value")
        if slot.min_value >= slot.max_value:
            raise InvalidDomainError(
                "min_value must be smaller than max_value.", file=source, key=f"{key}.min_value"
            )


def _number(value: Any, source: str | None, key: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InvalidDomainError(f"must be a number, got {value!r}.", file=source, key=key)
    return float(value)


def _parse_mappings(raw: Any, source: str | None, key: str) -> list[dict]:
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise InvalidDomainError("must be a list of mappings.", file=source, key=key)
    mappings = []
    for index, mapping in enumerate(raw):
        where = f"{key}[{index}]"
        if not isinstance(mapping, dict):
            raise InvalidDomainError("a slot mapping must be a mapping.", file=source, key=where)
        kind = mapping.get("type")
        if kind not in MAPPING_TYPES:
            raise InvalidDomainError(
                f"unknown mapping type {kind!r}; use one of {', '.join(MAPPING_TYPES)}.",
                file=source,
                key=f"{where}.type",
            )
        if kind == "from_entity" and not isinstance(mapping.get("entity"), str):
            raise InvalidDomainError(
                "a from_entity mapping needs an 'entity'.", file=source, key=where
            )
        if kind in ("from_intent", "from_trigger_intent") and "value" not in mapping:
            raise InvalidDomainError(f"a {kind} mapping needs a 'value'.", file=source, key=where)
        conditions = mapping.get("conditions")
        if conditions is not None and not (
            isinstance(conditions, list) and all(isinstance(c, dict) for c in conditions)
        ):
            raise InvalidDomainError(
                "must be a list of {active_loop, requested_slot} mappings.",
                file=source,
                key=f"{where}.conditions",
            )
        mappings.append(dict(mapping))
    return mappings


def slot_definition(slot: Slot) -> dict:
    """The slot as written in a domain file (used when a domain is built in code)."""
    data: dict[str, Any] = {
        "type": slot.type,
        "initial_value": slot.initial_value,
        "influence_conversation": slot.influence_conversation,
        "mappings": slot.mappings,
    }
    if slot.values is not None:
        data["values"] = slot.values
    if slot.type == "float":
        data["min_value"] = slot.min_value
        data["max_value"] = slot.max_value
    return data
