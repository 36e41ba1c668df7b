"""Hypothesis strategies for event lists valid against engine/schema.py, and broken ones.

Names are mostly initbot's (so the engine's state machinery is exercised) and sometimes
arbitrary text; numbers span the whole finite range the schema allows (timestamps of
1e300, confidences above 1), which is where reading a stored event back could break.
"""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from engine.schema import LATEST_TIMESTAMP

INTENTS = ["greet", "goodbye", "affirm", "deny", "mood_great", "mood_unhappy", "bot_challenge"]
ACTIONS = ["action_listen", "action_session_start", "utter_greet", "utter_happy", "utter_goodbye"]

# No NUL: the server refuses it on purpose (PostgreSQL cannot store it; see
# tests/api/test_bad_input.py), so a list holding one is not a list it must store.
text = st.text(st.characters(codec="utf-8", exclude_characters="\x00"), max_size=30)
nullable_text = st.none() | text
name = st.sampled_from(INTENTS + ACTIONS) | text
finite = st.floats(allow_nan=False, allow_infinity=False)
confidence = st.floats(min_value=0, allow_nan=False, allow_infinity=False)
timestamp = (
    st.none()
    | st.floats(min_value=0, max_value=2e9)
    | st.floats(min_value=0, max_value=LATEST_TIMESTAMP)
)
scalar = st.none() | st.booleans() | st.integers() | finite | text
json_value = st.recursive(
    scalar,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(text, inner, max_size=3),
    max_leaves=8,
)
metadata = st.none() | st.dictionaries(text, json_value, max_size=3)

entity = st.fixed_dictionaries(
    {"entity": name, "value": json_value},
    optional={
        "start": st.integers(),
        "end": st.integers(),
        "confidence": confidence,
        "extractor": nullable_text,
        "role": nullable_text,
        "group": nullable_text,
    },
)
intent = st.fixed_dictionaries({}, optional={"name": st.none() | name, "confidence": confidence})
parse_data = st.fixed_dictionaries(
    {},
    optional={
        "text": nullable_text,
        "intent": intent,
        "intent_ranking": st.lists(intent, max_size=3),
        "entities": st.lists(entity, max_size=3),
    },
)
entities = st.none() | st.lists(entity, max_size=2)
iso_date = st.datetimes().map(lambda d: d.isoformat())


def _event(kind: str, required: dict | None = None, **optional: Any) -> st.SearchStrategy:
    fields = {"event": st.just(kind), **(required or {})}
    return st.fixed_dictionaries(
        fields, optional={"timestamp": timestamp, "metadata": metadata, **optional}
    )


EVENT = st.one_of(
    _event("user", text=nullable_text, parse_data=parse_data, input_channel=nullable_text,
           message_id=nullable_text),
    _event("bot", text=nullable_text, data=st.none() | st.dictionaries(text, json_value)),
    _event("action", {"name": name}, policy=nullable_text, confidence=st.none() | confidence,
           hide_rule_turn=st.booleans()),
    _event("action", {"action_text": text}),
    _event("slot", {"name": name, "value": json_value}),
    _event("entities", {"entities": st.lists(entity, max_size=2)}),
    _event("user_featurization", use_text_for_featurization=st.none() | st.booleans()),
    _event("reminder", {"intent": name, "date_time": iso_date}, entities=entities,
           name=nullable_text, kill_on_user_msg=st.booleans()),
    _event("cancel_reminder", name=nullable_text, intent=nullable_text, entities=entities),
    _event("action_execution_rejected", {"name": name}, policy=nullable_text,
           confidence=st.none() | confidence),
    _event("form_validation", validate=st.booleans()),
    _event("loop_interrupted", is_interrupted=st.booleans()),
    _event("form", name=st.none() | name),
    _event("active_loop", name=st.none() | name),
    _event("followup", {"name": name}),
    _event("export"),
    _event("agent", text=nullable_text),
    *(_event(kind) for kind in ("restart", "rewind", "undo", "reset_slots", "pause", "resume",
                                "session_started")),
)  # fmt: skip
EVENT_LISTS = st.lists(EVENT, min_size=1, max_size=8)

# One change that makes an otherwise valid event invalid.
BREAKAGES = [
    lambda e: {**e, "event": "no_such_event"},
    lambda e: {**e, "timestamp": "yesterday"},
    lambda e: {**e, "timestamp": 1e300},
    lambda e: {**e, "timestamp": -1},
    lambda e: {**e, "metadata": ["not", "an", "object"]},
    lambda e: {k: v for k, v in e.items() if k != "event"},
    lambda e: {"event": "slot", "value": 1},
    lambda e: {"event": "action", "name": "x", "confidence": -0.5},
    lambda e: {"event": "user", "text": 5},
    lambda e: {"event": "user", "parse_data": {"entities": {"a": 1}}},
    lambda e: {"event": "user", "parse_data": {"intent": {"name": 3}}},
    lambda e: {"event": "reminder", "intent": "greet", "date_time": "soon"},
    lambda e: {"event": "followup"},
    lambda e: [e],
]


@st.composite
def broken_event_lists(draw: st.DrawFn) -> list[Any]:
    """A valid list with one item broken."""
    events = draw(EVENT_LISTS)
    index = draw(st.integers(min_value=0, max_value=len(events) - 1))
    breakage = draw(st.sampled_from(BREAKAGES))
    return [*events[:index], breakage(events[index]), *events[index + 1 :]]
