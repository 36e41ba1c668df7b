"""Conversation state derived from the event log, one event at a time.

The log is the truth; a ``Tracker`` is the state it implies (section 6 of API.md).
It is updated incrementally so that appending to a long conversation costs the same
as appending to a short one, and it can be frozen into a JSON snapshot and thawed
again with only a short window of recent events. The only updates that look back
are ``rewind`` and ``undo``: they reset and replay the applied events of the current
session, fetched through ``session_events_loader`` when the window is too short.
"""

from __future__ import annotations

import copy
import enum
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from engine.applied_tail import (
    DEFAULT_TURNS,
    AppliedTail,
    drop_back_to,
    drop_since_previous_run,
    loop_run_restarts,
)
from engine.events import (
    ACTION_LISTEN,
    ActionExecuted,
    ActionExecutionRejected,
    ActionReverted,
    ActiveLoop,
    AllSlotsReset,
    BotUttered,
    ConversationPaused,
    ConversationResumed,
    DefinePrevUserUtteredFeaturization,
    EntitiesAdded,
    Event,
    FollowupAction,
    LoopInterrupted,
    Restarted,
    SessionStarted,
    SlotSet,
    UserUtteranceReverted,
    UserUttered,
    event_from_dict,
)
from engine.json_text import json_text

ACTION_SESSION_START = "action_session_start"
SNAPSHOT_VERSION = 1

__all__ = [
    "EventVerbosity",
    "Tracker",
    "applied_events",
    "events_after_latest_restart",
    "serialise_events",
]


class EventVerbosity(enum.Enum):
    """How many events a tracker state includes (``include_events``)."""

    NONE = 1
    APPLIED = 2
    AFTER_RESTART = 3
    ALL = 4

    @classmethod
    def from_name(cls, name: str) -> EventVerbosity:
        try:
            return cls[str(name).upper()]
        except KeyError:
            allowed = ", ".join(member.name for member in cls)
            raise ValueError(f"Invalid verbosity {name!r}; use one of {allowed}.") from None


def applied_events(
    events: Sequence[Event], *, loop_names: Iterable[str] | None = None
) -> list[Event]:
    """The events that still count (APPLIED verbosity), following Rasa's rules.

    ``restart``/``session_started`` drop everything before them, ``undo`` drops back to
    the latest action, ``rewind`` back to the latest user message and the action before
    it, and a loop that runs again (not first, not on an unhappy path) drops the turns
    since its previous run so that only the latest run remains.
    """
    names = set(loop_names or ())
    names.update(e.name for e in events if isinstance(e, ActiveLoop) and e.name)
    done: list[Event] = []
    for event in events:
        if isinstance(event, (Restarted, SessionStarted)):
            done = []
        elif isinstance(event, ActionReverted):
            drop_back_to(ActionExecuted, done)
        elif isinstance(event, UserUtteranceReverted):
            drop_back_to(UserUttered, done)
            drop_back_to(ActionExecuted, done)
        elif (
            isinstance(event, ActionExecuted)
            and event.action_name in names
            and loop_run_restarts(event.action_name, done)
        ):
            drop_since_previous_run(event.action_name, done)
        else:
            done.append(event)
    return done


def events_after_latest_restart(events: Sequence[Event]) -> list[Event]:
    """Events after the most recent ``restart`` (all events when there is none)."""
    for index in range(len(events) - 1, -1, -1):
        if isinstance(events[index], Restarted):
            return list(events[index + 1 :])
    return list(events)


def _events_after_latest_reset(events: Sequence[Event]) -> list[Event]:
    for index in range(len(events) - 1, -1, -1):
        if isinstance(events[index], (Restarted, SessionStarted)):
            return list(events[index + 1 :])
    return list(events)


def serialise_events(events: Sequence[Event], verbosity: EventVerbosity) -> list[dict] | None:
    """The ``events`` value of a tracker state for the given verbosity."""
    if verbosity is EventVerbosity.NONE:
        return None
    if verbosity is EventVerbosity.APPLIED:
        selected: Iterable[Event] = applied_events(events)
    elif verbosity is EventVerbosity.AFTER_RESTART:
        selected = events_after_latest_restart(events)
    else:
        selected = events
    return [event.to_dict() for event in selected]


def _empty_parse_data() -> dict:
    return UserUttered.empty().parse_data


class Tracker:
    """The derived state of one conversation."""

    def __init__(
        self,
        sender_id: str,
        slot_defaults: Mapping[str, Any] | None,
        *,
        session_events_loader: Callable[[], list[Event]] | None = None,
        session_texts_loader: Callable[[], list[str]] | None = None,
    ) -> None:
        self.sender_id = sender_id
        self._slot_defaults = dict(slot_defaults) if slot_defaults is not None else None
        self._loader = session_events_loader
        self._texts_loader = session_texts_loader
        self.events: list[Event] = []
        self.latest_input_channel: str | None = None
        self.latest_event_time: float | None = None
        self._loop_names: set[str] = set()
        # Events since the latest restart/session_started, and where they start in
        # self.events (None: before the window we hold).
        self._since_reset = 0
        self._session_start: int | None = 0
        self._has_applied = False
        # The recent applied events the policies' states come from (None: to be rebuilt).
        self._state_turns = DEFAULT_TURNS
        self._tail: AppliedTail | None = AppliedTail(self._state_turns)
        self._reset()

    # -- construction -------------------------------------------------------------
    @classmethod
    def from_events(
        cls, sender_id: str, events: Iterable[Event], slot_defaults: Mapping[str, Any] | None
    ) -> Tracker:
        tracker = cls(sender_id, slot_defaults)
        for event in events:
            tracker.update(event)
        return tracker

    # -- state changes ------------------------------------------------------------
    def _reset(self) -> None:
        self._reset_slots()
        self.paused = False
        self.latest_action: dict = {}
        self.latest_message: UserUttered | None = None
        self.latest_bot_utterance: BotUttered | None = None
        self.followup_action: str | None = ACTION_LISTEN
        self.active_loop: dict = {}

    def _reset_slots(self) -> None:
        self._slots_set: dict[str, Any] = {}
        self.slots: dict[str, Any] = copy.deepcopy(self._slot_defaults or {})

    def _set_slot(self, key: str, value: Any) -> None:
        self._slots_set[key] = value
        if self._slot_defaults is None or key in self.slots:
            self.slots[key] = value

    def update(self, event: Event) -> None:
        """Append one event and apply its effect on the state."""
        self.events.append(event)
        self.latest_event_time = event.timestamp
        self._since_reset += 1
        if isinstance(event, UserUttered):
            self.latest_input_channel = event.input_channel
        self._update_tail(event)
        if isinstance(event, ActiveLoop) and event.name:
            self._loop_names.add(event.name)
        if isinstance(event, (Restarted, SessionStarted)):
            self._apply(event)
            self._since_reset = 0
            self._session_start = len(self.events)
            self._has_applied = False
        elif isinstance(event, (UserUtteranceReverted, ActionReverted)):
            self._replay_session()
        else:
            self._apply(event)
            self._has_applied = True

    def _update_tail(self, event: Event) -> None:
        # Runs before a new loop name is recorded: the tail checks what that name changes.
        if isinstance(event, (Restarted, SessionStarted)):
            self._tail = AppliedTail(self._state_turns)
        elif self._tail is not None and not self._tail.update(event, self._loop_names):
            self._tail = None

    def _apply(self, event: Event) -> None:
        handler = _HANDLERS.get(type(event))
        if handler is not None:
            handler(self, event)

    def _replay_session(self) -> None:
        applied = applied_events(self.session_events(), loop_names=self._loop_names)
        self._reset()
        for event in applied:
            self._apply(event)
        self._has_applied = bool(applied)

    def session_events(self) -> list[Event]:
        """Every event since the latest restart/session_started (that event excluded)."""
        if self._session_start is not None:
            return self.events[self._session_start :]
        if self._loader is None:
            # Best effort without a store: the window we hold is all we know.
            return _events_after_latest_reset(self.events)
        loaded = _events_after_latest_reset(self._loader())
        missing = self._since_reset - len(loaded)
        if missing > 0:
            # The store has not persisted our newest events yet: take them from memory.
            loaded += self.events[len(self.events) - missing :]
        return loaded

    def session_event_texts(self) -> list[str]:
        """``session_events()`` as JSON texts. Stored events come as the store holds them,
        never parsed and written again: an action server is sent the whole session with
        every call, so this is the part of a call whose cost grows with the conversation."""
        if self._session_start is not None or self._texts_loader is None:
            return [json_text(event.to_dict()) for event in self.session_events()]
        texts = self._texts_loader()
        missing = self._since_reset - len(texts)
        if missing > 0:
            # The store has not persisted our newest events yet: take them from memory.
            texts += [json_text(e.to_dict()) for e in self.events[len(self.events) - missing :]]
        return texts

    def _change_loop_to(self, name: str | None) -> None:
        if name is None:
            self.active_loop = {}
            return
        trigger = self.latest_message.parse_data if self.latest_message else _empty_parse_data()
        self.active_loop = {
            "name": name,
            "is_interrupted": False,
            "rejected": False,
            "trigger_message": copy.deepcopy(trigger),
        }

    def _set_latest_action(self, event: ActionExecuted) -> None:
        self.latest_action = event.as_sub_state()
        if self.active_loop.get("name"):
            self.active_loop["is_interrupted"] = False
            if event.action_name == self.active_loop["name"]:
                self.active_loop["rejected"] = False
        self.followup_action = None

    # -- reading ------------------------------------------------------------------
    @property
    def latest_action_name(self) -> str | None:
        return self.latest_action.get("action_name")

    @property
    def active_loop_name(self) -> str | None:
        return self.active_loop.get("name")

    @property
    def latest_user_event_time(self) -> float | None:
        """Timestamp of the latest applied user message (for session expiry)."""
        return self.latest_message.timestamp if self.latest_message else None

    @property
    def is_paused(self) -> bool:
        return self.paused

    def has_applied_events(self) -> bool:
        """Whether anything counts since the latest reset (a session must start if not)."""
        return self._has_applied

    def get_slot(self, name: str) -> Any:
        return self.slots.get(name)

    def applied_events(self) -> list[Event]:
        return applied_events(self.session_events(), loop_names=self._loop_names)

    def recent_applied(self, states: int) -> AppliedTail:
        """The session's applied events in brief, enough for its latest ``states`` states.

        Kept up to date by ``update``; rebuilt from the session (through the loader when
        the window is short) only when an undo, a rewind or a larger need outran it.
        """
        if states > self._state_turns:
            self._state_turns = states
            if self._tail is not None:
                self._tail.turns = states
        if self._tail is None or not self._tail.covers(states):
            session = self.session_events()
            applied = applied_events(session, loop_names=self._loop_names)
            self._tail = AppliedTail.from_applied(applied, session, self._state_turns)
        return self._tail

    def latest_message_data(self) -> dict:
        """``latest_message`` of the state: parse data with the current entity list."""
        if self.latest_message is None:
            return _empty_parse_data()
        data = dict(self.latest_message.parse_data)
        data["entities"] = self.latest_message.entities
        return data

    def current_state(
        self,
        verbosity: EventVerbosity = EventVerbosity.AFTER_RESTART,
        events: Sequence[Event] | None = None,
    ) -> dict:
        """The tracker JSON of API.md section 6."""
        serialised = None
        if verbosity is not EventVerbosity.NONE:
            serialised = serialise_events(self.events if events is None else events, verbosity)
        return {
            "sender_id": self.sender_id,
            "slots": dict(self.slots),
            "latest_message": self.latest_message_data(),
            "latest_event_time": self.latest_event_time,
            "followup_action": self.followup_action,
            "paused": self.paused,
            "events": serialised,
            "latest_input_channel": self.latest_input_channel,
            "active_loop": self.active_loop,
            "latest_action": self.latest_action,
            "latest_action_name": self.latest_action_name,
        }

    def copy(self) -> Tracker:
        """An independent tracker in the same state: events tried on it leave this one as
        it is. Events are never edited in place, so the copies share them; what updating
        changes in place (the lists, dicts and the latest message's entities) is copied."""
        twin = copy.copy(self)
        twin.events = list(self.events)
        twin._slots_set = dict(self._slots_set)
        twin.slots = dict(self.slots)
        twin._loop_names = set(self._loop_names)
        twin.active_loop = copy.deepcopy(self.active_loop)
        twin.latest_action = dict(self.latest_action)
        if self.latest_message is not None:
            twin.latest_message = copy.copy(self.latest_message)
            twin.latest_message.entities = list(self.latest_message.entities)
        twin._tail = self._tail.copy() if self._tail is not None else None
        return twin

    # -- snapshots ----------------------------------------------------------------
    def to_snapshot(self) -> dict:
        """JSON-safe state from which updating can continue (not the event list)."""
        message = self.latest_message
        return {
            "version": SNAPSHOT_VERSION,
            "slots_set": self._slots_set,
            "latest_message": message.to_dict() if message else None,
            "latest_message_entities": message.entities if message else None,
            "latest_message_use_text": message.use_text_for_featurization if message else None,
            "latest_bot_utterance": (
                self.latest_bot_utterance.to_dict() if self.latest_bot_utterance else None
            ),
            "followup_action": self.followup_action,
            "paused": self.paused,
            "active_loop": self.active_loop,
            "latest_action": self.latest_action,
            "latest_input_channel": self.latest_input_channel,
            "latest_event_time": self.latest_event_time,
            "events_since_reset": self._since_reset,
            "has_applied_events": self._has_applied,
            "loop_names": sorted(self._loop_names),
            "state_turns": self._state_turns,
            "applied_tail": self._tail.to_dict() if self._tail is not None else None,
        }

    @classmethod
    def from_snapshot(
        cls,
        sender_id: str,
        snapshot: Mapping[str, Any],
        slot_defaults: Mapping[str, Any] | None,
        *,
        recent_events: list[Event],
        session_events_loader: Callable[[], list[Event]] | None = None,
        session_texts_loader: Callable[[], list[str]] | None = None,
    ) -> Tracker:
        """Thaw a snapshot; ``recent_events`` are the latest stored events (any number).

        The loaders give the stored events of the latest session (after its reset): as
        events, or as the JSON texts they are stored as (what an action server is sent).
        """
        tracker = cls(
            sender_id,
            slot_defaults,
            session_events_loader=session_events_loader,
            session_texts_loader=session_texts_loader,
        )
        tracker.events = list(recent_events)
        for key, value in copy.deepcopy(snapshot.get("slots_set") or {}).items():
            tracker._set_slot(key, value)
        tracker.latest_message = _message_from_snapshot(snapshot)
        bot = snapshot.get("latest_bot_utterance")
        tracker.latest_bot_utterance = event_from_dict(bot) if bot else None  # type: ignore[assignment]
        tracker.followup_action = snapshot.get("followup_action")
        tracker.paused = bool(snapshot.get("paused"))
        tracker.active_loop = copy.deepcopy(snapshot.get("active_loop") or {})
        tracker.latest_action = dict(snapshot.get("latest_action") or {})
        tracker.latest_input_channel = snapshot.get("latest_input_channel")
        tracker.latest_event_time = snapshot.get("latest_event_time")
        tracker._since_reset = int(snapshot.get("events_since_reset") or 0)
        tracker._has_applied = bool(snapshot.get("has_applied_events"))
        tracker._loop_names = set(snapshot.get("loop_names") or [])
        tracker._session_start = _session_start_in(tracker.events, tracker._since_reset)
        tracker._state_turns = int(snapshot.get("state_turns") or DEFAULT_TURNS)
        # Older snapshots have no tail: the first prediction rebuilds it.
        tracker._tail = AppliedTail.from_dict(snapshot.get("applied_tail"))
        return tracker


def _message_from_snapshot(snapshot: Mapping[str, Any]) -> UserUttered | None:
    data = snapshot.get("latest_message")
    if not data:
        return None
    message = event_from_dict(copy.deepcopy(data))
    assert isinstance(message, UserUttered)
    message.entities = copy.deepcopy(snapshot.get("latest_message_entities") or [])
    message.use_text_for_featurization = snapshot.get("latest_message_use_text")
    return message


def _session_start_in(window: Sequence[Event], since_reset: int) -> int | None:
    """Index in ``window`` where the current session's events begin, if it reaches back."""
    if since_reset <= len(window):
        return len(window) - since_reset
    return None


# -- per-event effects ----------------------------------------------------------------
def _on_user(tracker: Tracker, event: UserUttered) -> None:
    tracker.latest_message = event.copy()
    tracker.followup_action = None


def _on_entities(tracker: Tracker, event: EntitiesAdded) -> None:
    if tracker.latest_action_name != ACTION_LISTEN or tracker.latest_message is None:
        return
    for entity in event.entities:
        if entity not in tracker.latest_message.entities:
            tracker.latest_message.entities.append(entity)


def _on_featurization(tracker: Tracker, event: DefinePrevUserUtteredFeaturization) -> None:
    if tracker.latest_action_name == ACTION_LISTEN and tracker.latest_message is not None:
        tracker.latest_message.use_text_for_featurization = event.use_text_for_featurization


def _on_restart(tracker: Tracker, event: Restarted) -> None:
    tracker._reset()
    tracker.followup_action = ACTION_SESSION_START


def _on_loop_interrupted(tracker: Tracker, event: LoopInterrupted) -> None:
    if tracker.active_loop:
        tracker.active_loop["is_interrupted"] = event.is_interrupted


def _on_rejected(tracker: Tracker, event: ActionExecutionRejected) -> None:
    if tracker.active_loop and event.action_name == tracker.active_loop_name:
        tracker.active_loop["rejected"] = True


def _set(attribute: str, value: Any) -> Callable[[Tracker, Event], None]:
    return lambda tracker, _event: setattr(tracker, attribute, value)


_HANDLERS: dict[type[Event], Callable[[Tracker, Any], None]] = {
    UserUttered: _on_user,
    BotUttered: lambda t, e: setattr(t, "latest_bot_utterance", e),
    ActionExecuted: lambda t, e: t._set_latest_action(e),
    SlotSet: lambda t, e: t._set_slot(e.key, e.value),
    Restarted: _on_restart,
    SessionStarted: lambda t, e: t._reset(),
    AllSlotsReset: lambda t, e: t._reset_slots(),
    ConversationPaused: _set("paused", True),
    ConversationResumed: _set("paused", False),
    FollowupAction: lambda t, e: setattr(t, "followup_action", e.action_name),
    ActiveLoop: lambda t, e: t._change_loop_to(e.name),
    LoopInterrupted: _on_loop_interrupted,
    ActionExecutionRejected: _on_rejected,
    EntitiesAdded: _on_entities,
    DefinePrevUserUtteredFeaturization: _on_featurization,
}


@dataclass(frozen=True)
class TrackerContext:
    """What the served model tells a tracker's store: slot layout, sessions, event metadata."""

    slot_defaults: Mapping[str, Any] | None
    carry_over_slots: bool = True
    event_metadata: Mapping[str, Any] = field(default_factory=dict)

    def stamp(self, events: Sequence[Event]) -> list[Event]:
        """Add the model's id to each event's metadata, keeping ids already there."""
        for event in events:
            missing = {k: v for k, v in self.event_metadata.items() if k not in event.metadata}
            if missing:
                event.metadata = {**event.metadata, **missing}
        return list(events)
