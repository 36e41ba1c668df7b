"""Redis down: turns still work, /health names the broker, jobs are refused with a 503.

convapi is a real gunicorn server whose ``CELERY_BROKER_URL`` names a port where nothing
listens; then the test starts a private ``redis-server`` there and the same server process
queues jobs again.
"""

from __future__ import annotations

import shutil
import subprocess

import pytest
import redis

from tests.conftest import BOTS
from tests.faults.conftest import assert_error_format, free_port, wait_for
from tests.jobs.conftest import training_document

pytestmark = pytest.mark.slow

YAML = {"Content-Type": "application/x-yaml"}


@pytest.fixture
def broker_down_server(convapi_server, initbot_archive, tmp_path):
    port = free_port()
    server = convapi_server(
        {
            "DATABASE_URL": f"sqlite:///{tmp_path / 'faults.sqlite3'}",
            "CELERY_BROKER_URL": f"redis://127.0.0.1:{port}/0",
            "CONVAPI_MODEL": str(initbot_archive),
        },
        workers=1,
    )
    server.broker_port = port
    return server


INITBOT = BOTS / "initbot"
# The three job routes, each with a body it accepts (so a refusal is the broker's fault).
JOB_ROUTES = {
    "train": ("/model/train", training_document),
    "test_intents": ("/model/test/intents", lambda: (INITBOT / "data" / "nlu.yml").read_text()),
    "test_stories": (
        "/model/test/stories",
        lambda: (INITBOT / "tests" / "test_stories.yml").read_text(),
    ),
}
# How a job is asked for: waiting (Rasa's way), ?async=true, or with a callback.
MODES = ["", "async=true", "callback_url=http%3A%2F%2F127.0.0.1%3A9%2Fhook"]


def post_job(server, kind: str, query: str):
    path, body = JOB_ROUTES[kind]
    # A server that hung retrying the broker would hit the client's timeout (ReadTimeout
    # fails the test): the outcome is asserted, never the speed.
    return server.post_raw(f"{path}?{query}", body(), headers=YAML)


def train(server, query: str):
    return post_job(server, "train", query)


def test_it_serves_turns_and_refuses_jobs_while_redis_is_down(broker_down_server):
    server = broker_down_server
    turn = server.post("/webhooks/rest/webhook", {"sender": "no-redis", "message": "hello"})
    assert turn.status_code == 200, turn.text
    assert turn.json() and turn.json()[0]["recipient_id"] == "no-redis"

    health = server.get("/health")
    assert health.status_code == 503
    assert health.json()["down"] == ["broker"]
    assert health.json()["database"] == "ok"

    for kind in JOB_ROUTES:
        for query in MODES:
            refused = post_job(server, kind, query)
            body = assert_error_format(refused, 503)
            assert body["reason"] == "ServiceUnavailable", (kind, query, body)
            assert "broker" in body["message"]
            assert body["details"] == {"component": "broker"}, (kind, query, body)
            assert refused.headers["Retry-After"] == "5", (kind, query)

    # Each refused job is recorded as failed with that body: none waits forever as queued.
    jobs = server.get("/jobs?limit=100").json()["results"]
    assert sorted(job["kind"] for job in jobs) == sorted(list(JOB_ROUTES) * len(MODES))
    assert {job["status"] for job in jobs} == {"failed"}
    for job in jobs:
        error = server.get(f"/jobs/{job['id']}").json()["error"]
        assert error["code"] == 503 and error["details"] == {"component": "broker"}, error


def _worker_env(server) -> dict[str, str]:
    """A real Celery worker beside the server: same database, broker and model."""
    from tests.conftest import FAST_JOB_SETTINGS

    # server.env holds no CONVAPI_TEST_BROKER_KEYPREFIX (tests/faults/conftest.py scrubs
    # it): this worker reads the private Redis's plain queue, where the server sends.
    assert "CONVAPI_TEST_BROKER_KEYPREFIX" not in server.env
    return {**server.env, **{name: str(value) for name, value in FAST_JOB_SETTINGS.items()}}


@pytest.mark.skipif(shutil.which("redis-server") is None, reason="redis-server is not installed")
def test_it_queues_jobs_again_once_redis_is_back(broker_down_server, tmp_path):
    """Refused while Redis is down; once it is back the SAME server process queues every
    kind of job again, and a worker started then runs each one to success."""
    from tests.jobs.conftest import WorkerProcess

    server = broker_down_server
    for kind in JOB_ROUTES:
        assert_error_format(post_job(server, kind, "async=true"), 503)
    redis_server = subprocess.Popen(
        ["redis-server", "--port", str(server.broker_port), "--bind", "127.0.0.1",
         "--save", "", "--appendonly", "no", "--daemonize", "no", "--dir", str(tmp_path)],
        stdout=subprocess.DEVNULL,
    )  # fmt: skip
    worker = WorkerProcess(_worker_env(server), tmp_path / "worker.log")
    try:
        client = redis.Redis(port=server.broker_port)
        wait_for(lambda: _pings(client), what="the private redis-server")
        wait_for(lambda: server.get("/health").status_code == 200, what="/health to recover")
        locations = {}
        for kind in JOB_ROUTES:
            accepted = post_job(server, kind, "async=true")
            assert accepted.status_code == 202, (kind, accepted.text)
            assert accepted.headers["Location"].startswith("/jobs/")
            locations[kind] = accepted.headers["Location"]
        # No worker yet: the three messages wait on the training queue.
        assert client.llen("training") == len(JOB_ROUTES), "the task messages are on the queue"
        worker.start()
        for kind, location in locations.items():
            job = wait_for(
                lambda location=location: _finished(server, location),
                timeout=120,
                what=f"the {kind} job queued after Redis came back",
            )
            assert job["status"] == "succeeded", (kind, job, worker.log.read_text()[-3000:])
            assert job["kind"] == kind
            assert job["result"], job
    finally:
        worker.stop()
        redis_server.terminate()
        redis_server.wait(timeout=15)


def _finished(server, location: str) -> dict | None:
    job = server.get(location).json()
    return job if job["status"] in ("succeeded", "failed") else None


def _pings(client: redis.Redis) -> bool:
    try:
        return bool(client.ping())
    except redis.RedisError:
        return False


def test_it_answers_a_turn_that_sets_a_reminder_while_redis_is_down(convapi_server, tmp_path):
    from tests.engine.processor_support import formbot_model, start_action_server

    action_port = free_port()
    action_server = start_action_server(action_port)
    try:
        endpoints = tmp_path / "endpoints.yml"
        endpoints.write_text(f"action_endpoint:\n  url: http://127.0.0.1:{action_port}/webhook\n")
        server = convapi_server(
            {
                "DATABASE_URL": f"sqlite:///{tmp_path / 'reminders.sqlite3'}",
                "CELERY_BROKER_URL": f"redis://127.0.0.1:{free_port()}/0",
                "CONVAPI_MODEL": str(formbot_model().path),
                "CONVAPI_ENDPOINTS": str(endpoints),
            },
            workers=1,
        )
        sender = {"sender": "reminded", "message": "hello"}
        assert server.post("/webhooks/rest/webhook", sender).status_code == 200
        response = server.post("/conversations/reminded/execute", {"name": "action_remind"})
    finally:
        action_server.kill()
        action_server.wait(timeout=15)
    events = server.get("/conversations/reminded/tracker?include_events=ALL").json()["events"]
    assert [e["name"] for e in events if e["event"] == "reminder"] == ["soon", "never"]
    assert response.status_code == 200, response.text
