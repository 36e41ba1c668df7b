"""The end of a session's applied events, kept small so a turn's prediction never reads the log.

Policies look at the latest few dialogue states, and those depend only on the latest few
applied events plus a handful of facts from before them (slot values, the latest user
message, previous action and loop). ``AppliedTail`` keeps exactly that: a ``base`` of
folded-away events compacted to those facts, and the recent applied ``events``, updated one
event at a time with the same rules as a full ``applied_events`` pass. When an update would
need events it no longer holds (an undo or a loop re-run reaching past its start), it says
so and the tracker rebuilds it from the session; that is rare.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from engine.errors import EventsValidationError
from engine.events import (
    ActionExecuted,
    ActionExecutionRejected,
    ActionReverted,
    ActiveLoop,
    AllSlotsReset,
    DefinePrevUserUtteredFeaturization,
    EntitiesAdded,
    Event,
    SlotSet,
    UserUtteranceReverted,
    UserUttered,
    event_from_dict,
)

DEFAULT_TURNS = 8
TAIL_VERSION = 2

__all__ = [
    "DEFAULT_TURNS",
    "AppliedTail",
    "drop_back_to",
    "drop_since_previous_run",
    "loop_run_restarts",
]


# -- the applied-events rules, shared with the full pass in engine.tracker ----------------
def drop_back_to(event_type: type[Event], done: list[Event]) -> bool:
    """Remove events from the end up to and including the latest of ``event_type``.

    Whether one was found (when not, ``done`` is left empty).
    """
    while done:
        if isinstance(done.pop(), event_type):
            return True
    return False


def loop_run_restarts(loop_name: str, done: Sequence[Event]) -> bool | None:
    """Whether a new run of ``loop_name`` replaces its previous run (None: not decided here).

    False means a first run or an unhappy path: the run is simply appended. None means the
    scan reached the start of ``done`` without finding out; for a whole session that is False.
    """
    next_action: str | None = None
    for event in reversed(done):
        if isinstance(event, ActiveLoop) and event.name is None:
            return False  # a deactivation: earlier runs belonged to another activation
        if isinstance(event, ActionExecutionRejected) and event.action_name == loop_name:
            return False
        if isinstance(event, UserUttered) and next_action not in (None, loop_name):
            return False  # something else answered the user instead of the loop
        if isinstance(event, ActionExecuted):
            if event.action_name == loop_name:
                return True
            next_action = event.action_name
    return None


def drop_since_previous_run(loop_name: str, done: list[Event]) -> None:
    """Drop the turns (actions, user messages) since the loop's previous run."""
    turn_types = (ActionExecuted, UserUttered, DefinePrevUserUtteredFeaturization)
    kept: list[Event] = []
    while done:
        event = done[-1]
        if isinstance(event, ActionExecuted) and event.action_name == loop_name:
            break
        done.pop()
        if not isinstance(event, turn_types):
            kept.append(event)
    done.extend(reversed(kept))


# A run of rule turns hidden from the learned policies longer than this many times the tail
# is folded anyway: their states then start after it (Rasa's would reach back before it).
HIDDEN_RUN_FACTOR = 4


# -- the tail ------------------------------------------------------------------------------
class AppliedTail:
    """Recent applied events of the current session, and what came before them in brief."""

    def __init__(self, turns: int = DEFAULT_TURNS) -> None:
        self.turns = turns  # dialogue states (action turns) the tail must always cover
        self.base: list[Event] = []  # folded-away events, compacted (see _compact)
        self.events: list[Event] = []  # the latest applied events, slimmed
        self.folded_actions = 0  # actions folded into ``base``
        self.complete = True  # nothing folded yet: ``events`` is the whole applied session
        self.action_counts: dict[str, int] = {}  # actions run this session (raw log)

    @classmethod
    def from_applied(
        cls, applied: Iterable[Event], session: Iterable[Event], turns: int
    ) -> AppliedTail:
        """A tail for a session from its applied events and its raw events."""
        tail = cls(turns)
        for event in session:
            if isinstance(event, ActionExecuted) and event.action_name:
                tail._count(event.action_name)
        for event in applied:
            tail._append(event)
        return tail

    # -- reading ----------------------------------------------------------------------------
    @property
    def tail_actions(self) -> int:
        """Actions in the tail that the learned policies see (rule turns hidden from them
        do not count: their states must reach back as far as the rules' do)."""
        return sum(_shown_action(event) for event in self.events)

    def covers(self, states: int) -> bool:
        """Whether the latest ``states`` dialogue states can be computed from the tail."""
        return self.complete or self.tail_actions + 1 >= states

    # -- updating ---------------------------------------------------------------------------
    def update(self, event: Event, loop_names: set[str]) -> bool:
        """Apply one logged event like ``applied_events`` would; False: the tail is lost.

        ``loop_names`` are the loops known before this event.
        """
        if isinstance(event, ActionReverted):
            return drop_back_to(ActionExecuted, self.events) or self.complete
        if isinstance(event, UserUtteranceReverted):
            found = drop_back_to(UserUttered, self.events)
            return found and drop_back_to(ActionExecuted, self.events) or self.complete
        if isinstance(event, ActiveLoop) and event.name not in loop_names:
            # A new loop name changes how this session's earlier runs of that action count
            # (a second run replaces the first); only a rebuild can tell.
            if event.name and self.action_counts.get(event.name, 0) > 1:
                return False
        elif isinstance(event, ActionExecuted) and event.action_name:
            self._count(event.action_name)
            if event.action_name in loop_names:
                return self._loop_run(event)
        self._append(event)
        return True

    def _loop_run(self, event: ActionExecuted) -> bool:
        restarts = loop_run_restarts(event.action_name or "", self.events)
        if restarts is None and not self.complete:
            return False  # whether it replaces its previous run is decided before the tail
        if restarts:
            drop_since_previous_run(event.action_name or "", self.events)
        else:
            self._append(event)
        return True

    def _count(self, name: str) -> None:
        self.action_counts[name] = self.action_counts.get(name, 0) + 1

    def _append(self, event: Event) -> None:
        slim = _slim(event)
        if slim is None:
            return
        self.events.append(slim)
        if not isinstance(slim, ActionExecuted):
            return
        actions = sum(isinstance(event, ActionExecuted) for event in self.events)
        if self.tail_actions > 3 * self.turns or actions > HIDDEN_RUN_FACTOR * 3 * self.turns:
            self._fold(keep=2 * self.turns)

    def _fold(self, keep: int) -> None:
        """Fold all but the latest ``keep`` shown actions (and what follows them) into the
        base; a long run of hidden rule turns is cut too, so a turn's cost stays bounded."""
        seen = actions = 0
        for index in range(len(self.events) - 1, -1, -1):
            if isinstance(self.events[index], ActionExecuted):
                actions += 1
                seen += _shown_action(self.events[index])
                if seen == keep or actions == HIDDEN_RUN_FACTOR * keep:
                    break
        folded, self.events = self.events[:index], self.events[index:]
        self.folded_actions += sum(isinstance(event, ActionExecuted) for event in folded)
        self.base = _compact([*self.base, *folded])
        self.complete = False

    def copy(self) -> AppliedTail:
        """A tail that updates independently of this one (the events themselves are shared:
        a tail only adds and drops them)."""
        twin = AppliedTail(self.turns)
        twin.base = list(self.base)
        twin.events = list(self.events)
        twin.folded_actions = self.folded_actions
        twin.complete = self.complete
        twin.action_counts = dict(self.action_counts)
        return twin

    # -- snapshots --------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {
            "version": TAIL_VERSION,
            "turns": self.turns,
            "base": [_stored(event) for event in self.base],
            "events": [_stored(event) for event in self.events],
            "folded_actions": self.folded_actions,
            "complete": self.complete,
            "action_counts": dict(self.action_counts),
        }

    @classmethod
    def from_dict(cls, data: Any) -> AppliedTail | None:
        """The tail of a snapshot (None when absent or from another version)."""
        if not isinstance(data, dict) or data.get("version") != TAIL_VERSION:
            return None
        try:
            tail = cls(int(data["turns"]))
            tail.base = [e for e in map(event_from_dict, data["base"]) if e is not None]
            tail.events = [e for e in map(event_from_dict, data["events"]) if e is not None]
            tail.folded_actions = int(data["folded_actions"])
            tail.complete = bool(data["complete"])
            tail.action_counts = dict(data["action_counts"])
        except (KeyError, TypeError, ValueError, EventsValidationError):
            return None  # a damaged cache: the tracker rebuilds it from the session
        return tail


def _shown_action(event: Event) -> bool:
    return isinstance(event, ActionExecuted) and not event.hide_rule_turn


def _slim(event: Event) -> Event | None:
    """What the states and the applied-events rules need of an event (None: nothing)."""
    if isinstance(event, UserUttered):
        intent = {"name": event.intent_name} if event.intent_name else None
        return UserUttered(None, intent, _slim_entities(event.entities), timestamp=0)
    if isinstance(event, ActionExecuted):
        return ActionExecuted(
            event.action_name,
            timestamp=0,
            action_text=event.action_text,
            hide_rule_turn=event.hide_rule_turn,
        )
    if isinstance(event, SlotSet):
        return SlotSet(event.key, event.value, timestamp=0)
    if isinstance(event, ActiveLoop):
        return ActiveLoop(event.name, timestamp=0)
    if isinstance(event, EntitiesAdded):
        return EntitiesAdded(_slim_entities(event.entities), timestamp=0)
    if isinstance(event, ActionExecutionRejected):
        return ActionExecutionRejected(event.action_name, timestamp=0)
    if isinstance(event, AllSlotsReset):
        return AllSlotsReset(timestamp=0)
    return None


def _stored(event: Event) -> dict[str, Any]:
    """A slim event as a snapshot keeps it: its dict without the null values (of the event
    and of its parse data), which reading it back restores. A turn writes the snapshot
    every time, and the nulls were half of it."""
    data = {key: value for key, value in event.to_dict().items() if value is not None}
    if isinstance(data.get("parse_data"), dict):
        data["parse_data"] = {k: v for k, v in data["parse_data"].items() if v is not None}
    return data


def _slim_entities(entities: Iterable[dict]) -> list[dict]:
    keys = ("entity", "role", "group")
    return [{k: e[k] for k in keys if e.get(k)} for e in entities or [] if isinstance(e, dict)]


def _compact(events: Sequence[Event]) -> list[Event]:
    """Fewest events that leave a dialogue-state walker where ``events`` leave it.

    The walker keeps independent facts: slot values (cleared by a reset of all slots), the
    latest user message plus entities added to it, the previous action and the active loop.
    """
    reset = False
    slots: dict[str, Event] = {}
    user: Event | None = None
    added: list[dict] = []
    latest: dict[type[Event], Event] = {}
    for event in events:
        if isinstance(event, AllSlotsReset):
            reset, slots = True, {}
        elif isinstance(event, SlotSet):
            slots[event.key] = event
        elif isinstance(event, UserUttered):
            user, added = event, []
        elif isinstance(event, EntitiesAdded) and user is not None:
            added.extend(event.entities)
        elif isinstance(event, (ActionExecuted, ActiveLoop)):
            latest[type(event)] = event
    compacted: list[Event] = [AllSlotsReset(timestamp=0)] if reset else []
    compacted += slots.values()
    if user is not None:
        compacted.append(user)
        if added:
            compacted.append(EntitiesAdded(added, timestamp=0))
    compacted += [latest[kind] for kind in (ActionExecuted, ActiveLoop) if kind in latest]
    return compacted
