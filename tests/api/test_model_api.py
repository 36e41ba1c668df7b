"""Model routes through the HTTP client: parse, predict, domain, load, unload, train, test."""

from __future__ import annotations

import pytest
import yaml

from tests.api.checks import assert_rasa_error

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("open_auth", "trained_initbot")]


def test_it_parses_a_message(client):
    body = client.post_json("/model/parse", {"text": "hello", "message_id": "m1"}).json()
    assert body["intent"]["name"] == "greet"
    assert body["text"] == "hello"
    assert body["message_id"] == "m1"
    assert body["intent_ranking"][0]["name"] == "greet"


def test_it_parses_the_intent_shortcut(client):
    body = client.post_json("/model/parse", {"text": '/mood_great{"name": "Ann"}'}).json()
    assert body["intent"] == {"name": "mood_great", "confidence": 1.0}
    assert body["entities"][0]["entity"] == "name"


@pytest.mark.parametrize(
    ("mode", "key"), [("wit", "intents"), ("LUIS", "prediction"), ("dialogflow", "queryResult")]
)
def test_it_emulates_other_nlu_services(client, mode, key):
    body = client.post_json(f"/model/parse?emulation_mode={mode}", {"text": "hello"}).json()
    assert key in body


def test_it_refuses_an_unknown_emulation_mode(client):
    response = client.post_json("/model/parse?emulation_mode=alexa", {"text": "hello"})
    assert_rasa_error(response, 400, details={"parameter": "emulation_mode", "in": "query"})


@pytest.mark.parametrize("body", [None, {}, {"text": 5}, [1]])
def test_it_needs_text_to_parse(client, body):
    response = (
        client.post_json("/model/parse", body) if body is not None else client.post("/model/parse")
    )
    assert_rasa_error(response, 400)


NO_AGENT = "No agent loaded. To continue processing, a model of a trained agent needs to be loaded."


def test_it_answers_409_without_a_model(client, no_model):
    for response in (
        client.post_json("/model/parse", {"text": "hi"}),
        client.get("/domain", HTTP_ACCEPT="application/json"),
    ):
        assert assert_rasa_error(response, 409, "Conflict")["message"] == NO_AGENT


def test_it_serves_the_legacy_parse_routes(client, trained_initbot):
    body = client.get("/parse?q=hello").json()
    assert body["intent"]["name"] == "greet"
    assert body["project"] == "default"
    assert body["model"] == trained_initbot.file_name
    assert client.post_json("/parse", {"query": "hello"}).json()["intent"]["name"] == "greet"
    assert_rasa_error(client.get("/parse"), 400)


def test_it_serves_the_domain_by_accept_header(client):
    as_json = client.get("/domain", HTTP_ACCEPT="application/json").json()
    assert "greet" in as_json["intents"]
    as_yaml = client.get("/domain", HTTP_ACCEPT="application/x-yml")
    assert as_yaml["Content-Type"] == "application/x-yaml"
    assert "utter_greet" in yaml.safe_load(as_yaml.content)["responses"]
    refused = client.get("/domain", HTTP_ACCEPT="*/*")
    assert refused.status_code == 406
    assert refused.json()["reason"] == "NotAcceptable"
    assert client.get("/domain").status_code == 200  # no Accept at all: JSON


def test_it_loads_and_unloads_models(client, initbot_archive, trained_initbot):
    assert client.delete("/model").status_code == 204
    assert client.get("/status").status_code == 409
    response = client.put_json("/model", {"model_file": str(initbot_archive)})
    assert response.status_code == 204
    assert client.get("/status").json()["model_file"] == initbot_archive.name


def test_it_refuses_to_load_what_is_not_a_model(client, tmp_path):
    missing = client.put_json("/model", {"model_file": str(tmp_path / "nope.tar.gz")})
    assert_rasa_error(missing, 400, details={"parameter": "model", "in": "query"})
    junk = tmp_path / "junk.tar.gz"
    junk.write_bytes(b"not a tar")
    corrupt = client.put_json("/model", {"model_file": str(junk)})
    assert_rasa_error(corrupt, 400, "LoadingError")
    assert client.get("/status").status_code == 200  # the old model is still served


@pytest.mark.parametrize("body", [None, {}, {"model_server": "x"}, {"model_server": {}}])
def test_it_refuses_bad_model_bodies(client, body):
    before = client.get("/status").json()
    response = client.put_json("/model", body) if body is not None else client.put("/model")
    assert_rasa_error(response, 400)
    assert client.get("/status").json() == before  # the served model did not change


def test_it_predicts_on_posted_events_without_storing_them(client, trained_initbot):
    events = [
        {"event": "action", "name": "action_listen"},
        {
            "event": "user",
            "text": "hi",
            "parse_data": {"intent": {"name": "greet", "confidence": 1.0}, "entities": []},
        },
    ]
    body = client.post_json("/model/predict", events).json()
    actions = [score["action"] for score in body["scores"]]
    assert actions == trained_initbot.domain.action_names_or_texts
    best = max(body["scores"], key=lambda s: s["score"])
    assert best["action"] == "utter_greet"
    assert body["tracker"]["sender_id"] == "default"
    from trackers.models import Conversation

    assert not Conversation.objects.exists()


def test_it_refuses_invalid_events_for_prediction(client):
    assert client.post_json("/model/predict", [{"event": "bogus"}]).status_code == 400
