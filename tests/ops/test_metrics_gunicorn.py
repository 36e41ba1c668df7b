"""One scrape of a real gunicorn with two workers counts the turns of both, and its JSON
log lines name each turn's request and conversation.

The workers are sync workers (one request at a time each), and the action server holds
two calls until both have arrived: so two different worker processes served them, and a
page that showed one process's metrics would count one.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator

import pytest
import requests

from tests.engine.processor_support import formbot_model
from tests.faults.conftest import ConvapiServer, wait_for
from tests.ops.conftest import (
    HOLD_SECONDS,
    LoopbackActionServer,
    Samples,
    endpoints_file,
    server_database_url,
)

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

ACTION = "action_set_name"
METRICS_TOKEN = "scrape-me"


@pytest.fixture
def server(tmp_path, action_server: LoopbackActionServer) -> Iterator[ConvapiServer]:
    env = {
        "DATABASE_URL": server_database_url(),
        "CONVAPI_MODEL": str(formbot_model().path),
        "CONVAPI_ENDPOINTS": str(endpoints_file(tmp_path, action_server.url)),
        "CONVAPI_METRICS_TOKEN": METRICS_TOKEN,
        "CONVAPI_LOG_FORMAT": "json",
        "GUNICORN_WORKER_CLASS": "sync",
        "GUNICORN_CMD_ARGS": "--access-logfile -",
    }
    server = ConvapiServer(env, tmp_path / "server.log", workers=2, threads=1)
    server.start()
    yield server
    action_server.released.set()
    server.stop()


def execute(url: str, sender: str, request_id: str) -> requests.Response:
    return requests.post(
        f"{url}/conversations/{sender}/execute",
        json={"name": ACTION},
        headers={"X-Request-ID": request_id},
        timeout=HOLD_SECONDS + 60,
    )


def execute_both_at_once(url: str, action_server: LoopbackActionServer) -> list[int]:
    """Two turns, each held at the action server until the other has arrived there too."""
    action_server.holding = {ACTION}
    statuses: list[int] = []
    threads = [
        threading.Thread(
            target=lambda s=s: statuses.append(execute(url, s, f"req-{s}").status_code)
        )
        for s in ("a", "b")
    ]
    for thread in threads:
        thread.start()
    wait_for(lambda: len(action_server.calls_of(ACTION)) == 2, timeout=60, what="both calls")
    action_server.released.set()
    for thread in threads:
        thread.join()
    action_server.holding = set()
    return statuses


def json_lines(server: ConvapiServer) -> list[dict]:
    lines = []
    for text in server.log_text().splitlines():
        if text.startswith("{"):
            lines.append(json.loads(text))
    return lines


def test_one_scrape_counts_the_turns_of_every_worker(server, action_server):
    for sender in ("a", "b"):
        hello = requests.post(
            f"{server.url}/webhooks/rest/webhook",
            json={"sender": sender, "message": "hello"},
            timeout=60,
        )
        assert hello.status_code == 200, hello.text
    assert execute_both_at_once(server.url, action_server) == [200, 200]
    calls = action_server.calls_of(ACTION)
    assert sorted(call.headers["X-Request-ID"] for call in calls) == ["req-a", "req-b"]

    refused = requests.get(f"{server.url}/metrics", timeout=30)
    assert refused.status_code == 401
    assert refused.json()["reason"] == "NotAuthenticated"
    page = requests.get(
        f"{server.url}/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"}, timeout=30
    )
    assert page.status_code == 200
    samples = Samples(page.text)
    assert samples("convapi_turns_total", route="execute", channel="none", outcome="ok") == 2
    assert samples("convapi_turn_duration_seconds_count", route="execute", channel="none") == 2
    assert samples("convapi_turns_total", route="user_message", channel="rest", outcome="ok") == 2
    assert samples("convapi_intent_confidence_count") == 2
    assert samples("convapi_action_server_calls_total", action=ACTION, outcome="ok") == 2
    assert samples("convapi_action_server_call_duration_seconds_count", action=ACTION) == 2


def test_its_json_log_lines_name_the_request_and_the_conversation(server, action_server):
    requests.post(
        f"{server.url}/webhooks/rest/webhook", json={"sender": "c", "message": "hi"}, timeout=60
    )
    action_server.failing = {ACTION}
    response = execute(server.url, "c", "abc")
    assert response.status_code == 200
    assert response.headers["X-Request-ID"] == "abc"
    assert action_server.calls_of(ACTION)[0].headers["X-Request-ID"] == "abc"
    failures = wait_for(
        lambda: [line for line in json_lines(server) if "custom action" in line["message"]],
        what="the failure's log line",
    )
    assert failures[0]["request_id"] == "abc"
    assert failures[0]["conversation_id"] == "c"
    assert failures[0]["levelname"] == "ERROR"
    # gunicorn's access line of the same request ends with its id.
    access = wait_for(
        lambda: [line for line in server.log_text().splitlines() if "/c/execute" in line],
        what="the access line",
    )
    assert access[-1].endswith(" abc"), access
