from __future__ import annotations

import glob

import pytest

from engine.config import load_config
from engine.domain import Domain
from engine.policies import PolicyEnsemble
from engine.story_evaluation import evaluate_stories, run_story_evaluation
from engine.training_data.stories import load_story_files, story_data_from_yaml
from tests.conftest import BOTS

KEYS = {
    "report",
    "precision",
    "f1",
    "accuracy",
    "actions",
    "in_training_data_fraction",
    "is_end_to_end_evaluation",
}


def _trained(name: str) -> tuple[Domain, PolicyEnsemble]:
    domain = Domain.load(f"{BOTS}/{name}/domain.yml")
    ensemble = PolicyEnsemble.from_config(load_config(f"{BOTS}/{name}/config.yml").policies)
    ensemble.train(load_story_files(sorted(glob.glob(f"{BOTS}/{name}/data/*.yml"))), domain)
    return domain, ensemble


@pytest.fixture(scope="module")
def initbot() -> tuple[Domain, PolicyEnsemble]:
    return _trained("initbot")


def test_it_passes_every_initbot_test_story(initbot):
    domain, ensemble = initbot
    tests = load_story_files([f"{BOTS}/initbot/tests/test_stories.yml"])
    evaluation = run_story_evaluation(tests, ensemble=ensemble, domain=domain)
    result = evaluation.result
    assert set(result) == KEYS
    assert result["accuracy"] == 1.0 and result["f1"] == 1.0 and result["precision"] == 1.0
    assert result["report"]["conversation_accuracy"]["correct"] == 7
    assert set(result["actions"][0]) == {"action", "predicted", "confidence", "policy"}
    assert result["is_end_to_end_evaluation"] is False
    assert evaluation.failed_story_names == []


def test_it_passes_every_formbot_test_story():
    domain, ensemble = _trained("formbot")
    tests = load_story_files([f"{BOTS}/formbot/tests/test_stories.yml"])
    result = evaluate_stories(tests, ensemble=ensemble, domain=domain)
    assert result["accuracy"] == 1.0


def test_it_writes_failed_stories_with_the_predicted_action(initbot):
    domain, ensemble = initbot
    tests = story_data_from_yaml(
        """
stories:
- story: wrong answer
  steps:
  - intent: greet
  - action: utter_goodbye
""",
        source="tests/test_data.yml",
    )
    evaluation = run_story_evaluation(tests, ensemble=ensemble, domain=domain)
    assert evaluation.failed_story_names == ["wrong answer"]
    assert "- story: wrong answer (tests/test_data.yml)" in evaluation.failed_stories_yaml
    assert "- action: utter_goodbye  # predicted: utter_greet" in evaluation.failed_stories_yaml
    assert evaluation.result["accuracy"] < 1.0


def test_it_uses_the_parse_function_for_end_to_end_evaluation(initbot):
    domain, ensemble = initbot
    tests = story_data_from_yaml(
        "stories:\n- story: s\n  steps:\n  - user: hello\n    intent: greet\n"
        "  - action: utter_greet\n"
    )

    def parse(text: str) -> dict:
        return {"text": text, "intent": {"name": "goodbye", "confidence": 0.9}, "entities": []}

    evaluation = run_story_evaluation(
        tests, ensemble=ensemble, domain=domain, parse=parse, e2e=True
    )
    assert evaluation.result["is_end_to_end_evaluation"] is True
    assert "# predicted: goodbye: hello" in evaluation.failed_stories_yaml
