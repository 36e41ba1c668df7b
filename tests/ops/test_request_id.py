"""The request id: answered in ``X-Request-ID``, on every line the request logs with its
conversation, sent to the action server, and carried into the tasks it enqueues."""

from __future__ import annotations

import json
import logging
import re

import pytest

from engine.actions.action_server import HttpActionServer
from engine.endpoints import ActionEndpoint
from jobs.log_context import LogContextFilter, current_request_id, log_context, log_formatter
from jobs.models import Job
from tests.jobs.conftest import wait_for
from tests.ops.conftest import sample

ACTION = "action_set_name"


@pytest.fixture
def logged(caplog) -> pytest.LogCaptureFixture:
    """caplog whose records carry the ids, as the server's log handler's do."""
    caplog.handler.addFilter(LogContextFilter())
    caplog.set_level(logging.INFO)
    return caplog


def execute(client, sender: str, **headers):
    """A turn whose conversation is in the path (``/execute`` needs it to exist)."""
    client.post_json("/webhooks/rest/webhook", {"sender": sender, "message": "hello"})
    return client.post_json(f"/conversations/{sender}/execute", {"name": ACTION}, **headers)


@pytest.mark.django_db
@pytest.mark.usefixtures("open_auth")
def test_it_returns_the_request_id_it_was_given(client):
    assert client.get("/version", HTTP_X_REQUEST_ID="abc-123")["X-Request-ID"] == "abc-123"


@pytest.mark.django_db
@pytest.mark.usefixtures("open_auth")
def test_it_makes_one_when_none_is_given(client):
    first, second = client.get("/version"), client.get("/version")
    assert re.fullmatch(r"[0-9a-f]{32}", first["X-Request-ID"])
    assert first["X-Request-ID"] != second["X-Request-ID"]


@pytest.mark.django_db
@pytest.mark.usefixtures("open_auth")
def test_it_replaces_one_it_would_not_write_into_a_log(client):
    response = client.get("/version", HTTP_X_REQUEST_ID="abc\nFAKE LINE")
    assert re.fullmatch(r"[0-9a-f]{32}", response["X-Request-ID"])


@pytest.mark.django_db
@pytest.mark.usefixtures("open_auth")
def test_an_error_answer_has_it_too(client):
    job = "6f1c1f4e-8d1b-4c52-9a63-0d3f2b7a9e10"
    response = client.get(f"/jobs/{job}", HTTP_X_REQUEST_ID="abc-404")
    assert response.status_code == 404
    assert response["X-Request-ID"] == "abc-404"


@pytest.mark.django_db
@pytest.mark.usefixtures("open_auth")
def test_it_is_forgotten_when_the_request_ends(client):
    client.get("/version", HTTP_X_REQUEST_ID="abc-gone")
    assert current_request_id() == ""


@pytest.mark.django_db
@pytest.mark.slow
def test_a_turn_logs_its_ids_and_sends_the_request_id_to_the_action_server(
    client, formbot_with_actions, logged
):
    formbot_with_actions.failing = {ACTION}
    errors = sample("convapi_action_server_calls_total", action=ACTION, outcome="error")
    response = execute(client, "trace-ann", HTTP_X_REQUEST_ID="abc")
    assert response.status_code == 200, response.content
    assert response["X-Request-ID"] == "abc"
    (call,) = formbot_with_actions.calls_of(ACTION)
    assert call.headers["X-Request-ID"] == "abc"
    assert call.sender_id == "trace-ann"
    failure = [r for r in logged.records if "custom action" in r.getMessage()]
    assert failure, [r.getMessage() for r in logged.records]
    assert (failure[0].request_id, failure[0].conversation_id) == ("abc", "trace-ann")
    assert sample("convapi_action_server_calls_total", action=ACTION, outcome="error") - errors == 1


@pytest.mark.django_db
@pytest.mark.slow
def test_a_successful_action_call_is_counted_and_timed(client, formbot_with_actions):
    ok = sample("convapi_action_server_calls_total", action=ACTION, outcome="ok")
    timed = sample("convapi_action_server_call_duration_seconds_count", action=ACTION)
    assert execute(client, "trace-bob").status_code == 200
    assert sample("convapi_action_server_calls_total", action=ACTION, outcome="ok") - ok == 1
    assert sample("convapi_action_server_call_duration_seconds_count", action=ACTION) - timed == 1
    # No request id of its own: the one the middleware made is sent.
    (call,) = formbot_with_actions.calls_of(ACTION)
    assert re.fullmatch(r"[0-9a-f]{32}", call.headers["X-Request-ID"])


def worker_log_lines(workers) -> list[str]:
    """Every line the test run's Celery workers logged (one worker, or one per queue)."""
    processes = getattr(workers, "workers", [workers])
    return [line for worker in processes for line in worker.log.read_text().splitlines()]


@pytest.mark.django_db(transaction=True)
def test_a_task_the_request_enqueued_logs_its_request_id(client, jobs_env, logged):
    """Eagerly the task runs inside the request; with a broker the real worker logs it."""
    response = client.post(
        "/model/train?async=true",
        "intents: 5\n",
        content_type="application/x-yaml",
        HTTP_X_REQUEST_ID="abc-job",
    )
    assert response.status_code == 202
    job_id = response.json()["id"]
    wait_for(lambda: Job.objects.get(pk=job_id).done, what="the job to fail")
    line = f"Job {job_id} (train) failed"
    if jobs_env is None:
        (record,) = [r for r in logged.records if r.getMessage().startswith(line)]
        assert record.request_id == "abc-job"
    else:
        lines = wait_for(
            lambda: [text for text in worker_log_lines(jobs_env) if line in text],
            what="the worker's line",
        )
        assert "request_id=abc-job" in lines[0], lines


def test_json_lines_carry_the_ids_as_fields():
    record = logging.LogRecord("convapi.test", logging.WARNING, __file__, 1, "hi %s", ("x",), None)
    with log_context(request_id="abc", conversation_id="ann/1"):
        LogContextFilter().filter(record)
    line = json.loads(log_formatter(json_lines=True).format(record))
    assert line["message"] == "hi x"
    assert (line["request_id"], line["conversation_id"]) == ("abc", "ann/1")
    assert line["levelname"] == "WARNING"
    assert "log_context" not in line


def test_plain_lines_name_what_is_known():
    record = logging.LogRecord("convapi.test", logging.INFO, __file__, 1, "hi", (), None)
    with log_context(request_id="abc"):
        LogContextFilter().filter(record)
    assert log_formatter().format(record).endswith(" INFO convapi.test request_id=abc: hi")


def test_the_action_server_client_sends_the_callers_headers_with_the_endpoints(action_server):
    endpoint = ActionEndpoint(url=action_server.url, headers={"X-Team": "bots"})
    client = HttpActionServer(endpoint, call_headers=lambda: {"X-Request-ID": "abc-call"})
    client.call({"next_action": ACTION, "sender_id": "ann"})
    (call,) = action_server.calls_of(ACTION)
    assert (call.headers["X-Team"], call.headers["X-Request-ID"]) == ("bots", "abc-call")
