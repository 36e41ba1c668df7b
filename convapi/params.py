"""Reading request bodies the way Rasa reads them (API.md conventions): JSON whatever the
Content-Type says, events checked against the events schema, raw training text.

Query parameters and the fields of JSON bodies are declared in ``convapi.serializers``."""

from __future__ import annotations

import json
from typing import Any

from rest_framework.request import Request

from engine.errors import EventsValidationError, bad_request, events_invalid, payload_too_large
from engine.events import Event, events_from_dicts
from engine.schema import validate_events
from jobs.stages import stage


def _reject_constant(name: str) -> Any:
    raise ValueError(f"'{name}' is not valid JSON")


@stage("body")
def json_body(request: Request) -> Any:
    """The parsed JSON body, or None when empty; any unreadable body is a 400."""
    raw = request.body
    if not raw.strip():
        return None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise bad_request("The request body is not valid UTF-8.", parameter="") from None
    try:
        payload = json.loads(text, parse_constant=_reject_constant)
    except (ValueError, RecursionError) as exc:
        raise bad_request(f"The request body is not valid JSON: {exc}", parameter="") from None
    # PostgreSQL cannot store NUL in text or jsonb, and no database stores half a UTF-16
    # surrogate pair (``"\ud800"`` alone): refuse them here rather than fail later.
    if "\\u" in text and _has_unstorable(payload):
        raise bad_request(
            "Strings in the body may not contain NUL (\\u0000) or unpaired surrogates.",
            parameter="",
        )
    return payload


def unstorable_text(text: str) -> bool:
    """Text no database column can hold: NUL (PostgreSQL) or half a surrogate pair."""
    return "\x00" in text or any("\ud800" <= char <= "\udfff" for char in text)


def _has_unstorable(value: Any) -> bool:
    if isinstance(value, str):
        return unstorable_text(value)
    if isinstance(value, list):
        return any(_has_unstorable(item) for item in value)
    if isinstance(value, dict):
        return any(unstorable_text(key) or _has_unstorable(item) for key, item in value.items())
    return False


def events_body(request: Request, *, empty_list: bool = False) -> list[Event]:
    """Posted events, validated against the events schema (one object or a list).

    ``empty_list``: ``[]`` is a valid body (replacing a tracker with no events, as Rasa does).
    """
    payload = json_body(request)
    if empty_list and payload == []:
        return []
    try:
        items = validate_events(payload)
        events = events_from_dicts(items)
    except EventsValidationError as exc:
        raise events_invalid(exc) from None
    if not events:
        raise bad_request("Couldn't extract a proper event from the request body.", parameter="")
    return events


def text_body(request: Request, *, limit: int) -> str:
    """The raw body as text, up to ``limit`` bytes (training data may exceed the JSON limit)."""
    length = int(request.META.get("CONTENT_LENGTH") or 0)
    if length > limit:
        raise payload_too_large("CONVAPI_MAX_TRAINING_BYTES", limit)
    raw = request._request.read(limit + 1) if length else b""
    if len(raw) > limit:
        raise payload_too_large("CONVAPI_MAX_TRAINING_BYTES", limit)
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise bad_request("The request body is not valid UTF-8.", parameter="") from None
