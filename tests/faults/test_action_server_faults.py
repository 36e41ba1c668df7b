"""The action server down, slow past its timeout, or answering garbage (API.md section 9).

Through the HTTP API with formbot plus the test actions: the turn still answers 200, the
action event is logged and the action's events are dropped, and the error is logged with
the conversation id. The slow server is a real rasa-sdk process; the garbage one is a tiny
loopback ``http.server``.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from serving.holder import assistant_from_model, assistant_set
from tests.api.conftest import ApiClient
from tests.engine.processor_support import formbot_model, free_port, start_action_server

pytestmark = [pytest.mark.slow, pytest.mark.django_db]

TIMEOUT_SECONDS = 1.0  # action_slow sleeps 2 s


@pytest.fixture
def formbot_served(settings) -> Iterator[None]:
    settings.CONVAPI_AUTH_TOKEN = ""
    settings.CONVAPI_JWT_SECRET = ""
    assistant_set(assistant_from_model(formbot_model()))
    yield
    assistant_set(None)


def use_action_server(settings, tmp_path: Path, url: str) -> None:
    endpoints = tmp_path / "endpoints.yml"
    endpoints.write_text(f"action_endpoint:\n  url: {url}\n  timeout: {TIMEOUT_SECONDS}\n")
    settings.CONVAPI_ENDPOINTS = str(endpoints)


def say(sender: str, text: str = "hello"):
    return ApiClient().post_json("/webhooks/rest/webhook", {"sender": sender, "message": text})


def execute(sender: str, action: str):
    """Rasa's /execute needs an existing conversation: a greeting starts it."""
    if ApiClient().get(f"/conversations/{sender}/tracker").json()["events"] == []:
        assert say(sender).status_code == 200
    return ApiClient().post_json(f"/conversations/{sender}/execute", {"name": action})


def assert_completed_without_its_events(response, sender: str, action: str) -> list[dict]:
    """200; the action event is stored; nothing the action server said is."""
    assert response.status_code == 200, response.content
    # /execute answers with the tracker as it was before the action (as Rasa's does).
    tracker = ApiClient().get(f"/conversations/{sender}/tracker?include_events=ALL")
    events = tracker.json()["events"]
    actions = [e.get("name") for e in events if e["event"] == "action"]
    assert action in actions
    after = events[[e.get("name") for e in events].index(action) + 1 :]
    assert not [e for e in after if e["event"] in ("slot", "bot", "user")], after
    return events


def cuisine_values(sender: str) -> list:
    events = ApiClient().get(f"/conversations/{sender}/tracker?include_events=ALL").json()["events"]
    return [e["value"] for e in events if e["event"] == "slot" and e["name"] == "cuisine"]


def assert_logged(caplog, sender: str, action: str) -> None:
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert any(sender in m and action in m for m in errors), errors


def test_it_completes_the_turn_when_the_action_server_is_down(
    formbot_served, settings, tmp_path, caplog
):
    use_action_server(settings, tmp_path, f"http://127.0.0.1:{free_port()}/webhook")
    sender = "down-sender"
    response = execute(sender, "action_set_name")
    assert_completed_without_its_events(response, sender, "action_set_name")
    assert_logged(caplog, sender, "action_set_name")
    assert say(sender).status_code == 200, "the conversation goes on"


def test_it_runs_the_form_through_the_webhook_when_the_action_server_is_down(
    formbot_served, settings, tmp_path, caplog
):
    use_action_server(settings, tmp_path, f"http://127.0.0.1:{free_port()}/webhook")
    response = say("form-sender", "im looking for a restaurant")
    assert response.status_code == 200, response.content
    assert response.json(), "the bot still answers"
    assert_logged(caplog, "form-sender", "restaurant_form")


def test_it_completes_the_turn_when_the_action_is_slower_than_its_timeout(
    formbot_served, settings, tmp_path, caplog
):
    port = free_port()
    process = start_action_server(port)  # a real rasa-sdk server with the fixture actions
    try:
        use_action_server(settings, tmp_path, f"http://127.0.0.1:{port}/webhook")
        assert execute("slow-sender", "action_set_name").status_code == 200
        assert cuisine_values("slow-sender") == ["from the server"], "the server itself works"
        response = execute("slow-sender", "action_slow")
    finally:
        process.kill()
        process.wait(timeout=15)
    assert_completed_without_its_events(response, "slow-sender", "action_slow")
    assert "too late" not in cuisine_values("slow-sender")
    assert_logged(caplog, "slow-sender", "action_slow")


GARBAGE = {
    "not JSON": (200, "application/json", b"<html>this is not JSON</html>"),
    "truncated JSON": (200, "application/json", b'{"events": [{"event": "slot"'),
    "a JSON list": (200, "application/json", b"[1, 2, 3]"),
    "events not a list": (200, "application/json", b'{"events": "nope"}'),
    "an unknown event": (200, "application/json", b'{"events": [{"event": "no_such_event"}]}'),
    "a slot event without a name": (200, "application/json", b'{"events": [{"event": "slot"}]}'),
    "responses not objects": (200, "application/json", b'{"events": [], "responses": [1]}'),
    "a 500 with HTML": (500, "text/html", b"<h1>Internal Server Error</h1>"),
}


@pytest.fixture
def garbage_server() -> Iterator[dict]:
    """A loopback server answering whatever ``state["answer"]`` holds."""
    state: dict = {"answer": GARBAGE["not JSON"], "requests": 0}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's naming
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            state["requests"] += 1
            status, content_type, body = state["answer"]
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    state["url"] = f"http://127.0.0.1:{server.server_address[1]}/webhook"
    yield state
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize("kind", list(GARBAGE))
def test_it_completes_the_turn_when_the_action_server_answers_garbage(
    formbot_served, settings, tmp_path, caplog, garbage_server, kind
):
    garbage_server["answer"] = GARBAGE[kind]
    use_action_server(settings, tmp_path, garbage_server["url"])
    sender = f"garbage-{kind.replace(' ', '-')}"
    response = execute(sender, "action_set_name")
    assert garbage_server["requests"] >= 1, "the action server was asked"
    assert_completed_without_its_events(response, sender, "action_set_name")
    assert_logged(caplog, sender, "action_set_name")
    # Nothing invalid was stored: the tracker reads back in every view.
    for path in ("tracker?include_events=ALL", "story"):
        assert ApiClient().get(f"/conversations/{sender}/{path}").status_code == 200
    assert say(sender).status_code == 200, "the conversation goes on"
