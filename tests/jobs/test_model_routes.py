"""The model routes that run as jobs (train, test stories, test intents), as a client waits.

On the PostgreSQL run a real Celery worker does the work; on SQLite it runs eagerly once
the job's row is committed. Either way the request waits and answers as Rasa would.
"""

from __future__ import annotations

import hashlib
import io
import json
import tarfile

import pytest
import yaml

from serving.archives import archive_put
from serving.models import ModelArchive
from tests.conftest import BOTS

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("jobs_env")]


@pytest.fixture
def served(client, initbot_archive) -> None:
    """initbot served here and, through the served-model row, by the worker."""
    assert client.put_json("/model", {"model_file": str(initbot_archive)}).status_code == 204


@pytest.fixture
def no_model(client) -> None:
    assert client.delete("/model").status_code == 204


def training_document() -> str:
    parts = {}
    for name in ("config.yml", "domain.yml", "data/nlu.yml", "data/stories.yml", "data/rules.yml"):
        parts.update(yaml.safe_load((BOTS / "initbot" / name).read_text()))
    return yaml.safe_dump(parts)


def test_it_trains_from_one_yaml_document_into_the_model_store(client):
    response = client.post("/model/train", training_document(), content_type="application/x-yaml")
    assert response.status_code == 200
    name = response["filename"]
    assert name.endswith(".tar.gz")
    assert name in response["Content-Disposition"]
    content = b"".join(response.streaming_content)
    with tarfile.open(fileobj=io.BytesIO(content)) as archive:
        assert "metadata.json" in archive.getnames()
    stored = ModelArchive.objects.get()
    assert (stored.name, stored.size) == (name, len(content))
    assert stored.sha256 == hashlib.sha256(content).hexdigest()


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


def test_it_tests_stories(client, served):
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


def test_it_tests_intents_in_yaml_and_json(client, served):
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


def test_it_tests_intents_of_a_stored_archive_named_by_hash(client, no_model, initbot_archive):
    stored = archive_put(path=initbot_archive, name=initbot_archive.name, metadata={})
    nlu = (BOTS / "initbot" / "data" / "nlu.yml").read_text()
    response = client.post(
        f"/model/test/intents?model={stored.sha256}", nlu, content_type="application/x-yaml"
    )
    assert response.status_code == 200
    assert response.json()["intent_evaluation"]["accuracy"] == 1.0
