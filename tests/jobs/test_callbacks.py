"""Training and tests with ``callback_url``: 204 now, the result POSTed to a loopback server.

With a broker these run on the real worker; without one, eagerly in the test process.
"""

from __future__ import annotations

import hashlib
import io
import tarfile
from pathlib import Path

import pytest

from jobs.callbacks import callback_payload
from jobs.models import Job
from tests.jobs.conftest import training_document, wait_for

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("jobs_env")]


def finished_job(**filters) -> Job:
    return wait_for(
        lambda: Job.objects.filter(status__in=["succeeded", "failed"], **filters).first(),
        what="the job to finish",
    )


def settled_callback(job: Job) -> Job:
    return wait_for(
        lambda: Job.objects.exclude(callback_status="pending").filter(pk=job.pk).first(),
        what="the callback to settle",
    )


def test_it_trains_and_posts_the_archive_to_the_callback(client, receiver):
    response = client.post(
        f"/model/train?callback_url={receiver.url}",
        training_document(),
        content_type="application/x-yaml",
    )
    assert response.status_code == 204
    assert response.content == b""
    (delivery,) = receiver.wait()
    name = delivery.headers["filename"]
    assert name.endswith(".tar.gz")
    assert delivery.headers["Content-Type"] == "application/x-tar"
    with tarfile.open(fileobj=io.BytesIO(delivery.body)) as archive:
        assert "metadata.json" in archive.getnames()
    job = settled_callback(finished_job(kind="train"))
    assert job.status == "succeeded"
    assert job.progress == 1.0
    assert job.result["filename"] == name
    assert job.callback_status == "delivered"
    assert [a.delivered for a in job.callback_attempts.all()] == [True]


def test_a_training_callback_sends_the_archive_from_the_store_on_any_host(client, receiver):
    """A worker of another host delivers (or retries) the callback: its cache lacks the file."""
    client.post(
        f"/model/train?callback_url={receiver.url}",
        training_document(),
        content_type="application/x-yaml",
    )
    receiver.wait()
    job = settled_callback(finished_job(kind="train"))
    Path(job.result_file).unlink()  # the training host's copy; this "host" never had one
    body, headers = callback_payload(job)
    assert hashlib.sha256(body).hexdigest() == job.result["sha256"]
    assert headers["filename"] == job.result["filename"]


def test_it_cross_validates_and_posts_the_report(client, receiver):
    response = client.post(
        f"/model/test/intents?cross_validation_folds=2&callback_url={receiver.url}",
        training_document(),
        content_type="application/x-yaml",
    )
    assert response.status_code == 204
    report = receiver.wait()[0].json()
    keys = {"intent_evaluation", "entity_evaluation", "response_selection_evaluation"}
    assert set(report) >= keys
    assert {"precision", "f1_score", "report", "errors"} <= set(report["intent_evaluation"])
    assert finished_job(kind="test_intents").status == "succeeded"


def test_it_posts_the_error_body_when_training_fails(client, receiver):
    response = client.post(
        f"/model/train?callback_url={receiver.url}",
        "key: [unclosed",
        content_type="application/x-yaml",
    )
    assert response.status_code == 204
    body = receiver.wait()[0].json()
    assert body["status"] == "failure"
    assert body["code"] == 400
    assert body["reason"] == "BadRequest"
    job = finished_job(kind="train")
    assert job.status == "failed"
    assert job.error == body


def test_it_retries_until_the_receiver_is_back(client, receiver):
    receiver.failures = ["drop", 503]
    client.post(
        f"/model/test/intents?cross_validation_folds=2&callback_url={receiver.url}",
        training_document(),
        content_type="application/x-yaml",
    )
    receiver.wait()
    job = settled_callback(finished_job(kind="test_intents"))
    attempts = list(job.callback_attempts.all())
    assert [a.number for a in attempts] == [1, 2, 3]
    assert [a.delivered for a in attempts] == [False, False, True]
    assert attempts[0].status_code is None and attempts[0].error
    assert attempts[1].status_code == 503
    assert job.callback_status == "delivered"


def test_it_marks_the_callback_undeliverable_once_its_retries_are_exhausted(
    client, receiver, settings
):
    """Every attempt fails with a retryable error: exactly CONVAPI_CALLBACK_ATTEMPTS POSTs,
    each a CallbackAttempt row, then ``undeliverable`` (and the job itself succeeded)."""
    attempts = settings.CONVAPI_CALLBACK_ATTEMPTS
    assert attempts == 4  # FAST_JOB_SETTINGS, the same in the worker's environment
    receiver.failures = ["drop", 503, 429, 500]
    response = client.post(
        f"/model/test/intents?cross_validation_folds=2&callback_url={receiver.url}",
        training_document(),
        content_type="application/x-yaml",
    )
    assert response.status_code == 204
    job = settled_callback(finished_job(kind="test_intents"))
    assert job.status == "succeeded"
    assert job.callback_status == "undeliverable"
    rows = list(job.callback_attempts.order_by("number"))
    assert [a.number for a in rows] == [1, 2, 3, 4]
    assert [a.delivered for a in rows] == [False] * attempts
    assert [a.status_code for a in rows] == [None, 503, 429, 500]
    assert all(a.error for a in rows)
    # Every planned failure was consumed, and nothing reached the receiver: a fifth
    # attempt would have been answered 200 and recorded. The status is final
    # (``callback_deliver`` acts only on pending callbacks), so no later attempt can come.
    assert receiver.failures == []
    assert receiver.received == []


def test_it_gives_up_on_a_receiver_that_refuses(client, receiver):
    receiver.failures = [400]
    client.post(
        f"/model/test/intents?cross_validation_folds=2&callback_url={receiver.url}",
        training_document(),
        content_type="application/x-yaml",
    )
    job = settled_callback(finished_job(kind="test_intents"))
    assert job.callback_status == "undeliverable"
    assert job.callback_attempts.count() == 1


def test_it_never_sends_the_servers_token(client, receiver, settings):
    settings.CONVAPI_AUTH_TOKEN = "rasa"
    response = client.post(
        f"/model/test/intents?token=rasa&cross_validation_folds=2&callback_url={receiver.url}",
        training_document(),
        content_type="application/x-yaml",
    )
    assert response.status_code == 204
    (delivery,) = receiver.wait()
    assert delivery.path == "/hook"
    assert "Authorization" not in delivery.headers
    assert "rasa" not in str(delivery.headers)


def test_it_does_not_follow_a_redirect_to_another_host(receiver):
    from jobs.callbacks import post_without_foreign_redirects

    receiver.failures = ["http://example.invalid/steal"]
    response = post_without_foreign_redirects(receiver.url, b"{}", {})
    assert response.status_code == 307
    assert receiver.received == []


@pytest.mark.parametrize(
    ("route", "body", "content_type", "message"),
    [
        ("/model/train", "", "application/x-yaml", "The request body is empty."),
        ("/model/train", "{}", "application/json", "JSON training requests are not supported"),
        ("/model/test/intents", "  ", "application/x-yaml", "The request body is empty."),
        ("/model/test/stories", "", "text/yml", "No agent loaded"),
    ],
)
def test_a_refused_body_is_answered_204_and_its_error_posted_to_the_callback(
    client, receiver, route, body, content_type, message
):
    """As Rasa does: a request naming a callback_url is answered before its body is looked
    at, and what is wrong with the body reaches the callback as the error body."""
    response = client.post(f"{route}?callback_url={receiver.url}", body, content_type=content_type)
    assert response.status_code == 204
    (received,) = receiver.wait()
    error = received.json()
    assert error["status"] == "failure"
    assert message in error["message"]
    job = settled_callback(Job.objects.get())
    assert job.status == "failed"
    assert job.error == error
    assert job.callback_status == "delivered"
    assert [a.delivered for a in job.callback_attempts.all()] == [True]


def test_without_a_callback_a_refused_body_is_still_a_400(client):
    response = client.post("/model/train", "", content_type="application/x-yaml")
    assert response.status_code == 400
    assert response.json()["message"] == "The request body is empty."
    assert not Job.objects.exists()
