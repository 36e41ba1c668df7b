from __future__ import annotations

import logging

import pytest

from engine.errors import ConfigError
from engine.nlu import NLUPipeline
from engine.training_data import nlu_data_from_yaml

DATA = nlu_data_from_yaml(
    """
nlu:
- intent: transfer
  examples: |
    - send money to account 1234567890
    - transfer 50 to [JPMC](bank)
    - fly from [Berlin]{"entity": "city", "role": "from"} to [Paris]{"entity": "city", "role": "to"}
    - fly from [Rome]{"entity": "city", "role": "from"} to [Oslo]{"entity": "city", "role": "to"}
    - fly from [Madrid]{"entity": "city", "role": "from"} to [Lima]{"entity": "city", "role": "to"}
    - put it in [pink pig](account)
- intent: faq/ask_name
  examples: |
    - what is your name
    - who are you
- intent: faq/ask_weather
  examples: |
    - how is the weather
    - is it raining
- synonym: savings
  examples: |
    - pink pig
- regex: account_number
  examples: |
    - \\d{10}
- lookup: bank
  examples: |
    - JPMC
    - Citi
"""
)


def _train(pipeline: list[dict]) -> NLUPipeline:
    nlu = NLUPipeline.from_config(pipeline)
    nlu.train(DATA)
    return nlu


def test_it_extracts_regex_and_lookup_entities() -> None:
    nlu = _train([{"name": "WhitespaceTokenizer"}, {"name": "RegexEntityExtractor"}])
    entities = nlu.parse("send it to citi")["entities"]
    assert entities == [
        {
            "entity": "bank",
            "start": 11,
            "end": 15,
            "value": "citi",
            "extractor": "RegexEntityExtractor",
        }
    ]


def test_it_maps_synonyms_and_records_the_processor() -> None:
    nlu = _train(
        [
            {"name": "WhitespaceTokenizer"},
            {"name": "LexicalSyntacticFeaturizer"},
            {"name": "CRFEntityExtractor"},
            {"name": "EntitySynonymMapper"},
        ]
    )
    entity = next(
        e for e in nlu.parse("put it in pink pig")["entities"] if e["entity"] == "account"
    )
    assert entity["value"] == "savings" and entity["processors"] == ["EntitySynonymMapper"]
    assert entity["extractor"] == "CRFEntityExtractor"


def test_it_tags_roles_with_diet() -> None:
    nlu = _train(
        [
            {"name": "WhitespaceTokenizer"},
            {"name": "LexicalSyntacticFeaturizer"},
            {"name": "CountVectorsFeaturizer"},
            {"name": "DIETClassifier"},
        ]
    )
    entities = nlu.parse("fly from Rome to Paris")["entities"]
    roles = {e["value"]: e.get("role") for e in entities if e["entity"] == "city"}
    assert roles == {"Rome": "from", "Paris": "to"}


def test_it_switches_off_diet_entity_recognition() -> None:
    nlu = _train(
        [
            {"name": "WhitespaceTokenizer"},
            {"name": "CountVectorsFeaturizer"},
            {"name": "DIETClassifier", "entity_recognition": False},
        ]
    )
    assert nlu.parse("fly from Rome to Paris")["entities"] == []


def test_it_selects_retrieval_responses() -> None:
    nlu = _train(
        [
            {"name": "WhitespaceTokenizer"},
            {"name": "CountVectorsFeaturizer"},
            {
                "name": "CountVectorsFeaturizer",
                "analyzer": "char_wb",
                "min_ngram": 1,
                "max_ngram": 4,
            },
            {"name": "DIETClassifier"},
            {"name": "ResponseSelector"},
        ]
    )
    selector = nlu.parse("what's your name?")["response_selector"]
    assert selector["all_retrieval_intents"] == ["faq"]
    response = selector["default"]["response"]
    assert response["intent_response_key"] == "faq/ask_name"
    assert response["utter_action"] == "utter_faq/ask_name"
    assert selector["default"]["ranking"][0]["intent_response_key"] == "faq/ask_name"


def test_it_classifies_by_keyword() -> None:
    nlu = _train([{"name": "KeywordIntentClassifier"}])
    assert nlu.parse("well, who are you then")["intent"] == {"name": "faq", "confidence": 1.0}


def test_it_warns_once_when_duckling_is_unreachable(caplog: pytest.LogCaptureFixture) -> None:
    nlu = _train([{"name": "DucklingEntityExtractor", "url": "http://127.0.0.1:9", "timeout": 0.5}])
    with caplog.at_level(logging.WARNING):
        assert nlu.parse("in two days")["entities"] == []
        nlu.parse("three")
    assert sum("Duckling" in r.message for r in caplog.records) <= 1


def test_it_rejects_bad_component_options() -> None:
    with pytest.raises(ConfigError, match="analyzer"):
        NLUPipeline.from_config([{"name": "CountVectorsFeaturizer", "analyzer": "bytes"}])
    with pytest.raises(ConfigError, match="name"):
        NLUPipeline.from_config([{"analyzer": "word"}])


def test_it_replaces_an_oov_word_with_the_oov_token() -> None:
    nlu = _train(
        [
            {"name": "WhitespaceTokenizer"},
            {"name": "CountVectorsFeaturizer", "OOV_token": "oov", "OOV_words": ["jpmc"]},
            {"name": "DIETClassifier"},
        ]
    )
    assert nlu.parse("zzzz")["intent"]["name"] in {"transfer", "faq"}
