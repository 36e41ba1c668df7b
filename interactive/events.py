"""Rasa event dicts as interactive learning builds and reads them (plain JSON, no engine)."""

from __future__ import annotations

import time
from typing import Any

ACTION_LISTEN = "action_listen"
RESET_EVENTS = ("restart", "session_started")


def user_event(text: str, parse_data: dict[str, Any]) -> dict[str, Any]:
    return {
        "event": "user",
        "timestamp": time.time(),
        "text": text,
        "parse_data": {**parse_data, "text": text},
    }


def action_event(
    name: str, policy: str | None = None, confidence: float | None = None
) -> dict[str, Any]:
    return {
        "event": "action",
        "timestamp": time.time(),
        "name": name,
        "policy": policy,
        "confidence": confidence,
    }


def bot_event(text: str, utter_action: str) -> dict[str, Any]:
    """A bot message for a response the author just wrote (the domain does not have it yet)."""
    return {
        "event": "bot",
        "timestamp": time.time(),
        "text": text,
        "data": {},
        "metadata": {"utter_action": utter_action},
    }


def simple_event(name: str) -> dict[str, Any]:
    return {"event": name, "timestamp": time.time()}


def latest_user_message(events: list[dict]) -> dict[str, Any] | None:
    """The most recent ``user`` event, or None."""
    for event in reversed(events):
        if event.get("event") == "user":
            return event
    return None


def all_events_before_latest_user_msg(events: list[dict]) -> list[dict]:
    """Every event before the most recent user message (all of them if there is none)."""
    for index in range(len(events) - 1, -1, -1):
        if events[index].get("event") == "user":
            return events[:index]
    return list(events)


def is_listening(events: list[dict]) -> bool:
    """True when the last action or user event is an ``action_listen``: the bot waits."""
    for event in reversed(events):
        if event.get("event") == "user":
            return False
        if event.get("event") == "action":
            return event.get("name") == ACTION_LISTEN
    return False


def applied_events(events: list[dict]) -> list[dict]:
    """The events that still count after undo/rewind/restart, as Rasa's APPLIED verbosity."""
    kept: list[dict] = []
    for event in events:
        kind = event.get("event")
        if kind in RESET_EVENTS:
            kept = []
        elif kind == "undo":
            _drop_through(kept, "action")
        elif kind == "rewind":
            _drop_through(kept, "user")
            _drop_through(kept, "action")
        else:
            kept.append(event)
    return kept


def _drop_through(events: list[dict], kind: str) -> None:
    while events:
        if events.pop().get("event") == kind:
            return


def conversation_segments(events: list[dict]) -> list[list[dict]]:
    """Split a full event log at restarts and session starts, each part APPLIED."""
    segments: list[list[dict]] = [[]]
    for event in events:
        if event.get("event") in RESET_EVENTS:
            segments.append([])
        else:
            segments[-1].append(event)
    parts = [applied_events(part) for part in segments]
    return [part for part in parts if any(e.get("event") == "user" for e in part)]


def intent_name(event: dict[str, Any]) -> str | None:
    return ((event.get("parse_data") or {}).get("intent") or {}).get("name")


def entities_of(event: dict[str, Any]) -> list[dict]:
    return list((event.get("parse_data") or {}).get("entities") or [])
