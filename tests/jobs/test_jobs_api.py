"""Jobs through the HTTP API: async submission, detail, listing, sync waits, models, status."""

from __future__ import annotations

import pytest

from engine.model import load_model
from jobs.models import Job
from serving.holder import assistant_from_model, assistant_set
from tests.jobs.conftest import training_document, wait_for

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("jobs_env")]


def poll_job(client, location: str) -> dict:
    return wait_for(
        lambda: (body := client.get(location).json())["status"] in ("succeeded", "failed") and body,
        what="the job to finish",
    )


def test_it_answers_202_with_the_jobs_location(client):
    response = client.post(
        "/model/train?async=true", training_document(), content_type="application/x-yaml"
    )
    assert response.status_code == 202
    location = response["Location"]
    assert location == f"/jobs/{response.json()['id']}"
    job = poll_job(client, location)
    assert job["status"] == "succeeded"
    assert job["kind"] == "train"
    assert job["progress"] == 1.0
    assert job["result"]["filename"].endswith(".tar.gz")
    assert job["started"] and job["finished"] and job["seconds"] >= 0
    assert job["params"]["augmentation"] == 50


def test_it_shows_a_failed_jobs_error_body(client):
    response = client.post(
        "/model/train?async=true", "intents: 5\n", content_type="application/x-yaml"
    )
    job = poll_job(client, response["Location"])
    assert job["status"] == "failed"
    assert job["error"]["reason"] == "InvalidDomainError"
    assert job["error"]["code"] == 400


def test_it_waits_for_a_synchronous_training(client, tmp_path):
    response = client.post("/model/train", training_document(), content_type="application/x-yaml")
    assert response.status_code == 200
    assert response["filename"].endswith(".tar.gz")
    job = Job.objects.get()
    assert job.status == "succeeded"
    assert job.result_file.endswith(response["filename"])


def test_it_answers_a_failed_synchronous_training_with_its_error(client):
    response = client.post("/model/train", "key: [unclosed", content_type="application/x-yaml")
    assert response.status_code == 400
    assert response.json()["reason"] == "BadRequest"
    assert Job.objects.get().status == "failed"


def test_it_lists_jobs_newest_first_in_pages(client):
    nlu = training_document()
    for _ in range(3):
        client.post(
            "/model/test/intents?async=true&cross_validation_folds=2",
            nlu,
            content_type="application/x-yaml",
        )
    ids = [str(pk) for pk in Job.objects.order_by("-created").values_list("pk", flat=True)]
    page = client.get("/jobs?limit=2").json()
    assert page["count"] == 3
    assert [job["id"] for job in page["results"]] == ids[:2]
    assert page["next"]
    rest = client.get("/jobs?limit=2&offset=2").json()
    assert [job["id"] for job in rest["results"]] == ids[2:]
    assert client.get("/jobs?kind=train").json()["count"] == 0


def test_it_answers_404_for_an_unknown_job(client):
    assert client.get("/jobs/not-a-uuid").status_code == 404
    missing = client.get("/jobs/00000000-0000-0000-0000-000000000000")
    assert missing.status_code == 404
    assert missing.json()["reason"] == "NotFound"


def test_it_guards_the_jobs_routes_like_the_model_routes(client, settings):
    settings.CONVAPI_AUTH_TOKEN = "rasa"
    for path in ("/jobs", "/models", "/jobs/00000000-0000-0000-0000-000000000000"):
        assert client.get(path).status_code == 401
    assert client.get("/jobs?token=rasa").status_code == 200


def test_it_counts_running_trainings_in_status(client, initbot_archive):
    assistant_set(assistant_from_model(load_model(initbot_archive)))
    Job.objects.create(kind="train", status="running")
    Job.objects.create(kind="train", status="succeeded")
    Job.objects.create(kind="test_intents", status="running")
    assert client.get("/status").json()["num_active_training_jobs"] == 1


def test_it_lists_stored_models_and_the_loaded_one(client, settings):
    trained = client.post("/model/train", training_document(), content_type="application/x-yaml")
    name = trained["filename"]
    (entry,) = client.get("/models").json()
    assert entry["name"] == name
    assert entry["model_id"]
    assert entry["size"] > 0
    assert entry["loaded"] is False
    path = f"{settings.CONVAPI_MODEL}/{name}"
    assert client.put_json("/model", {"model_file": path}).status_code == 204
    assert client.get("/models").json()[0]["loaded"] is True
