"""TEDPolicy as a learned policy: a softmax regression over featurised state windows.

Rasa's TED is a transformer; here the last ``max_history`` states are one-hot/multi-hot
encoded (intent, entities, previous action, active loop, slot features), older states
scaled down, concatenated, and a multinomial logistic regression learns the next action.
It generalises where memoization cannot, is deterministic, trains in well under a second on
small bots, and persists as plain arrays. ``epochs`` is the number of full-batch training
steps, so a bot configured with one epoch gets an untrained policy, as it does in Rasa.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from engine.dialogue_states import (
    ACTIVE_LOOP,
    PREV_ACTION,
    SLOTS,
    UNLIKELY_INTENT,
    USER,
    State,
    StateBuilder,
)
from engine.events import ACTION_LISTEN
from engine.policies.base import Policy, PolicyPrediction, PredictionContext
from engine.policies.training_trackers import TrainingTracker

# What the action before a conversation's first user message can be.
CONVERSATION_STARTS = (None, "action_session_start", "action_restart")
# Scale of a state one step older than the next in TED's window.
RECENCY_DECAY = 0.5
LEARNING_RATE = 0.1
WARMUP_STEPS = 10
ADAM_BETAS = (0.9, 0.999)


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
        """The window's states side by side, each older one at half the scale of the next:
        under the same regularisation an older feature needs a larger weight to matter, so
        the latest intent and action lead, as they lead Rasa's TED off the stories."""
        width = len(self.columns) + 1
        window = states[-self.history :]
        vector = np.zeros(width * self.history, dtype=np.float32)
        offset = self.history - len(window)
        for i, state in enumerate(window):
            start = (offset + i) * width
            age = len(window) - 1 - i
            vector[start : start + width] = self.state_vector(state) * RECENCY_DECAY**age
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
        features = np.stack(rows).astype(np.float64)
        column = {name: i for i, name in enumerate(self.classes)}
        targets = np.zeros((len(labels), len(self.classes)))
        targets[np.arange(len(labels)), [column[label] for label in labels]] = 1.0
        epochs = max(1, int(self.config.get("epochs") or 1))
        self.weights, self.bias = _softmax_regression(
            features, targets, float(self.config["C"]), epochs
        )

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
        row = self.vectoriser.window_vector(context.ml_states)
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
    """Runs ``action_unlikely_intent`` before the answer to an intent the stories never
    have at this point of a conversation.

    Rasa's is a transformer scoring intents against thresholds learned from the stories;
    on the reference bots it objects exactly where no story has the intent after the bot's
    previous action (the start of a conversation counting as one), unless a rule or
    memoization answers with certainty (they outrank it). This policy learns those
    (previous action, intent) pairs from the stories and, right after a user message,
    predicts the action when the pair is new.
    """

    name = "UnexpecTEDIntentPolicy"
    priority = 2
    defaults = {"max_history": 5}

    def __init__(self, config: dict[str, Any] | None = None) -> None:
        super().__init__(config)
        self.expected: set[str] = set()

    def train(self, trackers: list[TrainingTracker], domain: Any, builder: StateBuilder) -> None:
        self.expected = set()
        for tracker in trackers:
            if tracker.is_rule or tracker.is_augmented:
                continue
            states = builder.states(tracker.events)[0]
            for index, state in enumerate(states):
                key = _turn_key(states[index - 1] if index else {}, state)
                if key is not None:
                    self.expected.add(key)

    def predict(self, context: PredictionContext) -> PolicyPrediction | None:
        if UNLIKELY_INTENT not in context.index or not self.expected:
            return None
        if context.tracker.latest_action_name != ACTION_LISTEN:
            return None  # right after the user's message, once
        states = context.ml_states
        key = _turn_key(states[-2] if len(states) > 1 else {}, states[-1]) if states else None
        if key is None or key in self.expected:
            return None
        return self.prediction(context, context.one_hot(UNLIKELY_INTENT))

    def state_data(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        return {"expected": sorted(self.expected)}, {}

    def load_data(self, data: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
        self.expected = set(data.get("expected") or [])


def _turn_key(before: State, state: State) -> str | None:
    """``previous action|intent`` for the state right after a user message, else None."""
    intent = state.get(USER, {}).get("intent")
    if not intent or state.get(PREV_ACTION, {}).get("action_name") != ACTION_LISTEN:
        return None
    previous = before.get(PREV_ACTION, {}).get("action_name")
    if previous in CONVERSATION_STARTS:
        previous = ""
    return f"{previous}|{intent}"


def _softmax_regression(
    features: np.ndarray, targets: np.ndarray, C: float, epochs: int
) -> tuple[np.ndarray, np.ndarray]:
    """Weights and biases of a softmax over the classes of ``targets`` (one-hot rows):
    ``epochs`` full-batch Adam steps from zero on the cross-entropy plus ``|W|^2 / 2C``.

    Few epochs leave the scores close to uniform, as they leave Rasa's TED: with
    ``epochs: 1`` (formbot's config) no prediction reaches the core fallback threshold.
    """
    weights = np.zeros((targets.shape[1], features.shape[1]))
    bias = np.zeros(targets.shape[1])
    moments = [
        np.zeros_like(weights),
        np.zeros_like(weights),
        np.zeros_like(bias),
        np.zeros_like(bias),
    ]
    for step in range(1, epochs + 1):
        logits = features @ weights.T + bias
        logits -= logits.max(axis=1, keepdims=True)
        probs = np.exp(logits)
        probs /= probs.sum(axis=1, keepdims=True)
        error = probs - targets
        for param, grad, first, second in (
            (weights, error.T @ features + weights / C, moments[0], moments[1]),
            (bias, error.sum(axis=0), moments[2], moments[3]),
        ):
            first *= ADAM_BETAS[0]
            first += (1 - ADAM_BETAS[0]) * grad
            second *= ADAM_BETAS[1]
            second += (1 - ADAM_BETAS[1]) * grad**2
            mean = first / (1 - ADAM_BETAS[0] ** step)
            spread = np.sqrt(second / (1 - ADAM_BETAS[1] ** step))
            param -= LEARNING_RATE * min(1.0, step / WARMUP_STEPS) * mean / (spread + 1e-8)
    return weights, bias
