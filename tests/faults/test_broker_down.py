"""Redis down: turns still work, /health names the broker, jobs are refused with a 503.

convapi is a real gunicorn server whose ``CELERY_BROKER_URL`` names a port where nothing
listens; then the test starts a private ``redis-server`` there and the same server process
queues jobs again.
"""

from __future__ import annotations

import shutil
import subprocess
import time

import pytest
import redis

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


def train(server, query: str):
    return server.post_raw(f"/model/train?{query}", training_document(), headers=YAML)


def test_it_serves_turns_and_refuses_jobs_while_redis_is_down(broker_down_server):
    server = broker_down_server
    turn = server.post("/webhooks/rest/webhook", {"sender": "no-redis", "message": "hello"})
    assert turn.status_code == 200, turn.text
    assert turn.json() and turn.json()[0]["recipient_id"] == "no-redis"

    health = server.get("/health")
    assert health.status_code == 503
    assert health.json()["down"] == ["broker"]
    assert health.json()["database"] == "ok"

    for query in ("async=true", "callback_url=http%3A%2F%2F127.0.0.1%3A9%2Fhook"):
        started = time.monotonic()
        refused = train(server, query)
        assert time.monotonic() - started < 10, "refused promptly, not after a long hang"
        body = assert_error_format(refused, 503)
        assert body["reason"] == "ServiceUnavailable"
        assert "broker" in body["message"]
        assert refused.headers["Retry-After"]

    # Each refused job is recorded as failed with that reason: none waits forever as queued.
    jobs = server.get("/jobs").json()["results"]
    assert [job["status"] for job in jobs] == ["failed", "failed"]
    assert {job["error"]["code"] for job in jobs} == {503}


@pytest.mark.skipif(shutil.which("redis-server") is None, reason="redis-server is not installed")
def test_it_queues_jobs_again_once_redis_is_back(broker_down_server, tmp_path):
    server = broker_down_server
    assert_error_format(train(server, "async=true"), 503)
    redis_server = subprocess.Popen(
        ["redis-server", "--port", str(server.broker_port), "--bind", "127.0.0.1",
         "--save", "", "--appendonly", "no", "--daemonize", "no", "--dir", str(tmp_path)],
        stdout=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        client = redis.Redis(port=server.broker_port)
        wait_for(lambda: _pings(client), what="the private redis-server")
        wait_for(lambda: server.get("/health").status_code == 200, what="/health to recover")
        accepted = train(server, "async=true")  # no worker runs here: it stays queued
        assert accepted.status_code == 202, accepted.text
        assert accepted.headers["Location"].startswith("/jobs/")
        assert client.llen("celery") == 1, "the task message is on the queue"
    finally:
        redis_server.terminate()
        redis_server.wait(timeout=15)


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
