"""Conversation sessions: when one starts, and the events that start it (API.md section 7)."""

from __future__ import annotations

from collections.abc import Sequence

from engine.events import ActionExecuted, Event, SessionStarted, SlotSet

ACTION_SESSION_START = "action_session_start"
ACTION_LISTEN = "action_listen"
SESSION_STARTED_METADATA_SLOT = "session_started_metadata"


def starts_with_session_start(events: Sequence[Event]) -> bool:
    """Whether posted events bring their own session start (so none is added)."""
    return (
        len(events) >= 2
        and isinstance(events[0], ActionExecuted)
        and events[0].action_name == ACTION_SESSION_START
        and isinstance(events[1], SessionStarted)
    )


def session_start_events(
    applied_events: Sequence[Event],
    *,
    carry_over_slots: bool,
) -> list[Event]:
    """What the default ``action_session_start`` logs.

    Slots are carried over by repeating every slot event of the previous session, in
    order and with their metadata, exactly as Rasa does.
    """
    events: list[Event] = [ActionExecuted(ACTION_SESSION_START), SessionStarted()]
    if carry_over_slots:
        events += [
            SlotSet(event.key, event.value, metadata=dict(event.metadata))
            for event in applied_events
            if isinstance(event, SlotSet)
        ]
    events.append(ActionExecuted(ACTION_LISTEN))
    return events
