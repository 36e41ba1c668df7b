from __future__ import annotations

import json

import pytest

from engine.errors import EventsValidationError
from engine.schema import validate_events


def _user(**parse_data):
    return {"event": "user", "text": "hi", "parse_data": parse_data}


def test_it_accepts_a_single_event_and_returns_a_list():
    assert validate_events({"event": "restart"}) == [{"event": "restart"}]


def test_it_accepts_a_list_of_valid_events():
    events = [
        {"event": "action", "name": "action_listen", "timestamp": 1.5},
        _user(intent={"name": "greet", "confidence": 0.9}, entities=[]),
        {"event": "slot", "name": "a", "value": None},
        {"event": "form", "name": "f"},
        {"event": "topic"},
    ]
    assert validate_events(events) == events


@pytest.mark.parametrize("body", [None, [], {}])
def test_it_rejects_an_empty_body(body):
    with pytest.raises(EventsValidationError, match="at least one event"):
        validate_events(body)


@pytest.mark.parametrize("item", ["restart", 3, None, ["x"]])
def test_it_rejects_items_that_are_not_objects(item):
    with pytest.raises(EventsValidationError, match="expected a JSON object"):
        validate_events([item])


def test_it_rejects_unknown_event_types():
    with pytest.raises(EventsValidationError, match="unknown event type 'nonsense'"):
        validate_events([{"event": "restart"}, {"event": "nonsense"}])


def test_it_rejects_an_event_without_type():
    with pytest.raises(EventsValidationError, match="'event' is a required property"):
        validate_events({"name": "x"})


@pytest.mark.parametrize(
    "item",
    [
        {"event": "slot", "name": "a"},
        {"event": "slot", "value": 1},
        {"event": "slot", "name": 3, "value": 1},
        {"event": "user", "text": 5},
        {"event": "user", "text": "x", "parse_data": {"entities": {"a": 1}}},
        {"event": "user", "parse_data": {"entities": [{"entity": "a"}]}},
        {"event": "user", "parse_data": {"intent": {"name": "a", "confidence": "high"}}},
        {"event": "user", "parse_data": {"intent": {"name": "a", "confidence": -0.5}}},
        {"event": "action", "name": "a", "confidence": "1"},
        {"event": "action", "name": None},
        {"event": "entities"},
        {"event": "restart", "timestamp": "yesterday"},
        {"event": "bot", "text": "x", "data": "nope"},
        {"event": "reminder", "intent": "x"},
        {"event": "reminder", "intent": "x", "date_time": "not a date"},
        {"event": "followup"},
    ],
)
def test_it_rejects_schema_violations(item):
    with pytest.raises(EventsValidationError, match="Failed to validate"):
        validate_events([item])


def test_it_rejects_nan_confidences():
    body = json.loads('[{"event": "action", "name": "a", "confidence": NaN}]')
    with pytest.raises(EventsValidationError, match="'0.confidence'|confidence"):
        validate_events(body)


def test_it_names_the_failing_item_and_field():
    with pytest.raises(EventsValidationError) as info:
        validate_events([{"event": "restart"}, {"event": "user", "text": 1}])
    assert "event 1" in str(info.value)
    assert "text" in str(info.value)
