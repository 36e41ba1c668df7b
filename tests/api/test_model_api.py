"""Model routes through the HTTP client: parse, predict, domain, load, unload, train, test."""

from __future__ import annotations

import io
import json
import tarfile

import pytest
import yaml

from tests.conftest import BOTS

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
    assert response.status_code == 400
    assert response.json()["details"] == {"parameter": "emulation_mode", "in": "query"}


@pytest.mark.parametrize("body", [None, {}, {"text": 5}, [1]])
def test_it_needs_text_to_parse(client, body):
    response = (
        client.post_json("/model/parse", body) if body is not None else client.post("/model/parse")
    )
    assert response.status_code == 400


def test_it_answers_409_without_a_model(client, no_model):
    assert client.post_json("/model/parse", {"text": "hi"}).status_code == 409
    assert client.get("/domain", HTTP_ACCEPT="application/json").status_code == 409


def test_it_serves_the_legacy_parse_routes(client, trained_initbot):
    body = client.get("/parse?q=hello").json()
    assert body["intent"]["name"] == "greet"
    assert body["project"] == "default"
    assert body["model"] == trained_initbot.file_name
    assert client.post_json("/parse", {"query": "hello"}).json()["intent"]["name"] == "greet"
    assert client.get("/parse").status_code == 400


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
    assert missing.status_code == 400
    assert missing.json()["details"] == {"parameter": "model", "in": "query"}
    junk = tmp_path / "junk.tar.gz"
    junk.write_bytes(b"not a tar")
    corrupt = client.put_json("/model", {"model_file": str(junk)})
    assert corrupt.status_code == 400
    assert corrupt.json()["reason"] == "LoadingError"
    assert client.get("/status").status_code == 200  # the old model is still served


@pytest.mark.parametrize("body", [None, {}, {"model_server": "x"}, {"model_server": {}}])
def test_it_refuses_bad_model_bodies(client, body):
    response = client.put_json("/model", body) if body is not None else client.put("/model")
    assert response.status_code == 400


def training_document() -> str:
    parts = {}
    for name in ("config.yml", "domain.yml", "data/nlu.yml", "data/stories.yml", "data/rules.yml"):
        parts.update(yaml.safe_load((BOTS / "initbot" / name).read_text()))
    return yaml.safe_dump(parts)


def test_it_trains_from_one_yaml_document(client, settings, tmp_path):
    settings.CONVAPI_MODEL = str(tmp_path)
    response = client.post("/model/train", training_document(), content_type="application/x-yaml")
    assert response.status_code == 200
    name = response["filename"]
    assert name.endswith(".tar.gz")
    assert name in response["Content-Disposition"]
    with tarfile.open(fileobj=io.BytesIO(b"".join(response.streaming_content))) as archive:
        assert "metadata.json" in archive.getnames()
    assert (tmp_path / name).is_file()


@pytest.mark.parametrize(
    ("body", "content_type", "reason"),
    [
        ("", "application/x-yaml", "BadRequest"),
        ('{"config": {}}', "application/json", "BadRequest"),
        ("key: [unclosed", "application/x-yaml", "BadRequest"),
        ("intents: 5\n", "application/x-yaml", "InvalidDomainError"),
    ],
)
def test_it_refuses_bad_training_documents(client, body, content_type, reason):
    response = client.post("/model/train", body, content_type=content_type)
    assert response.status_code == 400
    assert response.json()["reason"] == reason


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


def test_it_tests_stories(client):
    stories = (BOTS / "initbot" / "tests" / "test_stories.yml").read_text()
    response = client.post("/model/test/stories", stories, content_type="application/x-yaml")
    assert response.status_code == 200
    report = response.json()
    assert set(report) == {
        "report", "precision", "f1", "accuracy", "actions",
        "in_training_data_fraction", "is_end_to_end_evaluation",
    }  # fmt: skip
    assert set(report["actions"][0]) == {"action", "predicted", "confidence", "policy"}
    assert report["accuracy"] == 1.0


def test_it_tests_intents_in_yaml_and_json(client):
    nlu = (BOTS / "initbot" / "data" / "nlu.yml").read_text()
    report = client.post("/model/test/intents", nlu, content_type="application/x-yaml").json()
    assert {"intent_evaluation", "entity_evaluation", "response_selection_evaluation"} <= set(
        report
    )
    rasa_json = {
        "rasa_nlu_data": {"common_examples": [{"text": "hello", "intent": "greet", "entities": []}]}
    }
    response = client.post(
        "/model/test/intents", json.dumps(rasa_json), content_type="application/json"
    )
    assert response.status_code == 200
    assert response.json()["intent_evaluation"]["accuracy"] == 1.0


def test_it_cross_validates_without_a_model(client, no_model):
    document = training_document()
    response = client.post(
        "/model/test/intents?cross_validation_folds=2", document, content_type="application/x-yaml"
    )
    assert response.status_code == 200
    assert set(response.json()["intent_evaluation"]) >= {
        "precision",
        "f1_score",
        "report",
        "errors",
    }


def test_it_refuses_bad_test_requests(client, no_model):
    nlu = (BOTS / "initbot" / "data" / "nlu.yml").read_text()
    assert (
        client.post("/model/test/intents", "", content_type="application/x-yaml").status_code == 400
    )
    no_model_response = client.post("/model/test/intents", nlu, content_type="application/x-yaml")
    assert no_model_response.status_code == 409
    bad_model = client.post(
        "/model/test/intents?model=invalid.tar.gz", nlu, content_type="application/x-yaml"
    )
    assert bad_model.status_code == 400
    assert bad_model.json()["reason"] == "TestingError"
