"""RulePolicy: rules as partial state patterns, forms' default behaviour, core fallback.

A rule becomes, for each of its actions, the list of (partial) states that led to it since the
rule's ``...`` start; a conversation matches when its latest states contain those states.
``conversation_start`` rules also pin the length (they match only from the session start).
Before rules come Rasa's defaults: ``/restart``, ``/back`` and ``/session_start`` intents,
then an active loop's happy path (run the loop, listen after it). A rule that would listen
while a loop is active (after an interruption) hands back to the loop instead.

Rules and stories that run the active loop straight after a user message (the user came back
to the form after an unhappy path, as in "stop" -> "continue?" -> "yes") are remembered by the
action before that message and the message's state. When a conversation matches one, the
prediction carries ``LoopInterrupted(True)`` whichever policy wins: the form then asks its
next slot instead of validating the answer to the other question, as Rasa's RulePolicy does.
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
from engine.events import (
    ACTION_LISTEN,
    ActionExecuted,
    ActionExecutionRejected,
    LoopInterrupted,
    UserUttered,
)
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
        # [action before the user message, the message's state] after which a rule or story
        # runs the active loop again: the loop comes back from an unhappy path.
        self.loop_returns: list[list[State]] = []
        # What decided a prediction (a rule, a default, a loop's happy path) that some story
        # also makes: other rule turns are hidden from the learned policies, as in Rasa.
        # None for a model trained before this was learned: it hides nothing.
        self.in_stories: set[str] | None = set()

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
        self.loop_returns = _loop_returns(trackers, builder)
        self.in_stories = set()
        contradictions = self._replay(trackers, domain, builder)
        if self.config["check_for_contradictions"]:
            conflicts += contradictions
            if conflicts:
                raise BotError("contradicting rules or stories found:\n- " + "\n- ".join(conflicts))

    def _replay(
        self, trackers: list[TrainingTracker], domain: Any, builder: StateBuilder
    ) -> list[str]:
        """Run the rules over every story and rule: where they contradict one, and which
        of them (``in_stories``) predict a story's own action."""
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
        if predicted is not None and predicted == gold and not training.is_rule:
            source = _source(tracker, predicted, entry)
            if source is not None and self.in_stories is not None:
                self.in_stories.add(source)
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
        action, entry = self._decide(context)
        if action is not None and action != context.rejected_action:
            prediction = self.prediction(context, context.one_hot(action))
            source = _source(context.tracker, action, entry)
            prediction.hide_rule_turn = (
                source is not None and self.in_stories is not None and source not in self.in_stories
            )
        elif self.config["enable_fallback_prediction"]:
            threshold = float(self.config["core_fallback_threshold"])
            prediction = self.prediction(
                context, context.one_hot(self.config["core_fallback_action_name"], threshold)
            )
        else:
            prediction = self.prediction(context, [0.0] * len(context.action_names))
        # Where rules decide (not a default, the loop's happy path or a hand-back to the
        # loop), the user may be coming back to the loop after an unhappy path.
        rules_decide = action is None or (entry is not None and entry.action == action)
        if rules_decide and self._returns_to_loop(context):
            prediction.events.append(LoopInterrupted(True))
        if prediction.max_confidence == 0.0 and not prediction.events:
            return None
        return prediction

    def _returns_to_loop(self, context: PredictionContext) -> bool:
        tracker = context.tracker
        if not tracker.active_loop_name or tracker.latest_action_name != ACTION_LISTEN:
            return False
        states = context.states
        return any(_tail_matches(key, states) for key in self.loop_returns)

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
        data = {
            "entries": entries,
            "keep_listening": sorted(self.keep_listening),
            "loop_returns": self.loop_returns,
            "in_stories": sorted(self.in_stories or ()),
        }
        return data, {}

    def load_data(self, data: dict[str, Any], arrays: dict) -> None:
        self.entries = [RuleEntry(**entry) for entry in data.get("entries") or []]
        self.keep_listening = set(data.get("keep_listening") or [])
        self.loop_returns = data.get("loop_returns") or []
        found = data.get("in_stories")
        self.in_stories = None if found is None else set(found)


def _source(tracker: Any, action: str, entry: RuleEntry | None) -> str | None:
    """What decided ``action``: a rule, one of Rasa's defaults, or the loop's happy path."""
    if entry is not None:
        return _entry_key(entry)
    if action == _default_action(tracker):
        return f"default:{action}"
    loop = tracker.active_loop_name
    if loop and action in (loop, ACTION_LISTEN):
        return f"loop:{loop}:{action}"
    return None


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


def _loop_returns(trackers: list[TrainingTracker], builder: StateBuilder) -> list[list[State]]:
    """Where a rule or story runs the active loop right after a user message: the action
    before the message (when there is one) and the message's state, once each."""
    found: dict[str, list[State]] = {}
    for tracker in trackers:
        if tracker.is_augmented:
            continue
        states, labels = builder.states(tracker.events, rule=tracker.is_rule)
        for index, label in enumerate(labels):
            now = states[index]
            loop = now.get(ACTIVE_LOOP, {}).get("name")
            after_user = now.get(PREV_ACTION, {}).get("action_name") == ACTION_LISTEN
            if not loop or loop == SHOULD_NOT_BE_SET or not after_user or label != loop:
                continue
            before = states[index - 1].get(PREV_ACTION) if index else None
            key = [{PREV_ACTION: before}, now] if before else [now]
            found.setdefault(state_key(key), key)
    return list(found.values())


def _after_snippet(states: list[State]) -> int | None:
    for index in range(len(states) - 1, -1, -1):
        if states[index].get(PREV_ACTION, {}).get("action_name") == RULE_SNIPPET_ACTION:
            return index + 1
    return None


def _matches(entry: RuleEntry, states: list[State], count: int) -> bool:
    """Whether the rule holds; ``states`` are the latest of the session's ``count`` states."""
    if count < len(entry.states) or (entry.from_start and count != len(entry.states)):
        return False
    return _tail_matches(entry.states, states)


def _tail_matches(wanted: list[State], states: list[State]) -> bool:
    if len(states) < len(wanted):
        return False
    tail = states[len(states) - len(wanted) :]
    return all(sub_state_matches(want, have) for want, have in zip(wanted, tail, strict=True))


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
