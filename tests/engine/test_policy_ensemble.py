from __future__ import annotations

import glob

import pytest

from engine.config import load_config
from engine.domain import Domain
from engine.errors import ConfigError, ModelLoadError
from engine.events import ActionExecuted, SessionStarted, UserUttered
from engine.policies import PolicyEnsemble
from engine.tracker import Tracker
from engine.training_data.stories import load_story_files
from tests.conftest import BOTS


# Training speed is measured by bench/train.py, not asserted here (a wall-clock bound
# flakes on a busy machine and proves nothing about correctness).
def _bot(name: str) -> tuple[Domain, PolicyEnsemble]:
    domain = Domain.load(f"{BOTS}/{name}/domain.yml")
    stories = load_story_files(sorted(glob.glob(f"{BOTS}/{name}/data/*.yml")))
    ensemble = PolicyEnsemble.from_config(load_config(f"{BOTS}/{name}/config.yml").policies)
    ensemble.train(stories, domain)
    return domain, ensemble


@pytest.fixture(scope="module")
def initbot() -> tuple[Domain, PolicyEnsemble]:
    return _bot("initbot")


def _conversation(domain: Domain, *steps: str) -> Tracker:
    events = [ActionExecuted("action_session_start"), SessionStarted()]
    for step in steps:
        if step.startswith(("utter_", "action_")):
            events.append(ActionExecuted(step))
        else:
            events += [ActionExecuted("action_listen"), UserUttered(step, {"name": step})]
    return Tracker.from_events("t", events, domain.slot_defaults())


def test_it_trains_initbot_with_sensible_predictions(initbot):
    domain, ensemble = initbot
    assert ensemble.predict(_conversation(domain, "greet"), domain).action_name == "utter_greet"
    sad = _conversation(domain, "greet", "utter_greet", "mood_unhappy")
    assert ensemble.predict(sad, domain).action_name == "utter_cheer_up"
    sad.update(ActionExecuted("utter_cheer_up"))
    assert ensemble.predict(sad, domain).action_name == "utter_did_that_help"
    prediction = ensemble.predict(_conversation(domain, "bot_challenge"), domain)
    assert (prediction.action_name, prediction.policy_name) == ("utter_iamabot", "RulePolicy")


def test_a_rule_turn_no_story_has_is_hidden_and_the_story_goes_on(initbot):
    """As in Rasa: "are you a bot?" in the middle of a story is answered by a rule, hidden
    from memoization and TED, and the story's next turn is recognised as if it had not
    been asked."""
    domain, ensemble = initbot
    tracker = _conversation(
        domain, "greet", "utter_greet", "mood_unhappy", "utter_cheer_up", "utter_did_that_help"
    )
    tracker.update(ActionExecuted("action_listen"))
    tracker.update(UserUttered("bot_challenge", {"name": "bot_challenge"}))
    rule = ensemble.predict(tracker, domain)
    assert (rule.action_name, rule.hide_rule_turn) == ("utter_iamabot", True)
    tracker.update(ActionExecuted("utter_iamabot", "RulePolicy", 1.0, hide_rule_turn=True))
    listen = ensemble.predict(tracker, domain)
    assert (listen.action_name, listen.hide_rule_turn) == ("action_listen", True)
    tracker.update(ActionExecuted("action_listen", "RulePolicy", 1.0, hide_rule_turn=True))
    tracker.update(UserUttered("affirm", {"name": "affirm"}))
    story = ensemble.predict(tracker, domain)
    assert (story.action_name, story.policy_name) == ("utter_happy", "MemoizationPolicy")
    assert not story.hide_rule_turn


def test_a_rule_a_story_also_follows_is_shown():
    """formbot, as Rasa marks it: the form's activation is in a story, the greeting is not."""
    domain, ensemble = _bot("formbot")
    activate = ensemble.predict(_conversation(domain, "request_restaurant"), domain)
    assert (activate.action_name, activate.hide_rule_turn) == ("restaurant_form", False)
    greet = ensemble.predict(_conversation(domain, "greet"), domain)
    assert (greet.action_name, greet.hide_rule_turn) == ("utter_greet", True)


def test_an_intent_no_story_has_after_that_action_is_unlikely(initbot):
    domain, ensemble = initbot
    expected = _conversation(domain, "greet", "utter_greet", "mood_great")
    assert ensemble.predict(expected, domain).action_name == "utter_happy"
    odd = _conversation(domain, "greet", "utter_greet", "deny")
    assert ensemble.predict(odd, domain).action_name == "action_unlikely_intent"
    odd.update(ActionExecuted("action_unlikely_intent", "UnexpecTEDIntentPolicy", 1.0))
    answer = ensemble.predict(odd, domain)
    assert answer.action_name != "action_unlikely_intent"
    rule = _conversation(domain, "greet", "utter_greet", "bot_challenge")
    assert ensemble.predict(rule, domain).action_name == "utter_iamabot"  # a rule outranks it


def test_it_scores_every_domain_action_in_domain_order(initbot):
    domain, ensemble = initbot
    prediction = ensemble.predict(_conversation(domain, "greet"), domain)
    assert len(prediction.probabilities) == len(domain.action_names_or_texts)
    assert prediction.probabilities[domain.action_names_or_texts.index("utter_greet")] == 1.0


def test_it_predicts_identically_after_a_persistence_round_trip(initbot, tmp_path):
    domain, ensemble = initbot
    ensemble.persist(tmp_path)
    loaded = PolicyEnsemble.load(tmp_path)
    assert loaded.max_history_needed == ensemble.max_history_needed
    for steps in (("greet",), ("greet", "utter_greet", "mood_great"), ("deny",), ("affirm",)):
        tracker = _conversation(domain, *steps)
        before, after = ensemble.predict(tracker, domain), loaded.predict(tracker, domain)
        assert before.probabilities == after.probabilities
        assert before.policy_name == after.policy_name


def test_it_refuses_a_corrupt_policy_folder(tmp_path):
    (tmp_path / "policies.json").write_text("{not json")
    with pytest.raises(ModelLoadError):
        PolicyEnsemble.load(tmp_path)


def test_it_uses_rasa_default_policies_when_none_are_configured():
    names = [policy.name for policy in PolicyEnsemble.from_config(None).policies]
    assert names == ["MemoizationPolicy", "RulePolicy", "UnexpecTEDIntentPolicy", "TEDPolicy"]


def test_it_names_an_unknown_policy():
    with pytest.raises(ConfigError, match="FancyPolicy"):
        PolicyEnsemble.from_config([{"name": "FancyPolicy"}])


def test_it_falls_back_to_ted_or_the_core_fallback_where_nothing_was_memorised(initbot):
    domain, ensemble = initbot
    tracker = _conversation(domain, "mood_unhappy")  # no story starts like this
    unlikely = ensemble.predict(tracker, domain)
    assert (unlikely.action_name, unlikely.policy_name) == (
        "action_unlikely_intent",
        "UnexpecTEDIntentPolicy",
    )
    tracker.update(ActionExecuted("action_unlikely_intent", unlikely.policy_name, 1.0))
    prediction = ensemble.predict(tracker, domain)
    assert prediction.policy_name in ("TEDPolicy", "RulePolicy")
    assert prediction.confidence >= 0.3
    assert sum(prediction.probabilities) == pytest.approx(1.0, abs=0.31)


def test_it_trains_formbot():
    domain, ensemble = _bot("formbot")
    tracker = _conversation(domain, "request_restaurant")
    assert ensemble.predict(tracker, domain).action_name == "restaurant_form"
