"""What every policy shares: the prediction type, the per-turn context, the policy interface."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, ClassVar

import numpy as np

from engine.dialogue_states import State, StateBuilder
from engine.events import ActionExecuted, ActionExecutionRejected
from engine.policies.training_trackers import TrainingTracker


@dataclass
class PolicyPrediction:
    """Scores for every domain action (in domain order) and which policy gave them."""

    probabilities: list[float]
    policy_name: str | None
    confidence: float = 0.0
    events: list = field(default_factory=list)
    action_metadata: dict | None = None
    is_end_to_end_prediction: bool = False
    hide_rule_turn: bool = False
    action_names: list[str] = field(default_factory=list, repr=False)
    priority: int = 0

    @property
    def max_confidence(self) -> float:
        return max(self.probabilities, default=0.0)

    @property
    def action_index(self) -> int:
        # The first highest, as numpy's argmax picks it, without converting the list.
        scores = self.probabilities
        return max(range(len(scores)), key=scores.__getitem__) if scores else 0

    @property
    def action_name(self) -> str | None:
        if not self.action_names:
            return None
        return self.action_names[self.action_index]


class PredictionContext:
    """One turn's view for the policies: the tracker, the domain and the states, built once.

    With ``history`` (the most states any policy looks at) the states come from the
    tracker's short tail of applied events, so a turn costs the same in a session of any
    length; ``states`` then holds at least the latest ``history`` states and
    ``state_count`` says how many the whole session has. Without it (or for a tracker
    with no tail) every state of the session is computed.
    """

    def __init__(
        self, tracker: Any, domain: Any, builder: StateBuilder, *, history: int | None = None
    ) -> None:
        self.tracker = tracker
        self.domain = domain
        self.builder = builder
        self.history = history
        self.action_names: list[str] = list(domain.action_names_or_texts)
        self.index = {name: i for i, name in enumerate(self.action_names)}

    @cached_property
    def events(self) -> list:
        """Every applied event of the session (reads the whole session: avoid on turns)."""
        return list(self.tracker.applied_events())

    @property
    def states(self) -> list[State]:
        return self._states[0]

    @property
    def state_count(self) -> int:
        return self._states[1]

    @cached_property
    def _states(self) -> tuple[list[State], int]:
        recent_applied = getattr(self.tracker, "recent_applied", None)
        if self.history is None or recent_applied is None:
            states = self.builder.states(self.events)[0]
            return states, len(states)
        tail = recent_applied(self.history)
        states = self.builder.states_after(tail.base, tail.events)
        return states, tail.folded_actions + len(states)

    @cached_property
    def ml_states(self) -> list[State]:
        """The states without the hidden rule turns (what memoization and TED see).

        From the same tail as ``states``: the tail counts the actions these states show,
        so it holds more than ``history`` of them; its first state may lack the hidden run
        before it, and falls outside the window.
        """
        recent_applied = getattr(self.tracker, "recent_applied", None)
        if self.history is None or recent_applied is None:
            return self.builder.ml_states(self.events)
        tail = recent_applied(self.history + 1)
        return self.builder.ml_states(tail.events, tail.base)

    @cached_property
    def rejected_action(self) -> str | None:
        """The action refused since the latest action ran (Rasa zeroes its score)."""
        for event in reversed(self.tracker.events):
            if isinstance(event, ActionExecutionRejected):
                return event.action_name
            if isinstance(event, ActionExecuted):
                return None
        return None

    def one_hot(self, action: str, confidence: float = 1.0) -> list[float]:
        scores = [0.0] * len(self.action_names)
        if action in self.index:
            scores[self.index[action]] = confidence
        return scores


class Policy:
    """A policy learns from training trackers and scores actions for a conversation."""

    name: ClassVar[str] = "Policy"
    priority: ClassVar[int] = 0
    defaults: ClassVar[dict[str, Any]] = {}

    def __init__(self, config: dict[str, Any] | None = None) -> None:
        self.config = {**self.defaults, **(config or {})}
        self.config.pop("name", None)

    @property
    def window(self) -> int:
        """How many recent states (action turns) the policy looks at."""
        return int(self.config.get("max_history") or 0)

    def train(self, trackers: list[TrainingTracker], domain: Any, builder: StateBuilder) -> None:
        raise NotImplementedError

    def predict(self, context: PredictionContext) -> PolicyPrediction | None:
        raise NotImplementedError

    def prediction(self, context: PredictionContext, scores: list[float]) -> PolicyPrediction:
        return PolicyPrediction(
            probabilities=scores,
            policy_name=self.name,
            confidence=max(scores, default=0.0),
            action_names=context.action_names,
            priority=self.priority,
        )

    # Persistence: plain JSON data plus named numpy arrays (never pickle).
    def state_data(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        return {}, {}

    def load_data(self, data: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
        return None
