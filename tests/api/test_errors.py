"""Bad input gets a 400 in Rasa's error body, never a 500 or HTML, and stores nothing."""

from __future__ import annotations

import pytest

from tests.api.checks import assert_rasa_error, stored_state
from trackers.models import Event

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("open_auth", "initbot")]

ERROR_KEYS = {"version", "status", "message", "reason", "details", "help", "code"}
URL = "/conversations/bad/tracker/events"


def assert_error(response, status: int, reason: str | None = None) -> dict:
    assert response.status_code == status
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert set(body) == ERROR_KEYS
    assert body["status"] == "failure"
    assert body["code"] == status
    if reason:
        assert body["reason"] == reason
    return body


BAD_EVENT_BODIES = {
    "malformed": b"{not json",
    "empty": b"",
    "empty-list": b"[]",
    "not-objects": b"[1, 2]",
    "unknown-type": b'{"event": "no_such_event"}',
    "slot-without-name": b'{"event": "slot", "value": 1}',
    "entities-not-a-list": b'{"event": "user", "text": "x", "parse_data": {"entities": {"a": 1}}}',
    "text-not-a-string": b'{"event": "user", "text": 5}',
    "nan": b'{"event": "action", "name": "x", "confidence": NaN}',
    "invalid-utf8": b"\xff\xfe\xfa",
    "deeply-nested": b"[" * 100_000 + b"]" * 100_000,
}


@pytest.mark.parametrize(
    ("method", "raw"),
    [
        pytest.param(method, raw, id=f"{method}-{name}")
        for method in ("post", "put")
        for name, raw in BAD_EVENT_BODIES.items()
        # PUT [] replaces the tracker with no events, as Rasa does (test_tracker_api.py).
        if (method, name) != ("put", "empty-list")
    ],
)
def test_it_refuses_bad_event_bodies_and_stores_nothing(client, raw, method):
    response = getattr(client, method)(URL, raw, content_type="application/json")
    assert_error(response, 400, "BadRequest")
    assert not Event.objects.exists()


def test_it_refuses_an_oversized_body(client, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    body = b'{"event": "user", "text": "' + b"x" * 2000 + b'"}'
    assert_error(client.post(URL, body, content_type="application/json"), 413, "PayloadTooLarge")
    assert not Event.objects.exists()


@pytest.mark.parametrize("method", ["post", "put"])
def test_it_keeps_earlier_events_when_a_later_post_is_bad(client, method):
    first = client.post(
        URL, b'{"event": "action", "name": "utter_greet"}', content_type="application/json"
    )
    assert first.status_code == 200, first.content
    tracker = client.get("/conversations/bad/tracker").json()
    before = stored_state()
    assert [type_name for *_, type_name in before[1]][-1] == "action"  # utter_greet
    response = getattr(client, method)(
        URL,
        b'[{"event": "action", "name": "a"}, {"event": "bogus"}]',
        content_type="application/json",
    )
    body = assert_rasa_error(response, 400, "BadRequest")
    assert "bogus" in body["message"], body
    # Neither the valid first event of the list is appended nor (PUT) the log replaced.
    assert stored_state() == before
    assert client.get("/conversations/bad/tracker").json() == tracker


def test_it_answers_unknown_routes_with_a_json_404(client):
    body = assert_error(client.get("/no/such/route"), 404)
    assert "/no/such/route" in body["message"]


def test_it_does_not_redirect_a_trailing_slash(client):
    assert_error(client.get("/version/"), 404)


def test_it_answers_a_wrong_method_with_a_json_405(client):
    assert_error(client.delete("/version"), 405)
    assert_error(client.post("/conversations/x/tracker"), 405)


def test_it_answers_json_whatever_the_accept_header(client):
    response = client.get("/version", HTTP_ACCEPT="text/html")
    assert response.status_code == 200
    assert response.json()["version"]


def test_it_sends_cors_headers_for_configured_origins(client, settings):
    settings.CORS_ALLOWED_ORIGINS = ["https://chat.example.com"]
    response = client.options(
        "/version",
        HTTP_ORIGIN="https://chat.example.com",
        HTTP_ACCESS_CONTROL_REQUEST_METHOD="GET",
    )
    assert response.status_code == 200
    assert response["Access-Control-Allow-Origin"] == "https://chat.example.com"
    assert response["Access-Control-Allow-Credentials"] == "true"
    simple = client.get("/version", HTTP_ORIGIN="https://chat.example.com")
    assert "filename" in simple["Access-Control-Expose-Headers"]
