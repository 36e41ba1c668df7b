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
    prediction = ensemble.predict(tracker, domain)
    assert prediction.policy_name in ("TEDPolicy", "RulePolicy")
    assert prediction.confidence >= 0.3
    assert sum(prediction.probabilities) == pytest.approx(1.0, abs=0.31)


def test_it_trains_formbot():
    domain, ensemble = _bot("formbot")
    tracker = _conversation(domain, "request_restaurant")
    assert ensemble.predict(tracker, domain).action_name == "restaurant_form"
