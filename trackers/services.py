"""Tracker reads and writes: each opens its transaction and takes the conversation lock.

Views call these with plain arguments; nothing here knows about HTTP.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from django.db import transaction

from engine.errors import precondition_failed
from engine.events import Event
from engine.session import session_start_events, starts_with_session_start
from engine.tracker import EventVerbosity, Tracker, TrackerContext
from jobs.stages import stage
from trackers import store
from trackers.locks import conversation_locked
from trackers.models import Conversation


@dataclass(frozen=True)
class TrackerResponse:
    """A tracker state and the ETag of the conversation version it shows."""

    state: dict[str, Any]
    etag: str


def tracker_etag(conversation: Conversation) -> str:
    """Changes with every write: the event count and the time of the last write."""
    stamp = int(conversation.updated.timestamp() * 1_000_000) if conversation.updated else 0
    return f'"{conversation.event_count}-{stamp}"'


def _check_if_match(conversation: Conversation, if_match: str | None) -> None:
    if if_match is None:
        return
    wanted = {tag.strip() for tag in if_match.split(",")}
    if "*" not in wanted and tracker_etag(conversation) not in wanted:
        now = tracker_etag(conversation)
        raise precondition_failed(f"If-Match does not match: The conversation is now at {now}.")


def state_events(
    conversation: Conversation, verbosity: EventVerbosity, *, latest_session_only: bool
) -> list[Event] | None:
    """The stored events a state response with this verbosity shows, and no more.

    Processing routes show only the latest session (as Rasa >= 3.6 does); the
    tracker GET shows all of them.
    """
    first = conversation.latest_session_seq if latest_session_only else 1
    if verbosity is EventVerbosity.NONE:
        return None
    if verbosity is EventVerbosity.AFTER_RESTART:
        first = max(first, conversation.latest_restart_seq + 1)
    elif verbosity is EventVerbosity.APPLIED:
        first = max(first, conversation.latest_reset_seq)
    return store.events_load(conversation, since_seq=first)


def tracker_fetch(
    *,
    sender_id: str,
    verbosity: EventVerbosity,
    until: float | None,
    context: TrackerContext,
) -> TrackerResponse:
    """GET /tracker: a new conversation is stored empty and shown with a session start."""
    conversation = store.conversation_get_or_create(sender_id=sender_id)
    etag = tracker_etag(conversation)
    if conversation.event_count == 0:
        events = context.stamp(session_start_events([], carry_over_slots=context.carry_over_slots))
        if until is not None:
            events = [event for event in events if event.timestamp <= until]
        tracker = Tracker.from_events(sender_id, events, context.slot_defaults)
        return TrackerResponse(tracker.current_state(verbosity), etag)
    if until is not None:
        events = store.events_load(conversation, until=until)
        tracker = Tracker.from_events(sender_id, events, context.slot_defaults)
        return TrackerResponse(tracker.current_state(verbosity), etag)
    with stage("restore"):
        tracker = store.tracker_restore(conversation, context.slot_defaults)
    with stage("answer"):
        shown = state_events(conversation, verbosity, latest_session_only=False)
        return TrackerResponse(tracker.current_state(verbosity, events=shown), etag)


def tracker_events_append(
    *,
    sender_id: str,
    events: Sequence[Event],
    verbosity: EventVerbosity,
    context: TrackerContext,
    if_match: str | None = None,
    side_effects: Callable[[Sequence[Event]], None] | None = None,
) -> TrackerResponse:
    """POST /tracker/events: append under the lock, starting a session on a new tracker.

    ``side_effects`` (``execute_side_effects=true``: reminders) sees the stored events,
    inside the same transaction.
    """
    with conversation_locked(sender_id), transaction.atomic():
        conversation = store.conversation_get_or_create(sender_id=sender_id)
        _check_if_match(conversation, if_match)
        tracker = store.tracker_restore(conversation, context.slot_defaults)
        new_events = list(events)
        if conversation.event_count == 0 and not starts_with_session_start(new_events):
            start = session_start_events([], carry_over_slots=context.carry_over_slots)
            new_events = start + new_events
        stamped = context.stamp(new_events)
        store.events_append(conversation, tracker, stamped, context.slot_defaults)
        if side_effects is not None:
            side_effects(stamped)
        shown = state_events(conversation, verbosity, latest_session_only=True)
        state = tracker.current_state(verbosity, events=shown)
        return TrackerResponse(state, tracker_etag(conversation))


def tracker_events_replace(
    *,
    sender_id: str,
    events: Sequence[Event],
    verbosity: EventVerbosity,
    context: TrackerContext,
    if_match: str | None = None,
) -> TrackerResponse:
    """PUT /tracker/events: the posted events become the whole log, as posted."""
    with conversation_locked(sender_id), transaction.atomic():
        conversation = store.conversation_get_or_create(sender_id=sender_id)
        _check_if_match(conversation, if_match)
        tracker = store.events_replace(conversation, events, context.slot_defaults)
        return TrackerResponse(tracker.current_state(verbosity), tracker_etag(conversation))


def conversation_ids() -> list[str]:
    return store.conversation_ids()
