from __future__ import annotations

import pytest

from engine.errors import BotError
from engine.training_data import (
    load_nlu_files,
    nlu_data_from_rasa_json,
    nlu_data_from_yaml,
)
from tests.conftest import BOTS

DOC = """
version: "3.1"
nlu:
- intent: greet
  metadata: {sentiment: neutral}
  examples: |
    - hello
    - hi [Ann](name)
- intent: order
  examples:
    - text: I want [pizza](food:pizza_margherita)
      metadata: {source: web}
    - text: 'fly from [Berlin]{"entity": "city", "role": "departure", "group": "1"}'
- intent: faq/ask_name
  examples: |
    - what is your name
- synonym: savings
  examples: |
    - pink pig
- regex: account_number
  examples: |
    - \\d{10,12}
- lookup: banks
  examples: |
    - JPMC
    - Bank of America
stories:
- story: ignored
  steps: []
"""


def test_it_reads_intent_examples_and_metadata() -> None:
    data = nlu_data_from_yaml(DOC)
    assert data.intents == {"greet", "order", "faq"}
    hello = data.examples[0]
    assert (hello.text, hello.intent) == ("hello", "greet")
    assert hello.metadata == {"intent": {"sentiment": "neutral"}}
    assert data.examples[2].metadata == {"example": {"source": "web"}}


def test_it_parses_entity_annotations() -> None:
    data = nlu_data_from_yaml(DOC)
    ann = data.examples[1]
    assert ann.text == "hi Ann"
    assert ann.entities == [{"start": 3, "end": 6, "value": "Ann", "entity": "name"}]
    fly = data.examples[3]
    assert fly.text == "fly from Berlin"
    assert fly.entities[0] == {
        "start": 9,
        "end": 15,
        "value": "Berlin",
        "entity": "city",
        "role": "departure",
        "group": "1",
    }


def test_it_turns_legacy_entity_values_into_synonyms() -> None:
    data = nlu_data_from_yaml(DOC)
    pizza = data.examples[2]
    assert pizza.text == "I want pizza"
    assert pizza.entities[0]["value"] == "pizza_margherita"
    assert data.synonyms["pizza"] == "pizza_margherita"
    assert data.synonyms["pink pig"] == "savings"


def test_it_reads_retrieval_intents_regexes_and_lookups() -> None:
    data = nlu_data_from_yaml(DOC)
    faq = data.examples[4]
    assert (faq.intent, faq.response_key, faq.full_intent) == ("faq", "ask_name", "faq/ask_name")
    assert data.retrieval_intents == {"faq"}
    assert data.regexes == [{"name": "account_number", "pattern": "\\d{10,12}"}]
    assert data.lookups == [{"name": "banks", "elements": ["JPMC", "Bank of America"]}]
    assert data.entities == {"name", "food", "city"}


def test_it_reads_rasa_nlu_json() -> None:
    data = nlu_data_from_rasa_json(
        {
            "rasa_nlu_data": {
                "common_examples": [
                    {
                        "text": "hi Ann",
                        "intent": "greet",
                        "entities": [{"start": 3, "end": 6, "value": "Ann", "entity": "name"}],
                    }
                ],
                "entity_synonyms": [{"value": "savings", "synonyms": ["Pink Pig"]}],
                "regex_features": [{"name": "zip", "pattern": "[0-9]{5}"}],
                "lookup_tables": [{"name": "banks", "elements": ["JPMC"]}],
            }
        }
    )
    assert data.examples[0].entities[0]["entity"] == "name"
    assert data.synonyms == {"pink pig": "savings"}
    assert data.regexes[0]["name"] == "zip"
    assert data.lookups[0]["elements"] == ["JPMC"]


def test_it_rejects_json_without_rasa_nlu_data() -> None:
    with pytest.raises(BotError):
        nlu_data_from_rasa_json({"common_examples": []})


def test_it_names_the_file_and_line_of_bad_yaml() -> None:
    with pytest.raises(BotError, match=r"nlu\.yml.*line 3"):
        nlu_data_from_yaml("nlu:\n- intent: a\n  examples: : x\n  - b\n", source="nlu.yml")


def test_it_names_the_example_with_a_bad_annotation() -> None:
    text = 'nlu:\n- intent: a\n  examples: |\n    - go to [x]{"entity": }\n'
    with pytest.raises(BotError, match=r"data/nlu\.yml.*go to \[x\]"):
        nlu_data_from_yaml(text, source="data/nlu.yml")


def test_it_rejects_annotations_without_an_entity_key() -> None:
    text = 'nlu:\n- intent: a\n  examples: |\n    - go to [x]{"role": "r"}\n'
    with pytest.raises(BotError, match="entity"):
        nlu_data_from_yaml(text, source="f.yml")


def test_it_rejects_unknown_items() -> None:
    with pytest.raises(BotError, match="unknown NLU item"):
        nlu_data_from_yaml("nlu:\n- foo: bar\n", source="f.yml")


def test_it_merges_and_fingerprints() -> None:
    first = nlu_data_from_yaml(DOC)
    second = nlu_data_from_yaml("nlu:\n- intent: bye\n  examples: |\n    - bye\n")
    merged = first.merge(second)
    assert "bye" in merged.intents and len(merged.examples) == len(first.examples) + 1
    assert first.fingerprint() == nlu_data_from_yaml(DOC).fingerprint()
    assert merged.fingerprint() != first.fingerprint()


def test_it_reads_the_reference_bots() -> None:
    formbot = load_nlu_files([BOTS / "formbot/data/nlu.yml"])
    assert {"cuisine", "seating"} <= formbot.entities
    assert formbot.synonyms["pan asian"] == "asian"
    initbot = load_nlu_files([BOTS / "initbot/data/nlu.yml"])
    assert "greet" in initbot.intents


def test_it_reads_yes_and_no_as_intent_names_like_rasa() -> None:
    """YAML 1.2, as Rasa: CLINC150's ``yes``/``no`` intents are not the booleans of YAML 1.1."""
    data = nlu_data_from_yaml("nlu:\n- intent: yes\n  examples: |\n    - sure\n")
    assert [example.intent for example in data.examples] == ["yes"]
