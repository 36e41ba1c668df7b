"""TEDPolicy as a learned policy: a scikit-learn classifier over featurised state windows.

Rasa's TED is a transformer; here the last ``max_history`` states are one-hot/multi-hot
encoded (intent, entities, previous action, active loop, slot features), concatenated, and a
multinomial logistic regression learns the next action. It generalises where memoization
cannot, is deterministic, trains in well under a second on small bots, and persists as
plain arrays. ``epochs`` bounds the solver's iterations.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from engine.dialogue_states import ACTIVE_LOOP, PREV_ACTION, SLOTS, USER, State, StateBuilder
from engine.policies.base import Policy, PolicyPrediction, PredictionContext
from engine.policies.training_trackers import TrainingTracker


class StateVectoriser:
    """Fixed feature layout for one domain: every state feature gets one column."""

    def __init__(self, columns: list[str], history: int) -> None:
        self.columns = columns
        self.history = history
        self.position = {name: i for i, name in enumerate(columns)}

    @classmethod
    def for_domain(cls, domain: Any, builder: StateBuilder, history: int) -> StateVectoriser:
        columns = [f"intent:{name}" for name in domain.intents]
        columns += [f"entity:{name}" for name in domain.entities]
        columns += [f"action:{name}" for name in domain.action_names_or_texts]
        columns += [f"loop:{name}" for name in _form_names(domain)]
        for name, slot in builder.slots.items():
            from engine.dialogue_states import slot_features

            width = len(slot_features(slot, None))
            columns += [f"slot:{name}:{i}" for i in range(width)]
        return cls(columns, history)

    def state_vector(self, state: State) -> np.ndarray:
        vector = np.zeros(len(self.columns) + 1, dtype=np.float32)
        vector[-1] = 1.0  # "this position holds a real state" (padding stays all zero)
        for name, value in self._features(state):
            column = self.position.get(name)
            if column is not None:
                vector[column] = value
        return vector

    def _features(self, state: State):
        user = state.get(USER, {})
        if user.get("intent"):
            yield f"intent:{user['intent']}", 1.0
        for entity in user.get("entities", ()):
            yield f"entity:{entity}", 1.0
        previous = state.get(PREV_ACTION, {})
        action = previous.get("action_name") or previous.get("action_text")
        if action:
            yield f"action:{action}", 1.0
        loop = state.get(ACTIVE_LOOP, {}).get("name")
        if loop:
            yield f"loop:{loop}", 1.0
        for name, values in state.get(SLOTS, {}).items():
            for i, value in enumerate(values if isinstance(values, list) else []):
                yield f"slot:{name}:{i}", float(value)

    def window_vector(self, states: list[State]) -> np.ndarray:
        width = len(self.columns) + 1
        window = states[-self.history :]
        vector = np.zeros(width * self.history, dtype=np.float32)
        offset = self.history - len(window)
        for i, state in enumerate(window):
            start = (offset + i) * width
            vector[start : start + width] = self.state_vector(state)
        return vector


def _form_names(domain: Any) -> list[str]:
    forms = getattr(domain, "forms", None) or {}
    return sorted(forms) if isinstance(forms, dict) else list(forms)


class TEDPolicy(Policy):
    name = "TEDPolicy"
    priority = 1
    defaults = {"max_history": 5, "epochs": 100, "C": 10.0}

    def __init__(self, config: dict[str, Any] | None = None) -> None:
        super().__init__(config)
        self.vectoriser: StateVectoriser | None = None
        self.weights: np.ndarray | None = None
        self.bias: np.ndarray | None = None
        self.classes: list[str] = []

    @property
    def window(self) -> int:
        return int(self.config.get("max_history") or 5)

    def train(self, trackers: list[TrainingTracker], domain: Any, builder: StateBuilder) -> None:
        self.vectoriser = StateVectoriser.for_domain(domain, builder, self.window)
        rows, labels = self._samples(trackers, builder)
        self.classes = sorted(set(labels))
        if len(self.classes) < 2:
            self._constant(len(rows[0]) if rows else self._width())
            return
        from sklearn.linear_model import LogisticRegression

        model = LogisticRegression(C=float(self.config["C"]), max_iter=self._iterations(), tol=1e-4)
        model.fit(np.stack(rows), np.array(labels))
        self.classes = [str(c) for c in model.classes_]
        self.weights = model.coef_.astype(np.float64)
        self.bias = model.intercept_.astype(np.float64)
        if len(self.classes) == 2:  # binary models keep one row; make it a two-class softmax
            self.weights = np.vstack([-self.weights / 2, self.weights / 2])
            self.bias = np.array([-self.bias[0] / 2, self.bias[0] / 2])

    def _iterations(self) -> int:
        return max(100, int(self.config.get("epochs") or 100) * 3)

    def _width(self) -> int:
        assert self.vectoriser is not None
        return (len(self.vectoriser.columns) + 1) * self.vectoriser.history

    def _constant(self, width: int) -> None:
        self.weights = np.zeros((len(self.classes), width))
        self.bias = np.zeros(len(self.classes))

    def _samples(
        self, trackers: list[TrainingTracker], builder: StateBuilder
    ) -> tuple[list[np.ndarray], list[str]]:
        assert self.vectoriser is not None
        seen: set[tuple] = set()
        rows, labels = [], []
        for tracker in trackers:
            if tracker.is_rule:
                continue
            states, actions = builder.states(tracker.events)
            for index, action in enumerate(actions):
                row = self.vectoriser.window_vector(states[: index + 1])
                key = (row.tobytes(), action)
                if key not in seen:
                    seen.add(key)
                    rows.append(row)
                    labels.append(action)
        return rows, labels

    def predict(self, context: PredictionContext) -> PolicyPrediction | None:
        if self.vectoriser is None or self.weights is None or not self.classes:
            return None
        row = self.vectoriser.window_vector(context.states)
        logits = self.weights @ row + self.bias
        logits -= logits.max()
        probs = np.exp(logits)
        probs /= probs.sum()
        scores = [0.0] * len(context.action_names)
        for action, prob in zip(self.classes, probs, strict=True):
            if action in context.index:
                scores[context.index[action]] = float(prob)
        return self.prediction(context, scores)

    def state_data(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        if self.vectoriser is None or self.weights is None or self.bias is None:
            return {}, {}
        data = {
            "columns": self.vectoriser.columns,
            "history": self.vectoriser.history,
            "classes": self.classes,
        }
        return data, {"weights": self.weights, "bias": self.bias}

    def load_data(self, data: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
        if not data:
            return
        self.vectoriser = StateVectoriser(list(data["columns"]), int(data["history"]))
        self.classes = list(data["classes"])
        self.weights = np.asarray(arrays["weights"], dtype=np.float64)
        self.bias = np.asarray(arrays["bias"], dtype=np.float64)


class UnexpecTEDIntentPolicy(Policy):
    """Accepted so unchanged configs train; it never objects to an intent (predicts nothing)."""

    name = "UnexpecTEDIntentPolicy"
    priority = 2
    defaults = {"max_history": 5}

    def train(self, trackers: list[TrainingTracker], domain: Any, builder: StateBuilder) -> None:
        return None

    def predict(self, context: PredictionContext) -> PolicyPrediction | None:
        return None
