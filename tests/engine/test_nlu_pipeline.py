from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from engine.errors import ConfigError, ModelLoadError
from engine.nlu import NLUPipeline, parse_intent_shortcut
from engine.training_data import load_nlu_files, nlu_data_from_yaml
from tests.conftest import BOTS


def _bot(name: str) -> NLUPipeline:
    config = yaml.safe_load((BOTS / name / "config.yml").read_text())
    pipeline = NLUPipeline.from_config(config.get("pipeline"))
    pipeline.train(load_nlu_files([BOTS / name / "data/nlu.yml"]))
    return pipeline


@pytest.fixture(scope="module")
def initbot() -> NLUPipeline:
    return _bot("initbot")


def test_it_uses_rasas_default_pipeline_when_none_is_given(initbot: NLUPipeline) -> None:
    assert initbot.component_names[:2] == ["WhitespaceTokenizer", "RegexFeaturizer"]
    assert "FallbackClassifier" in initbot.component_names


def test_it_classifies_hello_as_greet_on_initbot(initbot: NLUPipeline) -> None:
    result = initbot.parse("hello", message_id="m1")
    assert result["intent"]["name"] == "greet"
    assert result["intent"]["confidence"] > 0.5
    assert result["message_id"] == "m1"
    assert len(result["intent_ranking"]) <= 10
    assert "response_selector" in result


def test_it_extracts_formbot_entities_and_maps_synonyms() -> None:
    formbot = _bot("formbot")
    result = formbot.parse("i want some chinese food for 4 people")
    assert result["intent"]["name"] == "inform" or result["intent"]["name"] == "request_restaurant"
    cuisine = [e for e in result["entities"] if e["entity"] == "cuisine"]
    assert cuisine and cuisine[0]["value"] == "chinese"
    assert cuisine[0]["extractor"] == "DIETClassifier"


def test_it_substitutes_spacy_on_moodbot_and_says_so() -> None:
    moodbot = _bot("moodbot")
    assert any("SpacyFeaturizer" in note for note in moodbot.substitutions)
    assert moodbot.parse("I am very sad")["intent"]["name"] == "mood_unhappy"


def test_it_round_trips_through_persist_and_load(tmp_path: Path, initbot: NLUPipeline) -> None:
    initbot.persist(tmp_path)
    loaded = NLUPipeline.load(tmp_path)
    for text in ["hello there", "not good", "bye bye", "are you a bot?"]:
        assert loaded.parse(text) == initbot.parse(text)
    assert not list(tmp_path.glob("*.pkl"))


def test_it_raises_model_load_error_for_missing_or_corrupt_files(
    tmp_path: Path, initbot: NLUPipeline
) -> None:
    with pytest.raises(ModelLoadError):
        NLUPipeline.load(tmp_path)
    initbot.persist(tmp_path)
    next(tmp_path.glob("*intent.npz")).write_bytes(b"garbage")
    with pytest.raises(ModelLoadError):
        NLUPipeline.load(tmp_path)


def test_it_rejects_an_unknown_component() -> None:
    with pytest.raises(ConfigError, match="NoSuchThing"):
        NLUPipeline.from_config([{"name": "NoSuchThing"}])


def test_it_is_deterministic(initbot: NLUPipeline) -> None:
    again = _bot("initbot")
    assert again.parse("good morning") == initbot.parse("good morning")


def test_it_falls_back_below_the_threshold() -> None:
    data = nlu_data_from_yaml(
        "nlu:\n- intent: a\n  examples: |\n    - apple pie\n"
        "- intent: b\n  examples: |\n    - banana split\n"
    )
    pipeline = NLUPipeline.from_config(
        [
            {"name": "WhitespaceTokenizer"},
            {"name": "CountVectorsFeaturizer"},
            {"name": "DIETClassifier"},
            {"name": "FallbackClassifier", "threshold": 0.99, "ambiguity_threshold": 0.1},
        ]
    )
    pipeline.train(data)
    result = pipeline.parse("something unrelated")
    assert result["intent"] == {"name": "nlu_fallback", "confidence": 0.99}
    assert result["intent_ranking"][0]["name"] == "nlu_fallback"


def test_it_handles_the_intent_shortcut_before_the_pipeline(initbot: NLUPipeline) -> None:
    result = initbot.parse('/greet{"name": "Ann"}')
    assert result["intent"] == {"name": "greet", "confidence": 1.0}
    assert result["entities"][0]["entity"] == "name" and result["entities"][0]["value"] == "Ann"


def test_it_parses_shortcut_confidence_and_bad_entities() -> None:
    assert parse_intent_shortcut("/greet@0.8")["intent"] == {"name": "greet", "confidence": 0.8}
    assert parse_intent_shortcut("/greet{not json}")["entities"] == []
    assert parse_intent_shortcut("hello") is None
    assert parse_intent_shortcut("/unknown", known_intents={"greet"}) is None


def test_it_reports_training_progress(initbot: NLUPipeline) -> None:
    seen: list[tuple[str, float]] = []
    pipeline = NLUPipeline.from_config(None)
    pipeline.train(
        load_nlu_files([BOTS / "initbot/data/nlu.yml"]), progress=lambda n, f: seen.append((n, f))
    )
    assert seen[0] == ("WhitespaceTokenizer", 0.0) and seen[-1][1] == 1.0
