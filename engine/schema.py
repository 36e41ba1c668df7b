"""Validation of posted events against a JSON schema equivalent to Rasa's.

Rasa checks one ``oneOf`` over every event type, which produces unreadable errors.
We dispatch on ``event`` first and then check the type's own schema, which accepts
and rejects the same documents but can say which field of which item is wrong.
A few checks are stricter than Rasa's (non-finite or negative confidences, an
``action`` with neither name nor text, a reminder without a date, a timestamp before
1970 or after the year 9999) because those events would otherwise be stored and then
break every later read.
"""

from __future__ import annotations

import math
from typing import Any

from jsonschema import Draft7Validator

from engine.errors import EventsValidationError
from engine.events import EVENT_TYPE_NAMES, event_from_dict

# The end of year 9999 (UTC): later timestamps cannot be shown as dates anywhere.
LATEST_TIMESTAMP = 253402300799
_CONFIDENCE = {"type": "number", "minimum": 0}
_NULLABLE_CONFIDENCE = {"type": ["number", "null"], "minimum": 0}
_NULLABLE_STRING = {"type": ["string", "null"]}

ENTITIES_SCHEMA: dict = {
    "type": "array",
    "items": {
        "type": "object",
        "properties": {
            "start": {"type": "integer"},
            "end": {"type": "integer"},
            "entity": {"type": "string"},
            "confidence": _CONFIDENCE,
            "extractor": _NULLABLE_STRING,
            "value": {},
            "role": _NULLABLE_STRING,
            "group": _NULLABLE_STRING,
        },
        "required": ["entity", "value"],
    },
}

INTENT_SCHEMA: dict = {
    "type": "object",
    "properties": {"name": {"type": ["string", "null"]}, "confidence": _CONFIDENCE},
}

_RESPONSE_SELECTOR = {
    "type": "object",
    "properties": {"all_retrieval_intents": {"type": "array"}},
    "additionalProperties": {
        "type": ["object", "array"],
        "properties": {
            "response": {
                "type": "object",
                "properties": {
                    "responses": {"type": ["array", "null"]},
                    "confidence": _CONFIDENCE,
                    "intent_response_key": _NULLABLE_STRING,
                    "utter_action": _NULLABLE_STRING,
                    "template_name": _NULLABLE_STRING,
                },
            },
            "ranking": {
                "type": "array",
                "items": {"type": "object", "properties": {"confidence": _CONFIDENCE}},
            },
        },
    },
}

_USER = {
    "text": _NULLABLE_STRING,
    "input_channel": _NULLABLE_STRING,
    "message_id": _NULLABLE_STRING,
    "parse_data": {
        "type": "object",
        "properties": {
            "text": _NULLABLE_STRING,
            "intent_ranking": {"type": "array", "items": INTENT_SCHEMA},
            "intent": INTENT_SCHEMA,
            "entities": ENTITIES_SCHEMA,
            "response_selector": _RESPONSE_SELECTOR,
        },
    },
}
_ACTION = {
    "policy": _NULLABLE_STRING,
    "confidence": _NULLABLE_CONFIDENCE,
    "name": _NULLABLE_STRING,
    "hide_rule_turn": {"type": "boolean"},
    "action_text": _NULLABLE_STRING,
}

# Per type: (properties, required fields).
_TYPE_SCHEMAS: dict[str, tuple[dict, list[str]]] = {
    "user": (_USER, []),
    "action": (_ACTION, []),
    "slot": ({"name": {"type": "string"}, "value": {}}, ["name", "value"]),
    "entities": ({"entities": ENTITIES_SCHEMA}, ["entities"]),
    "user_featurization": ({"use_text_for_featurization": {"type": ["boolean", "null"]}}, []),
    "reminder": (
        {
            "intent": {"type": "string"},
            "date_time": {"type": "string"},
            "entities": {"anyOf": [ENTITIES_SCHEMA, {"type": "null"}]},
            "name": _NULLABLE_STRING,
            "kill_on_user_msg": {"type": "boolean"},
        },
        ["intent", "date_time"],
    ),
    "cancel_reminder": (
        {
            "name": _NULLABLE_STRING,
            "intent": _NULLABLE_STRING,
            "entities": {"anyOf": [ENTITIES_SCHEMA, {"type": "null"}]},
        },
        [],
    ),
    "action_execution_rejected": (
        {
            "name": {"type": "string"},
            "policy": _NULLABLE_STRING,
            "confidence": _NULLABLE_CONFIDENCE,
        },
        [],
    ),
    "form_validation": ({"validate": {"type": "boolean"}}, []),
    "loop_interrupted": ({"is_interrupted": {"type": "boolean"}}, []),
    "form": ({"name": _NULLABLE_STRING}, []),
    "active_loop": ({"name": _NULLABLE_STRING}, []),
    "followup": ({"name": {"type": "string"}}, ["name"]),
    "export": ({"path": _NULLABLE_STRING}, []),
    "bot": ({"text": _NULLABLE_STRING, "data": {"type": ["object", "null"]}}, []),
    "agent": ({"text": _NULLABLE_STRING}, []),
}

EVENT_SCHEMA: dict = {
    "type": "object",
    "properties": {
        "event": {"type": "string", "enum": list(EVENT_TYPE_NAMES)},
        "timestamp": {"type": ["number", "null"], "minimum": 0, "maximum": LATEST_TIMESTAMP},
        "metadata": {"type": ["object", "null"]},
    },
    "required": ["event"],
}


def _type_validator(type_name: str) -> Draft7Validator:
    properties, required = _TYPE_SCHEMAS.get(type_name, ({}, []))
    return Draft7Validator({"type": "object", "properties": properties, "required": required})


_BASE_VALIDATOR = Draft7Validator(EVENT_SCHEMA)
_VALIDATORS = {name: _type_validator(name) for name in EVENT_TYPE_NAMES}


def validate_events(payload: object) -> list[dict]:
    """Check a posted body (one event object or a list) and return it as a list."""
    items = payload if isinstance(payload, list) else [payload]
    if payload is None or payload == {} or not items:
        raise EventsValidationError("The request body must contain at least one event.")
    for index, item in enumerate(items):
        _validate_one(item, index if isinstance(payload, list) else None)
    return list(items)


def _validate_one(item: Any, index: int | None) -> None:
    where = f"event {index}" if index is not None else "the event"
    if not isinstance(item, dict):
        raise EventsValidationError(
            f"Failed to validate {where}: expected a JSON object, got {_json_type(item)}."
        )
    if "event" in item and isinstance(item["event"], str) and item["event"] not in _VALIDATORS:
        raise EventsValidationError(
            f"Failed to validate {where}: unknown event type {item['event']!r}."
        )
    # ``event`` may be any JSON value here (a list or an object is unhashable): the base
    # schema rejects those, the type's own schema only applies to a known name.
    event_type = item.get("event")
    type_validator = _VALIDATORS.get(event_type) if isinstance(event_type, str) else None
    for validator in (_BASE_VALIDATOR, type_validator):
        if validator is None:
            continue
        error = next(iter(sorted(validator.iter_errors(item), key=lambda e: list(e.path))), None)
        if error is not None:
            raise EventsValidationError(f"Failed to validate {where}: {_describe(error)}")
    bad_number = _non_finite_path(item)
    if bad_number is not None:
        raise EventsValidationError(f"Failed to validate {where}: '{bad_number}' is not a number.")
    try:
        event_from_dict(item)
    except EventsValidationError as exc:
        raise EventsValidationError(f"Failed to validate {where}: {exc}") from exc


def _describe(error: Any) -> str:
    path = ".".join(str(part) for part in error.absolute_path)
    return f"at '{path}': {error.message}" if path else error.message


def _non_finite_path(value: Any, path: str = "") -> str | None:
    """Where a NaN or infinity hides in the item (json.loads accepts them, JSON does not)."""
    if isinstance(value, float) and not math.isfinite(value):
        return path or "<value>"
    children: list[tuple[str, Any]] = []
    if isinstance(value, dict):
        children = [(str(k), v) for k, v in value.items()]
    elif isinstance(value, list):
        children = [(str(i), v) for i, v in enumerate(value)]
    for key, child in children:
        found = _non_finite_path(child, f"{path}.{key}" if path else key)
        if found is not None:
            return found
    return None


def _json_type(value: Any) -> str:
    names = {str: "a string", bool: "a boolean", int: "a number", float: "a number"}
    if value is None:
        return "null"
    if isinstance(value, list):
        return "an array"
    return names.get(type(value), type(value).__name__)
