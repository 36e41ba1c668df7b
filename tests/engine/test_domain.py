from __future__ import annotations

from pathlib import Path

import pytest

from engine.domain import DEFAULT_ACTIONS, Domain
from engine.errors import InvalidDomainError
from tests.conftest import BOTS

if not BOTS.exists():  # pragma: no cover - the bots also live beside the repository
    BOTS = Path(__file__).resolve().parents[3] / "shared" / "reference" / "bots"


def test_it_serves_initbot_like_rasa():
    domain = Domain.load(BOTS / "initbot" / "domain.yml")
    data = domain.as_dict()
    assert list(data) == ["version", "intents", "responses", "session_config"]
    assert data["version"] == "3.1"
    assert data["intents"] == sorted(data["intents"])
    assert "restart" not in data["intents"]
    assert data["session_config"] == {
        "session_expiration_time": 60,
        "carry_over_slots_to_new_session": True,
    }
    assert data["responses"]["utter_cheer_up"][0]["image"].startswith("https://")


def test_it_adds_default_intents_and_actions():
    domain = Domain.load(BOTS / "initbot" / "domain.yml")
    assert {"restart", "back", "out_of_scope", "session_start", "nlu_fallback"} <= set(
        domain.intents
    )
    assert domain.intents == sorted(domain.intents)
    actions = domain.action_names_or_texts
    assert actions[: len(DEFAULT_ACTIONS)] == list(DEFAULT_ACTIONS)
    assert actions[11] == "action_send_text"
    assert actions[len(DEFAULT_ACTIONS) :] == sorted(domain.responses)
    assert domain.slot_defaults() == {"session_started_metadata": None}


def test_it_reads_formbot():
    domain = Domain.load(BOTS / "formbot" / "domain.yml")
    assert domain.slot_defaults() == {
        "cuisine": None,
        "num_people": None,
        "outdoor_seating": None,
        "preferences": None,
        "feedback": None,
        "requested_slot": None,
        "session_started_metadata": None,
    }
    assert domain.required_slots("restaurant_form")[0] == "cuisine"
    assert domain.forms["restaurant_form"]["ignored_intents"] == ["chitchat"]
    assert domain.used_entities("request_restaurant") == []
    assert domain.used_entities("inform") == ["cuisine", "number", "feedback", "seating"]
    num_people = domain.slot("num_people")
    assert (num_people.type, num_people.min, num_people.max) == ("float", 0.0, 1.0)
    assert domain.slot("outdoor_seating").mappings[1]["conditions"][0]["active_loop"] == (
        "restaurant_form"
    )
    actions = domain.action_names_or_texts
    assert actions[len(DEFAULT_ACTIONS)] == "validate_restaurant_form"
    assert actions[-1] == "restaurant_form"
    assert "requested_slot" not in domain.as_dict()["slots"]


def test_it_reads_moodbot_buttons():
    domain = Domain.load(BOTS / "moodbot" / "domain.yml")
    assert domain.responses["utter_greet"][0]["buttons"][0]["payload"] == "/mood_great"
    assert domain.session_expiration_time == 60
    assert domain.carry_over_slots is True
    assert domain.store_entities_as_slots is True


def test_it_merges_a_domain_folder(tmp_path):
    folder = tmp_path / "domain"
    (folder / "sub").mkdir(parents=True)
    (folder / "a.yml").write_text(
        'version: "3.1"\nintents: [greet]\nresponses:\n  utter_greet:\n  - text: hi\n'
    )
    (folder / "sub" / "b.yml").write_text(
        "intents:\n- bye\n- faq:\n    is_retrieval_intent: true\n"
        "entities:\n- city:\n    roles: [from, to]\n"
        "slots:\n  city:\n    type: categorical\n    values: [paris, rome]\n"
        "    initial_value: paris\n    mappings:\n    - type: from_entity\n      entity: city\n"
        "responses:\n  utter_faq/ask_name:\n  - text: I am a bot\n"
        "actions:\n- action_hello:\n    send_domain: true\n"
        "config:\n  store_entities_as_slots: false\n"
        "session_config:\n  session_expiration_time: 0\n"
    )
    domain = Domain.load(folder)
    assert domain.user_intents == ["bye", "faq", "greet"]
    assert domain.entity_roles == {"city": ["from", "to"]}
    assert domain.slot("city").values == ["paris", "rome"]
    assert domain.slot_defaults()["city"] == "paris"
    assert domain.retrieval_intents == ["faq"]
    assert domain.actions_which_need_domain == ["action_hello"]
    assert domain.store_entities_as_slots is False
    assert domain.session_expiration_time == 0
    assert domain.as_dict()["config"] == {"store_entities_as_slots": False}
    assert "action_hello" in domain.action_names_or_texts


def test_it_writes_yaml_that_reads_back():
    domain = Domain.load(BOTS / "formbot" / "domain.yml")
    text = domain.as_yaml()
    assert text.startswith('version: "3.1"')
    again = Domain.from_yaml(text)
    assert again.as_dict() == domain.as_dict()
    assert again.fingerprint() == domain.fingerprint()


def test_it_changes_the_fingerprint_with_the_content():
    a = Domain.from_dict({"intents": ["greet"]})
    b = Domain.from_dict({"intents": ["greet", "bye"]})
    assert a.fingerprint() == Domain.from_dict({"intents": ["greet"]}).fingerprint()
    assert a.fingerprint() != b.fingerprint()


def test_it_names_the_file_and_line_of_bad_yaml(tmp_path):
    path = tmp_path / "domain.yml"
    path.write_text("intents:\n  - greet\n  bad: [\n")
    with pytest.raises(InvalidDomainError) as info:
        Domain.load(path)
    assert "domain.yml" in str(info.value)
    assert "line" in str(info.value)


@pytest.mark.parametrize(
    ("data", "key"),
    [
        ({"intents": "greet"}, "intents"),
        ({"slots": ["a"]}, "slots"),
        ({"slots": {"a": {"type": "nope"}}}, "slots.a.type"),
        ({"slots": {"a": {"type": "categorical"}}}, "slots.a.values"),
        ({"slots": {"a": {"type": "any", "influence_conversation": True}}}, "slots.a"),
        ({"slots": {"a": {"type": "float", "min_value": 2, "max_value": 1}}}, "slots.a.min_value"),
        ({"slots": {"a": {"type": "text", "mappings": [{"type": "magic"}]}}}, "slots.a.mappings"),
        ({"responses": {"utter_a": "hi"}}, "responses.utter_a"),
        ({"forms": {"f": {"required_slots": {"a": []}}}}, "forms.f.required_slots"),
        ({"forms": {"f": {"required_slots": ["missing"]}}}, "forms.f.required_slots"),
        ({"session_config": {"session_expiration_time": "soon"}}, "session_config"),
        ({"config": {"store_entities_as_slots": "yes"}}, "config.store_entities_as_slots"),
        ({"actions": "a"}, "actions"),
    ],
)
def test_it_names_the_key_of_a_wrong_value(data, key):
    with pytest.raises(InvalidDomainError) as info:
        Domain.from_dict(data, source="domain.yml")
    assert key in str(info.value)
    assert "domain.yml" in str(info.value)


def test_it_reads_yes_and_no_as_names_like_rasa():
    domain = Domain.from_yaml("intents: [yes, no, on]\nactions: [off]\n")
    assert {"yes", "no", "on"} <= set(domain.intents)
    assert "off" in domain.action_names_or_texts
