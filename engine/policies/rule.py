"""RulePolicy: rules as partial state patterns, forms' default behaviour, core fallback.

A rule becomes, for each of its actions, the list of (partial) states that led to it since the
rule's ``...`` start; a conversation matches when its latest states contain those states.
``conversation_start`` rules also pin the length (they match only from the session start).
Before rules come Rasa's defaults: ``/restart``, ``/back`` and ``/session_start`` intents,
then an active loop's happy path (run the loop, listen after it). A rule that would listen
while a loop is active (after an interruption) hands back to the loop instead.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from engine.dialogue_states import (
    ACTIVE_LOOP,
    PREV_ACTION,
    SHOULD_NOT_BE_SET,
    State,
    StateBuilder,
    state_key,
    sub_state_matches,
)
from engine.errors import BotError
from engine.events import ACTION_LISTEN, ActionExecuted, ActionExecutionRejected, UserUttered
from engine.policies.base import Policy, PolicyPrediction, PredictionContext
from engine.policies.training_trackers import TrainingTracker
from engine.training_data.stories import RULE_SNIPPET_ACTION

DEFAULT_INTENT_ACTIONS = {
    "restart": "action_restart",
    "back": "action_back",
    "session_start": "action_session_start",
}


@dataclass
class RuleEntry:
    """One learned rule step: the states that must hold, the action, and its rules' names."""

    states: list[State]
    action: str
    rules: list[str]
    from_start: bool = False

    @property
    def specificity(self) -> tuple[int, int]:
        return (len(self.states), len(state_key(self.states)))


class RulePolicy(Policy):
    name = "RulePolicy"
    priority = 6
    defaults = {
        "core_fallback_threshold": 0.3,
        "core_fallback_action_name": "action_default_fallback",
        "enable_fallback_prediction": True,
        "restrict_rules": True,
        "check_for_contradictions": True,
    }

    def __init__(self, config: dict[str, Any] | None = None) -> None:
        super().__init__(config)
        self.entries: list[RuleEntry] = []
        self.keep_listening: set[str] = set()  # rule keys that listen inside a loop on purpose

    @property
    def window(self) -> int:
        return max((len(entry.states) for entry in self.entries), default=1)

    # --- training ------------------------------------------------------------------------

    def train(self, trackers: list[TrainingTracker], domain: Any, builder: StateBuilder) -> None:
        rules = [t for t in trackers if t.is_rule]
        if self.config["restrict_rules"]:
            _check_one_user_turn(rules)
        by_key: dict[str, RuleEntry] = {}
        conflicts: list[str] = []
        for tracker in rules:
            for entry in _entries(tracker, builder):
                key = _entry_key(entry)
                known = by_key.get(key)
                if known is None:
                    by_key[key] = entry
                elif known.action != entry.action:
                    conflicts.append(_conflict(tracker.name, entry.action, known))
                elif tracker.name not in known.rules:
                    known.rules.append(tracker.name)
                if entry.action == ACTION_LISTEN and _listens_inside_loop(entry.states):
                    self.keep_listening.add(key)
        self.entries = list(by_key.values())
        if self.config["check_for_contradictions"]:
            conflicts += self._contradictions(trackers, domain, builder)
            if conflicts:
                raise BotError("contradicting rules or stories found:\n- " + "\n- ".join(conflicts))

    def _contradictions(
        self, trackers: list[TrainingTracker], domain: Any, builder: StateBuilder
    ) -> list[str]:
        from engine.tracker import Tracker

        found: list[str] = []
        for training in trackers:
            if training.is_augmented:
                continue
            tracker = Tracker(training.name, domain.slot_defaults())
            for event in training.events:
                if isinstance(event, ActionExecuted) and event.action_name != RULE_SNIPPET_ACTION:
                    message = self._check_turn(tracker, domain, builder, training, event)
                    if message and message not in found:
                        found.append(message)
                tracker.update(event)
        return found

    def _check_turn(
        self,
        tracker: Any,
        domain: Any,
        builder: StateBuilder,
        training: TrainingTracker,
        event: Any,
    ) -> str | None:
        if tracker.latest_action_name == RULE_SNIPPET_ACTION:
            return None  # the first action after `...` is context, not something rules predict
        gold = event.action_name or event.action_text
        context = PredictionContext(tracker, domain, builder)
        predicted, entry = self._decide(context)
        if predicted and predicted == tracker.active_loop_name and gold != predicted:
            tracker.update(ActionExecutionRejected(predicted))  # the loop would have refused
            predicted, entry = self._decide(PredictionContext(tracker, domain, builder))
        if predicted is None or predicted == gold:
            return None
        kind = "rule" if training.is_rule else "story"
        origin = f"rule(s) {entry.rules}" if entry else "the form's default behaviour"
        return (
            f"the {kind} '{training.name}' ({', '.join(training.sources)}) runs '{gold}' "
            f"where {origin} predict '{predicted}'"
        )

    # --- prediction ----------------------------------------------------------------------

    def predict(self, context: PredictionContext) -> PolicyPrediction | None:
        action, _ = self._decide(context)
        if action is not None and action != context.rejected_action:
            return self.prediction(context, context.one_hot(action))
        if not self.config["enable_fallback_prediction"]:
            return None
        threshold = float(self.config["core_fallback_threshold"])
        return self.prediction(
            context, context.one_hot(self.config["core_fallback_action_name"], threshold)
        )

    def _decide(self, context: PredictionContext) -> tuple[str | None, RuleEntry | None]:
        tracker = context.tracker
        default = _default_action(tracker)
        if default is not None and default in context.index:
            return default, None
        loop = tracker.active_loop_name
        if loop and not tracker.active_loop.get("rejected"):
            return (ACTION_LISTEN if tracker.latest_action_name == loop else loop), None
        entry = self._best_rule(context.states, context.state_count)
        if entry is None:
            return None, None
        if loop and entry.action == ACTION_LISTEN and not entry.states[-1].get(ACTIVE_LOOP):
            if _entry_key(entry) in self.keep_listening:
                return None, entry
            return loop, entry  # a general rule handled the interruption: back to the loop
        return entry.action, entry

    def _best_rule(self, states: list[State], count: int) -> RuleEntry | None:
        matching = [entry for entry in self.entries if _matches(entry, states, count)]
        return max(matching, key=lambda entry: entry.specificity, default=None)

    # --- persistence ---------------------------------------------------------------------

    def state_data(self) -> tuple[dict[str, Any], dict]:
        entries = [
            {"states": e.states, "action": e.action, "rules": e.rules, "from_start": e.from_start}
            for e in self.entries
        ]
        return {"entries": entries, "keep_listening": sorted(self.keep_listening)}, {}

    def load_data(self, data: dict[str, Any], arrays: dict) -> None:
        self.entries = [RuleEntry(**entry) for entry in data.get("entries") or []]
        self.keep_listening = set(data.get("keep_listening") or [])


def _default_action(tracker: Any) -> str | None:
    message = tracker.latest_message
    if tracker.latest_action_name != ACTION_LISTEN or not isinstance(message, UserUttered):
        return None
    return DEFAULT_INTENT_ACTIONS.get(message.intent_name or "")


def _entries(tracker: TrainingTracker, builder: StateBuilder) -> list[RuleEntry]:
    """The rule's steps: for each action, the states since the rule's `...` start."""
    states, labels = builder.states(tracker.events, rule=True)
    entries: list[RuleEntry] = []
    for index, label in enumerate(labels):
        if label == RULE_SNIPPET_ACTION:
            continue
        window = states[: index + 1]
        cut = _after_snippet(window)
        from_start = cut is None
        window = window if cut is None else window[cut:]
        if window:
            entries.append(RuleEntry(window, label, [tracker.name], from_start))
    return entries


def _after_snippet(states: list[State]) -> int | None:
    for index in range(len(states) - 1, -1, -1):
        if states[index].get(PREV_ACTION, {}).get("action_name") == RULE_SNIPPET_ACTION:
            return index + 1
    return None


def _matches(entry: RuleEntry, states: list[State], count: int) -> bool:
    """Whether the rule holds; ``states`` are the latest of the session's ``count`` states."""
    if count < len(entry.states) or (entry.from_start and count != len(entry.states)):
        return False
    tail = states[len(states) - len(entry.states) :]
    return all(sub_state_matches(want, have) for want, have in zip(entry.states, tail, strict=True))


def _entry_key(entry: RuleEntry) -> str:
    return json.dumps([entry.from_start, state_key(entry.states)])


def _listens_inside_loop(states: list[State]) -> bool:
    last = states[-1]
    loop = last.get(ACTIVE_LOOP, {}).get("name")
    if loop == SHOULD_NOT_BE_SET:
        return False
    previous = last.get(PREV_ACTION, {}).get("action_name")
    return bool(loop) and previous not in (ACTION_LISTEN, loop)


def _conflict(rule: str, action: str, known: RuleEntry) -> str:
    return (
        f"the rule '{rule}' predicts '{action}' where rule(s) {known.rules} predict "
        f"'{known.action}' in the same situation"
    )


def _check_one_user_turn(rules: list[TrainingTracker]) -> None:
    for tracker in rules:
        turns = sum(isinstance(event, UserUttered) for event in tracker.events)
        if turns > 1:
            raise BotError(
                f"the rule '{tracker.name}' ({', '.join(tracker.sources)}) has {turns} user "
                "turns; rules may have only one (write a story instead, or set "
                "restrict_rules: false for the RulePolicy)",
                key="rules",
            )
