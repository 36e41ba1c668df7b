from __future__ import annotations

import pytest

from engine.domain import Domain
from engine.errors import BotError
from engine.events import (
    ActionExecuted,
    ActionExecutionRejected,
    ActiveLoop,
    SessionStarted,
    SlotSet,
    UserUttered,
)
from engine.policies import PolicyEnsemble
from engine.tracker import Tracker
from engine.training_data.stories import story_data_from_yaml

DOMAIN = Domain.from_yaml(
    """
intents: [greet, goodbye, inform, chitchat, stop, affirm, request]
entities: [city]
slots:
  city:
    type: text
    mappings: [{type: from_entity, entity: city}]
  done:
    type: bool
    mappings: [{type: custom}]
responses:
  utter_greet: [{text: hi}]
  utter_welcome_back: [{text: again}]
  utter_goodbye: [{text: bye}]
  utter_chitchat: [{text: chat}]
  utter_submit: [{text: ok}]
  utter_city: [{text: city}]
  utter_ask_city: [{text: which city}]
forms:
  city_form:
    required_slots: [city]
"""
)

RULES = """
rules:
- rule: first greeting
  conversation_start: true
  steps:
  - intent: greet
  - action: utter_greet
- rule: later greeting
  steps:
  - intent: greet
  - action: utter_welcome_back
- rule: goodbye when done
  condition:
  - slot_was_set:
    - done: true
  steps:
  - intent: goodbye
  - action: utter_goodbye
- rule: chitchat
  steps:
  - intent: chitchat
  - action: utter_chitchat
- rule: activate form
  steps:
  - intent: request
  - action: city_form
  - active_loop: city_form
- rule: submit form
  condition:
  - active_loop: city_form
  steps:
  - action: city_form
  - active_loop: null
  - action: utter_submit
"""


def _ensemble(yaml_text: str = RULES, **options) -> PolicyEnsemble:
    ensemble = PolicyEnsemble.from_config([{"name": "RulePolicy", **options}])
    ensemble.train(story_data_from_yaml(yaml_text), DOMAIN)
    return ensemble


def _tracker(*events) -> Tracker:
    start = [
        ActionExecuted("action_session_start"),
        SessionStarted(),
        ActionExecuted("action_listen"),
    ]
    return Tracker.from_events("t", [*start, *events], DOMAIN.slot_defaults())


def _user(intent: str) -> UserUttered:
    return UserUttered(intent, {"name": intent, "confidence": 1.0})


def _next(ensemble: PolicyEnsemble, tracker: Tracker) -> str | None:
    prediction = ensemble.predict(tracker, DOMAIN)
    assert prediction.policy_name == "RulePolicy"
    return prediction.action_name


def test_it_applies_conversation_start_rules_only_at_the_start():
    ensemble = _ensemble()
    assert _next(ensemble, _tracker(_user("greet"))) == "utter_greet"
    later = _tracker(
        _user("chitchat"),
        ActionExecuted("utter_chitchat"),
        ActionExecuted("action_listen"),
        _user("greet"),
    )
    assert _next(ensemble, later) == "utter_welcome_back"


def test_it_listens_after_the_rule_action():
    tracker = _tracker(_user("chitchat"), ActionExecuted("utter_chitchat"))
    assert _next(_ensemble(), tracker) == "action_listen"


def test_it_checks_rule_conditions():
    ensemble = _ensemble()
    assert _next(ensemble, _tracker(_user("goodbye"))) == "action_default_fallback"
    done = _tracker(SlotSet("done", True), _user("goodbye"))
    assert _next(ensemble, done) == "utter_goodbye"


def test_it_predicts_the_fallback_with_the_threshold_confidence():
    prediction = _ensemble(core_fallback_threshold=0.4).predict(_tracker(_user("inform")), DOMAIN)
    assert prediction.action_name == "action_default_fallback"
    assert prediction.confidence == pytest.approx(0.4)


def test_it_predicts_nothing_without_fallback_prediction():
    ensemble = _ensemble(enable_fallback_prediction=False)
    prediction = ensemble.predict(_tracker(_user("inform")), DOMAIN)
    assert prediction.policy_name is None and prediction.confidence == 0.0


def test_it_runs_a_form_from_activation_to_submission():
    ensemble = _ensemble()
    tracker = _tracker(_user("request"))
    assert _next(ensemble, tracker) == "city_form"
    tracker.update(ActionExecuted("city_form"))
    tracker.update(ActiveLoop("city_form"))
    assert _next(ensemble, tracker) == "action_listen"
    tracker.update(ActionExecuted("action_listen"))
    tracker.update(_user("inform"))
    assert _next(ensemble, tracker) == "city_form"
    tracker.update(ActionExecuted("city_form"))
    tracker.update(ActiveLoop(None))
    assert _next(ensemble, tracker) == "utter_submit"


def test_it_returns_to_the_form_after_an_interruption():
    ensemble = _ensemble()
    tracker = _tracker(
        _user("request"),
        ActionExecuted("city_form"),
        ActiveLoop("city_form"),
        ActionExecuted("action_listen"),
        _user("chitchat"),
    )
    assert _next(ensemble, tracker) == "city_form"
    tracker.update(ActionExecutionRejected("city_form"))
    assert _next(ensemble, tracker) == "utter_chitchat"
    tracker.update(ActionExecuted("utter_chitchat"))
    assert _next(ensemble, tracker) == "city_form"


def test_it_predicts_default_actions_for_default_intents():
    assert _next(_ensemble(), _tracker(_user("restart"))) == "action_restart"
    assert _next(_ensemble(), _tracker(_user("back"))) == "action_back"


def test_it_supports_wait_for_user_input_false_and_snippets():
    ensemble = _ensemble(
        """
rules:
- rule: greet then city
  wait_for_user_input: false
  steps:
  - intent: greet
  - action: utter_greet
- rule: after greeting
  steps:
  - action: utter_greet
  - action: utter_city
"""
    )
    tracker = _tracker(_user("greet"), ActionExecuted("utter_greet"))
    assert _next(ensemble, tracker) == "utter_city"


def test_it_raises_naming_contradicting_rules():
    with pytest.raises(BotError) as caught:
        _ensemble(
            """
rules:
- rule: greet one way
  steps:
  - intent: greet
  - action: utter_greet
- rule: greet another way
  steps:
  - intent: greet
  - action: utter_welcome_back
"""
        )
    assert "greet one way" in str(caught.value) and "greet another way" in str(caught.value)


def test_it_raises_naming_a_story_that_contradicts_a_rule():
    data = story_data_from_yaml(
        """
rules:
- rule: just greet
  steps:
  - intent: greet
  - action: utter_greet
stories:
- story: greet and more
  steps:
  - intent: greet
  - action: utter_greet
  - action: utter_city
"""
    )
    ensemble = PolicyEnsemble.from_config([{"name": "RulePolicy"}, {"name": "MemoizationPolicy"}])
    with pytest.raises(BotError) as caught:
        ensemble.train(data, DOMAIN)
    assert "greet and more" in str(caught.value) and "just greet" in str(caught.value)


def test_it_rejects_rules_with_two_user_turns_when_restricted():
    text = """
rules:
- rule: too long
  steps:
  - intent: greet
  - action: utter_greet
  - intent: goodbye
  - action: utter_goodbye
"""
    with pytest.raises(BotError, match="too long"):
        _ensemble(text)
    _ensemble(text, restrict_rules=False)
