"""The policy ensemble: policies from ``config.yml``, trained together, one prediction per turn.

Choosing among the policies follows Rasa's default ensemble: the highest confidence wins and a
tie goes to the higher priority (RulePolicy 6 > Memoization 3 > AugmentedMemoization 2 > TED 1);
an action the tracker just rejected scores zero everywhere. The events a policy attaches to
its prediction (``LoopInterrupted``) are kept whichever policy wins.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from engine.config import DEFAULT_POLICIES
from engine.dialogue_states import StateBuilder
from engine.errors import ConfigError, ModelLoadError
from engine.policies.base import Policy, PolicyPrediction, PredictionContext
from engine.policies.memoization import AugmentedMemoizationPolicy, MemoizationPolicy
from engine.policies.rule import RulePolicy
from engine.policies.ted import TEDPolicy, UnexpecTEDIntentPolicy
from engine.policies.training_trackers import training_trackers

POLICY_CLASSES: dict[str, type[Policy]] = {
    cls.name: cls
    for cls in (
        MemoizationPolicy,
        AugmentedMemoizationPolicy,
        RulePolicy,
        TEDPolicy,
        UnexpecTEDIntentPolicy,
    )
}
INDEX_FILE = "policies.json"
ARRAYS_FILE = "policies.npz"
FORMAT_VERSION = 1


class PolicyEnsemble:
    """The configured policies; ``predict`` returns the winning policy's scores."""

    def __init__(self, policies: list[Policy]) -> None:
        self.policies = policies
        self._builder: StateBuilder | None = None
        self._builder_domain: Any = None

    @classmethod
    def from_config(cls, policies: list[dict[str, Any]] | None) -> PolicyEnsemble:
        """Build the policies named in ``config.yml`` (Rasa's default set when none)."""
        entries = policies or DEFAULT_POLICIES
        built = []
        for entry in entries:
            if not isinstance(entry, dict) or not entry.get("name"):
                raise ConfigError("each policy needs a 'name'", key="policies")
            name = str(entry["name"]).rsplit(".", 1)[-1]
            if name not in POLICY_CLASSES:
                known = ", ".join(sorted(POLICY_CLASSES))
                raise ConfigError(f"unknown policy '{entry['name']}' (known: {known})", key=name)
            built.append(POLICY_CLASSES[name](dict(entry)))
        return cls(built)

    @property
    def max_history_needed(self) -> int:
        """The largest window (in action turns) any policy or rule looks at."""
        return max((policy.window for policy in self.policies), default=1)

    @property
    def state_window(self) -> int | None:
        """States a prediction needs, None when a policy looks at the whole session."""
        windows = [policy.window for policy in self.policies]
        if any(window <= 0 for window in windows):
            return None
        return max(windows, default=1)

    def builder(self, domain: Any) -> StateBuilder:
        if self._builder is None or self._builder_domain is not domain:
            self._builder, self._builder_domain = StateBuilder(domain), domain
        return self._builder

    def train(
        self,
        story_data: Any,
        domain: Any,
        *,
        augmentation: int = 50,
        seed: int = 42,
        progress: Callable[[str, float], None] | None = None,
    ) -> None:
        trackers = training_trackers(story_data, domain, augmentation=augmentation, seed=seed)
        builder = self.builder(domain)
        for policy in self.policies:
            if progress:
                progress(policy.name, 0.0)
            policy.train(trackers, domain, builder)
            if progress:
                progress(policy.name, 1.0)

    def predict(self, tracker: Any, domain: Any) -> PolicyPrediction:
        context = PredictionContext(
            tracker, domain, self.builder(domain), history=self.state_window
        )
        best: PolicyPrediction | None = None
        events: list = []
        for policy in self.policies:
            prediction = policy.predict(context)
            if prediction is None:
                continue
            events += prediction.events
            _zero_rejected(prediction, context)
            if best is None or _rank(prediction) > _rank(best):
                best = prediction
        if best is None:
            zeros = [0.0] * len(context.action_names)
            best = PolicyPrediction(zeros, None, 0.0, action_names=context.action_names)
        best.confidence = best.max_confidence
        best.events = events  # every policy's, as Rasa applies them whichever wins
        return best

    # --- persistence ---------------------------------------------------------------------

    def persist(self, directory: Path) -> None:
        """JSON for configs and lookups, one ``.npz`` for arrays: nothing executable."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        index, arrays = [], {}
        for number, policy in enumerate(self.policies):
            data, policy_arrays = policy.state_data()
            index.append({"name": policy.name, "config": policy.config, "data": data})
            arrays.update({f"{number}/{key}": value for key, value in policy_arrays.items()})
        document = {"format_version": FORMAT_VERSION, "policies": index}
        (directory / INDEX_FILE).write_text(json.dumps(document, sort_keys=True), "utf-8")
        with open(directory / ARRAYS_FILE, "wb") as handle:
            np.savez(handle, **arrays)

    @classmethod
    def load(cls, directory: Path) -> PolicyEnsemble:
        directory = Path(directory)
        try:
            document = json.loads((directory / INDEX_FILE).read_text("utf-8"))
            with np.load(directory / ARRAYS_FILE, allow_pickle=False) as stored:
                arrays = {key: stored[key] for key in stored.files}
        except (OSError, ValueError) as exc:
            raise ModelLoadError(f"the dialogue policies cannot be read: {exc}") from exc
        if document.get("format_version") != FORMAT_VERSION:
            raise ModelLoadError("the dialogue policies were saved in an unknown format")
        try:
            return cls([_load_policy(n, e, arrays) for n, e in enumerate(document["policies"])])
        except (KeyError, TypeError, ValueError) as exc:
            raise ModelLoadError(f"the dialogue policies are corrupt: {exc}") from exc


def _load_policy(number: int, entry: dict[str, Any], arrays: dict[str, np.ndarray]) -> Policy:
    policy_class = POLICY_CLASSES.get(entry["name"])
    if policy_class is None:
        raise ModelLoadError(f"unknown policy '{entry['name']}' in the model")
    policy = policy_class({"name": entry["name"], **entry["config"]})
    prefix = f"{number}/"
    own = {key[len(prefix) :]: value for key, value in arrays.items() if key.startswith(prefix)}
    policy.load_data(entry.get("data") or {}, own)
    return policy


def _rank(prediction: PolicyPrediction) -> tuple[float, int]:
    return (prediction.max_confidence, prediction.priority)


def _zero_rejected(prediction: PolicyPrediction, context: PredictionContext) -> None:
    rejected = context.rejected_action
    if rejected is not None and rejected in context.index:
        prediction.probabilities[context.index[rejected]] = 0.0
        prediction.confidence = prediction.max_confidence
