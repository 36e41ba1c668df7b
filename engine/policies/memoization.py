"""MemoizationPolicy and AugmentedMemoizationPolicy: exact recall of the training stories.

The policy remembers, for every window of ``max_history`` states in the (not augmented)
stories, which action came next. A window seen with two different next actions is ambiguous
and forgotten. The augmented variant, when nothing matches, forgets the start of the
conversation turn by turn (keeping slot values) and tries again, so a story can match in the
middle of a longer conversation.
"""

from __future__ import annotations

from typing import Any

from engine.dialogue_states import SLOTS, State, StateBuilder, is_listen_state, state_key
from engine.policies.base import Policy, PolicyPrediction, PredictionContext
from engine.policies.training_trackers import TrainingTracker

AMBIGUOUS = ""


class MemoizationPolicy(Policy):
    name = "MemoizationPolicy"
    priority = 3
    defaults = {"max_history": 5}

    def __init__(self, config: dict[str, Any] | None = None) -> None:
        super().__init__(config)
        self.lookup: dict[str, str] = {}

    def train(self, trackers: list[TrainingTracker], domain: Any, builder: StateBuilder) -> None:
        lookup: dict[str, str] = {}
        for tracker in trackers:
            if tracker.is_rule or tracker.is_augmented:
                continue
            states, labels = builder.states(tracker.events)
            for index, label in enumerate(labels):
                key = state_key(self._window(states[: index + 1]))
                if lookup.get(key, label) != label:
                    label = AMBIGUOUS
                lookup[key] = label
        self.lookup = {key: action for key, action in lookup.items() if action != AMBIGUOUS}

    def _window(self, states: list[State]) -> list[State]:
        history = self.window
        return states[-history:] if history else states

    def recall(self, states: list[State]) -> str | None:
        return self.lookup.get(state_key(self._window(states)))

    def predict(self, context: PredictionContext) -> PolicyPrediction | None:
        action = self.recall(context.ml_states)
        if action is None:
            return None
        return self.prediction(context, context.one_hot(action))

    def state_data(self) -> tuple[dict[str, Any], dict]:
        return {"lookup": self.lookup}, {}

    def load_data(self, data: dict[str, Any], arrays: dict) -> None:
        self.lookup = dict(data.get("lookup") or {})


class AugmentedMemoizationPolicy(MemoizationPolicy):
    name = "AugmentedMemoizationPolicy"
    priority = 2

    def recall(self, states: list[State]) -> str | None:
        found = super().recall(states)
        if found is not None:
            return found
        # Forget the beginning one user turn at a time; the dropped part leaves only its slots.
        for start in range(1, len(states)):
            if not is_listen_state(states[start]):
                continue
            first = {SLOTS: states[start - 1][SLOTS]} if SLOTS in states[start - 1] else {}
            found = super().recall([first, *states[start:]])
            if found is not None:
                return found
        return None
