"""Dialogue states: what the policies see of a conversation, one state per action turn.

A state is a small dict like Rasa's: ``user`` (intent, entity names), ``prev_action``,
``active_loop`` and ``slots`` (only slots that influence the conversation, featurised by type,
and only when some feature is non-zero). There is one state before every action and one for
"now"; policies look at the last ``max_history`` of them.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

from engine.events import (
    ActionExecuted,
    ActiveLoop,
    AllSlotsReset,
    EntitiesAdded,
    Event,
    Restarted,
    SessionStarted,
    SlotSet,
    UserUttered,
)

State = dict[str, Any]
SHOULD_NOT_BE_SET = "should_not_be_set"
USER, PREV_ACTION, ACTIVE_LOOP, SLOTS = "user", "prev_action", "active_loop", "slots"
UNLIKELY_INTENT = "action_unlikely_intent"
OTHER_CATEGORY = "__other__"


def slot_features(slot: Any, value: Any) -> tuple[float, ...]:
    """A slot value as numbers, the way Rasa's slot types featurise it."""
    kind = getattr(slot, "type", "text")
    if kind == "bool":
        return (0.0, 0.0) if value is None else (1.0, float(_truthy(value)))
    if kind == "categorical":
        values = [str(v).lower() for v in (getattr(slot, "values", None) or [])]
        if OTHER_CATEGORY not in values:
            values.append(OTHER_CATEGORY)
        features = [0.0] * len(values)
        if value is not None:
            text = str(value).lower()
            features[values.index(text) if text in values else values.index(OTHER_CATEGORY)] = 1.0
        return tuple(features)
    if kind == "float":
        return (_scaled(slot, value),)
    if kind == "list":
        return (1.0 if value else 0.0,)
    if kind == "any":
        return ()
    return (0.0,) if value is None else (1.0,)


def _truthy(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("true", "1", "yes", "y", "on")
    return bool(value)


def _scaled(slot: Any, value: Any) -> float:
    low = float(getattr(slot, "min_value", getattr(slot, "min", 0.0)) or 0.0)
    high = float(getattr(slot, "max_value", getattr(slot, "max", 1.0)) or 1.0)
    try:
        capped = max(low, min(high, float(value)))
    except (TypeError, ValueError):
        return 0.0
    return (capped - low) / (high - low) if high > low else 1.0


def slot_value_any(slot: Any) -> Any:
    """The value a story's bare ``slot_was_set: - name`` stands for ("set to something")."""
    kind = getattr(slot, "type", "text")
    return {"bool": True, "list": ["filled"], "float": 1.0}.get(kind, "filled")


class StateBuilder:
    """Turns event sequences into states for one domain (featurised slots, entity filters)."""

    def __init__(self, domain: Any) -> None:
        self.slots = {
            s.name: s for s in domain.slots if getattr(s, "influence_conversation", False)
        }
        self.slot_types = {s.name: getattr(s, "type", "text") for s in domain.slots}
        self._domain = domain
        self._allowed: dict[str, frozenset[str] | None] = {}  # per intent, found once

    def used_entities(self, intent: str | None, names: Iterable[str]) -> list[str]:
        """Entity names that count for this intent (``use_entities`` / ``ignore_entities``)."""
        names = list(names)
        if not names:  # most messages: every state of a tracker's walk asks again
            return names
        allowed = self._allowed_entities(intent) if intent else None
        if allowed is not None:
            names = [name for name in names if name.split("#")[0] in allowed]
        return sorted(set(names))

    def _allowed_entities(self, intent: str) -> frozenset[str] | None:
        if intent not in self._allowed:
            properties = getattr(self._domain, "intent_properties", {})
            used = self._domain.used_entities(intent) if intent in properties else None
            self._allowed[intent] = None if used is None else frozenset(used)
        return self._allowed[intent]

    def states(
        self, events: Sequence[Event], *, rule: bool = False
    ) -> tuple[list[State], list[str]]:
        """States before each action plus the current one, and the actions (labels)."""
        return _walk(_Walker(self, rule), events)

    def ml_states(self, events: Sequence[Event], base: Iterable[Event] = ()) -> list[State]:
        """The states the learned policies see: turns a rule ran that no story has
        (``hide_rule_turn``) are left out, as Rasa leaves them out of TED's and
        memoization's view, so a story goes on after a rule answered in its middle.
        ``base`` (applied silently) stands for what came before ``events``."""
        walker = _Walker(self, rule=False)
        for event in base:
            walker.apply(event)
        states: list[State] = []
        hidden = False
        before_hidden: dict | None = None
        for event in events:
            if isinstance(event, ActionExecuted) and event.action_name == UNLIKELY_INTENT:
                continue  # a note on the user's message, not a turn of the dialogue
            if isinstance(event, ActionExecuted):
                if event.hide_rule_turn:
                    if not hidden:
                        before_hidden = dict(walker.prev) if walker.prev else None
                    hidden = True
                else:
                    state = walker.state()
                    if hidden:
                        _after_hidden_turn(state, states, before_hidden)
                    states.append(state)
                    hidden = False
            walker.apply(event)
        state = walker.state()
        if hidden:
            _after_hidden_turn(state, states, before_hidden)
        states.append(state)
        return states

    def states_after(self, base: Iterable[Event], events: Sequence[Event]) -> list[State]:
        """The states of ``events`` when ``base`` (applied silently) came before them.

        This is how a turn gets its latest states from a short tail of the session: the
        base stands for everything before the tail (see engine.applied_tail).
        """
        walker = _Walker(self, rule=False)
        for event in base:
            walker.apply(event)
        return _walk(walker, events)[0]


def _after_hidden_turn(state: State, states: list[State], before: dict | None) -> None:
    """The first state after hidden turns continues from the last one shown."""
    if not is_listen_state(state):
        if states and states[-1].get(USER):
            state[USER] = dict(states[-1][USER])
        else:
            state.pop(USER, None)
    if before:
        state[PREV_ACTION] = dict(before)
    else:
        state.pop(PREV_ACTION, None)


def _walk(walker: _Walker, events: Sequence[Event]) -> tuple[list[State], list[str]]:
    states: list[State] = []
    labels: list[str] = []
    for event in events:
        if isinstance(event, ActionExecuted):
            states.append(walker.state())
            labels.append(event.action_name or event.action_text or "")
        walker.apply(event)
    states.append(walker.state())
    return states, labels


class _Walker:
    """The running state while events are replayed (rule mode marks explicit "unset")."""

    def __init__(self, builder: StateBuilder, rule: bool) -> None:
        self.builder = builder
        self.rule = rule
        self.reset()

    def reset(self) -> None:
        self.user: dict[str, Any] | None = None
        self.prev: dict[str, str] | None = None
        self.loop: str | None = None
        self.slot_values: dict[str, Any] = {}
        if not self.rule:
            self.slot_values = {
                name: getattr(slot, "initial_value", None)
                for name, slot in self.builder.slots.items()
            }

    def apply(self, event: Event) -> None:
        if isinstance(event, ActionExecuted):
            self.prev = event.as_sub_state()
        elif isinstance(event, UserUttered):
            self.user = self._user_sub_state(event.intent_name, event.entities)
        elif isinstance(event, EntitiesAdded) and self.user is not None:
            names = [*self.user.get("entities", ()), *_entity_names(event.entities)]
            self.user = self._user_sub_state(self.user.get("intent"), [], names)
        elif isinstance(event, SlotSet) and event.name in self.builder.slots:
            self.slot_values[event.name] = event.value
        elif isinstance(event, ActiveLoop):
            self.loop = event.name or (SHOULD_NOT_BE_SET if self.rule else None)
        elif isinstance(event, AllSlotsReset):
            self.slot_values = {}
        elif isinstance(event, (Restarted, SessionStarted)):
            self.reset()

    def _user_sub_state(
        self, intent: str | None, entities: list[dict], extra: Iterable[str] = ()
    ) -> dict[str, Any]:
        names = [*_entity_names(entities), *extra]
        sub: dict[str, Any] = {}
        if intent:
            sub["intent"] = intent
        chosen = self.builder.used_entities(intent, names)
        if chosen:
            sub["entities"] = chosen
        return sub

    def state(self) -> State:
        state: State = {}
        if self.user:
            state[USER] = dict(self.user)
        if self.prev:
            state[PREV_ACTION] = dict(self.prev)
        if self.loop:
            state[ACTIVE_LOOP] = {"name": self.loop}
        slots = self._slot_sub_state()
        if slots:
            state[SLOTS] = slots
        return state

    def _slot_sub_state(self) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for name, value in self.slot_values.items():
            if self.rule and value is None:
                result[name] = SHOULD_NOT_BE_SET
                continue
            features = slot_features(self.builder.slots[name], value)
            if any(features):
                result[name] = list(features)
        return result


def _entity_names(entities: Iterable[dict]) -> list[str]:
    names: list[str] = []
    for entity in entities or []:
        name = entity.get("entity")
        if not name:
            continue
        names.append(name)
        for extra in ("role", "group"):
            if entity.get(extra):
                names.append(f"{name}#{entity[extra]}")
    return names


def state_key(states: Sequence[State]) -> str:
    """A canonical text for a window of states (dict order never matters)."""
    return json.dumps(list(states), sort_keys=True, separators=(",", ":"))


def is_listen_state(state: State) -> bool:
    return state.get(PREV_ACTION, {}).get("action_name") == "action_listen"


def sub_state_matches(rule_state: State, state: State) -> bool:
    """Whether a rule's (partial) state holds in a conversation state."""
    for kind, rule_sub in rule_state.items():
        actual = state.get(kind)
        if kind == ACTIVE_LOOP:
            if rule_sub.get("name") == SHOULD_NOT_BE_SET:
                if actual:
                    return False
            elif actual != rule_sub:
                return False
        elif kind == SLOTS:
            actual = actual or {}
            for name, value in rule_sub.items():
                if value == SHOULD_NOT_BE_SET:
                    if name in actual:
                        return False
                elif actual.get(name) != value:
                    return False
        elif kind == USER:
            actual = actual or {}
            for key, value in rule_sub.items():
                if actual.get(key) != value:
                    return False
        elif actual != rule_sub:
            return False
    return True
