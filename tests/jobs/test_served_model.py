"""Every process serves the model chosen last, whichever process handled ``PUT /model``."""

from __future__ import annotations

import hashlib

import pytest

from jobs.models import Job
from jobs.services import job_submit
from serving import holder
from serving.holder import current_assistant
from serving.models import ServedModel
from tests.jobs.conftest import wait_for

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("jobs_env")]

STORIES = (
    "stories:\n- story: hi\n  steps:\n  - user: hello\n    intent: greet\n  - action: utter_greet\n"
)


def forget_local_model() -> None:
    """What another process looks like: it has not loaded the chosen model yet."""
    holder.assistant_set(None, choice="")


def test_it_records_the_chosen_model_for_every_process(client, initbot_archive):
    assert client.put_json("/model", {"model_file": str(initbot_archive)}).status_code == 204
    row = ServedModel.objects.get()
    assert row.archive_id == hashlib.sha256(initbot_archive.read_bytes()).hexdigest()
    forget_local_model()
    assert current_assistant().file_name == initbot_archive.name
    assert client.delete("/model").status_code == 204
    assert ServedModel.objects.get().version == row.version + 1
    assert client.get("/status").status_code == 409


def test_it_lets_the_worker_follow_an_unloaded_model(client, jobs_env, initbot_archive):
    client.put_json("/model", {"model_file": str(initbot_archive)})
    job = job_submit(kind="test_stories", params={}, body=STORIES)
    job = wait_for(lambda: Job.objects.filter(pk=job.pk, status="succeeded").first())
    assert job.result["accuracy"] == 1.0
    client.delete("/model")
    job = job_submit(kind="test_stories", params={}, body=STORIES)
    job = wait_for(lambda: Job.objects.filter(pk=job.pk, status="failed").first())
    assert job.error["code"] == 409
