from __future__ import annotations

from engine.domain import Domain
from engine.events import ActionExecuted, SessionStarted, UserUttered
from engine.policies import PolicyEnsemble
from engine.policies.training_trackers import training_trackers
from engine.tracker import Tracker
from engine.training_data.stories import story_data_from_yaml

DOMAIN = Domain.from_yaml(
    """
intents: [a, b, c, d]
responses:
  utter_a: [{text: a}]
  utter_b: [{text: b}]
  utter_c: [{text: c}]
  utter_d1: [{text: d1}]
  utter_d2: [{text: d2}]
"""
)
# The action after `d` depends on a turn four user turns back.
STORIES = story_data_from_yaml(
    """
stories:
- story: one
  steps:
  - intent: a
  - action: utter_a
  - intent: b
  - action: utter_b
  - intent: c
  - action: utter_c
  - intent: d
  - action: utter_d1
- story: two
  steps:
  - intent: b
  - action: utter_b
  - intent: b
  - action: utter_b
  - intent: c
  - action: utter_c
  - intent: d
  - action: utter_d2
"""
)


def _tracker(*intents: str, actions: dict[str, str] | None = None) -> Tracker:
    events = [ActionExecuted("action_session_start"), SessionStarted()]
    for intent in intents:
        events += [ActionExecuted("action_listen"), UserUttered(intent, {"name": intent})]
        events.append(ActionExecuted(f"utter_{intent}"))
    events.pop()
    return Tracker.from_events("t", events, DOMAIN.slot_defaults())


def _trained(name: str, max_history: int) -> PolicyEnsemble:
    ensemble = PolicyEnsemble.from_config([{"name": name, "max_history": max_history}])
    ensemble.train(STORIES, DOMAIN)
    return ensemble


def test_it_recalls_the_story_within_max_history():
    ensemble = _trained("MemoizationPolicy", 8)
    prediction = ensemble.predict(_tracker("a", "b", "c", "d"), DOMAIN)
    assert prediction.action_name == "utter_d1"
    assert prediction.policy_name == "MemoizationPolicy" and prediction.confidence == 1.0
    assert ensemble.predict(_tracker("b", "b", "c", "d"), DOMAIN).action_name == "utter_d2"


def test_it_forgets_what_lies_beyond_max_history():
    ensemble = _trained("MemoizationPolicy", 3)
    # With 3 states the end of both stories looks the same: ambiguous, so nothing is predicted.
    prediction = ensemble.predict(_tracker("a", "b", "c", "d"), DOMAIN)
    assert prediction.policy_name is None


def test_it_predicts_nothing_for_an_unknown_history():
    prediction = _trained("MemoizationPolicy", 5).predict(_tracker("c"), DOMAIN)
    assert prediction.policy_name is None


def test_it_matches_a_story_start_in_mid_conversation_when_augmented():
    tracker = _tracker("c", "a")
    assert _trained("MemoizationPolicy", 5).predict(tracker, DOMAIN).policy_name is None
    prediction = _trained("AugmentedMemoizationPolicy", 5).predict(tracker, DOMAIN)
    assert prediction.action_name == "utter_a"
    assert prediction.policy_name == "AugmentedMemoizationPolicy"


def test_it_augments_deterministically_and_never_augments_rules():
    data = STORIES.merge(
        story_data_from_yaml("rules:\n- rule: r\n  steps:\n  - intent: c\n  - action: utter_c\n")
    )

    def names(seed: int) -> list[str]:
        return [t.name for t in training_trackers(data, DOMAIN, augmentation=5, seed=seed)]

    assert names(1) == names(1)
    trackers = training_trackers(data, DOMAIN, augmentation=5, seed=1)
    assert sum(t.is_augmented for t in trackers) > 0
    assert not any(t.is_rule and t.is_augmented for t in trackers)
    assert sum(t.is_augmented for t in trackers) <= 50
    assert not any(t.is_augmented for t in training_trackers(data, DOMAIN, augmentation=0))
