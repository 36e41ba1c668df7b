"""A conversation written out as YAML test stories (``GET /conversations/{id}/story``).

Follows Rasa 3.x's test-story writer: one story per session (split at every
``action_session_start``), user messages as ``intent`` plus the text with entities
annotated inline, actions, ``slot_was_set`` and ``active_loop`` steps, and nothing for
the events a story cannot express.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import yaml

from engine.events import ActionExecuted, ActiveLoop, Event, SlotSet, UserUttered

STORY_FORMAT_VERSION = "3.1"
SESSION_START_ACTION = "action_session_start"
# Actions a story never shows: they are implied by the format.
_SKIPPED_ACTIONS = ("action_listen", "action_unlikely_intent", SESSION_START_ACTION, "...")


def write_test_stories(
    sender_id: str,
    events: Sequence[Event],
    *,
    all_sessions: bool = False,
    until: float | None = None,
) -> str:
    """The YAML test stories of one conversation."""
    sessions = split_sessions(events)
    if not all_sessions:
        sessions = sessions[-1:] if sessions else [[]]
    if until is not None:
        sessions = [_until(session, until) for session in sessions]
        sessions = [session for session in sessions if session]
    stories = []
    for number, session in enumerate(sessions, 1):
        name = f"{sender_id}, story {number}" if len(sessions) > 1 else sender_id
        stories.append({"story": name, "steps": _steps(session)})
    document: dict[str, Any] = {"version": _DoubleQuoted(STORY_FORMAT_VERSION)}
    if stories:
        document["stories"] = stories
    return yaml.dump(document, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=4096)


def split_sessions(events: Sequence[Event]) -> list[list[Event]]:
    """Events grouped by session; each session starts with its ``action_session_start``."""
    sessions: list[list[Event]] = []
    current: list[Event] = []
    for event in events:
        if isinstance(event, ActionExecuted) and event.action_name == SESSION_START_ACTION:
            if current:
                sessions.append(current)
            current = []
        current.append(event)
    if current:
        sessions.append(current)
    return sessions


def _until(events: Sequence[Event], until: float) -> list[Event]:
    """The session as it was at ``until`` (stops at the first later event, like Rasa)."""
    kept = []
    for event in events:
        if event.timestamp > until:
            break
        kept.append(event)
    return kept


def _steps(events: Sequence[Event]) -> list[dict]:
    steps = []
    for event in events:
        step = _step(event)
        if step is not None:
            steps.append(step)
    return steps


def _step(event: Event) -> dict | None:
    if isinstance(event, UserUttered):
        return _user_step(event)
    if isinstance(event, ActionExecuted):
        if event.action_name in _SKIPPED_ACTIONS:
            return None
        if event.action_name:
            return {"action": event.action_name}
        return {"bot": event.action_text}
    if isinstance(event, SlotSet):
        return {"slot_was_set": [{event.key: event.value}]}
    if isinstance(event, ActiveLoop):
        return {"active_loop": event.name}
    return None


def _user_step(event: UserUttered) -> dict:
    step: dict[str, Any] = {}
    if event.intent_name and not event.use_text_for_featurization:
        step["intent"] = event.full_retrieval_intent_name or event.intent_name
    if event.text:
        step["user"] = _Literal(annotate_entities(event.text, event.entities))
    return step


def annotate_entities(text: str, entities: Sequence[dict]) -> str:
    """The text with entities written inline: ``[Berlin](city)`` or ``[x]{"entity": ...}``."""
    placed = [
        e
        for e in entities
        if isinstance(e, dict) and isinstance(e.get("start"), int) and isinstance(e.get("end"), int)
    ]
    out, position = [], 0
    for entity in sorted(placed, key=lambda e: e["start"]):
        if entity["start"] < position:
            continue  # overlapping annotations cannot be written inline
        out.append(text[position : entity["start"]])
        out.append(_entity_markup(text, entity))
        position = entity["end"]
    out.append(text[position:])
    return "".join(out)


def _entity_markup(text: str, entity: dict) -> str:
    surface = text[entity["start"] : entity["end"]]
    value = entity.get("value")
    if value and value == surface:
        value = None
    details = {
        "entity": entity.get("entity"),
        "role": entity.get("role"),
        "group": entity.get("group"),
        "value": value,
    }
    if details["role"] is None and details["group"] is None and value is None:
        return f"[{surface}]({details['entity']})"
    compact = {k: v for k, v in details.items() if v is not None}
    return f"[{surface}]{json.dumps(compact, ensure_ascii=False)}"


class _DoubleQuoted(str):
    pass


class _Literal(str):
    pass


class _Dumper(yaml.SafeDumper):
    pass


_Dumper.add_representer(
    _DoubleQuoted,
    lambda dumper, value: dumper.represent_scalar("tag:yaml.org,2002:str", value, style='"'),
)
_Dumper.add_representer(
    _Literal,
    lambda dumper, value: dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|"),
)
