"""Bad input on every JSON route: a 4xx in Rasa's error format, never a 5xx, nothing stored.

Also the regression tests of what the fuzzer (tests/fuzz) found.
"""

from __future__ import annotations

import json

import pytest

from trackers.models import Conversation, Event

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("open_auth", "trained_initbot")]

ERROR_KEYS = {"version", "status", "message", "reason", "details", "help", "code"}
EVENTS = "/conversations/bad/tracker/events"

# Every route whose body is JSON, with a body it accepts (so a refusal is the input's fault).
JSON_ROUTES = [
    ("post", EVENTS, {"event": "action", "name": "utter_greet"}),
    ("put", EVENTS, [{"event": "action", "name": "utter_greet"}]),
    ("put", "/conversations/bad/tracker", [{"event": "action", "name": "utter_greet"}]),
    ("post", "/conversations/bad/messages", {"text": "hello", "sender": "user"}),
    ("post", "/conversations/bad/execute", {"name": "utter_greet"}),
    ("post", "/conversations/bad/trigger_intent", {"name": "greet"}),
    ("post", "/conversations/bad/respond", {"query": "hello"}),
    ("post", "/model/parse", {"text": "hello"}),
    ("post", "/parse", {"q": "hello"}),
    ("post", "/model/predict", [{"event": "action", "name": "action_listen"}]),
    ("post", "/webhooks/rest/webhook", {"sender": "bad", "message": "hello"}),
    ("put", "/model", {"model_file": "/no/such/model.tar.gz"}),
    ("post", "/auth/token", {"username": "nobody", "password": "x"}),
    ("post", "/auth/refresh", {"refresh": "x"}),
]
ROUTE_IDS = [f"{method.upper()} {path}" for method, path, _ in JSON_ROUTES]


def assert_error(response, *, status: int | None = None) -> dict:
    """A client error in the one error shape."""
    assert 400 <= response.status_code < 500, response.content[:300]
    if status is not None:
        assert response.status_code == status, response.content[:300]
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert set(body) == ERROR_KEYS
    assert body["status"] == "failure"
    assert body["code"] == response.status_code
    return body


@pytest.fixture(autouse=True)
def _jwt_issuing(request, settings, open_auth) -> None:
    """/auth/* answer 409 until they can sign; the API stays open (no token, no JWT check)."""
    path = getattr(request.node, "callspec", None) and request.node.callspec.params.get("path")
    if path and path.startswith("/auth/"):
        settings.CONVAPI_JWT_SECRET = "core"
        settings.CONVAPI_AUTH_TOKEN = ""


def send(client, method: str, path: str, raw: bytes, content_type: str = "application/json"):
    return getattr(client, method)(path, raw, content_type=content_type)


def assert_nothing_stored() -> None:
    """Every test here starts on an empty database: a refused request leaves it empty."""
    assert not Event.objects.exists()
    assert not Conversation.objects.exists()


@pytest.mark.parametrize(("method", "path", "good"), JSON_ROUTES, ids=ROUTE_IDS)
def test_it_refuses_a_body_over_the_size_limit(client, settings, method, path, good):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 2000
    padded = json.dumps({"padding": "x" * 5000, **good} if isinstance(good, dict) else good * 200)
    assert len(padded) > 2000
    assert_error(send(client, method, path, padded.encode()), status=413)
    assert_nothing_stored()


@pytest.mark.parametrize(("method", "path", "good"), JSON_ROUTES, ids=ROUTE_IDS)
@pytest.mark.parametrize(
    "raw",
    [
        b"[" * 100_000 + b"]" * 100_000,
        b'{"a": ' * 50_000 + b"1" + b"}" * 50_000,
        b"\xff\xfe\xfa",
        b'{"text": "caf\xe9"}',
        b"{not json",
        b'{"confidence": NaN}',
        b'{"confidence": -Infinity}',
    ],
    ids=["nested-lists", "nested-objects", "invalid-utf8", "latin1", "malformed", "nan", "inf"],
)
def test_it_refuses_unreadable_json(client, method, path, good, raw):
    assert_error(send(client, method, path, raw), status=400)
    assert_nothing_stored()


MULTIPART = b"--b\r\nContent-Disposition: form-data; name=a\r\n\r\n1\r\n--b--\r\n"


@pytest.mark.parametrize(("method", "path", "good"), JSON_ROUTES, ids=ROUTE_IDS)
@pytest.mark.parametrize(
    ("raw", "content_type"),
    [
        (b"text=hello&sender=user", "application/x-www-form-urlencoded"),
        (MULTIPART, "multipart/form-data; boundary=b"),
        (b"text: hello", "application/x-yaml"),
        (b"<event>user</event>", "application/xml"),
    ],
    ids=["form", "multipart", "yaml", "xml"],
)  # fmt: skip
def test_it_refuses_bodies_that_are_not_json(client, method, path, good, raw, content_type):
    assert_error(send(client, method, path, raw, content_type))
    assert_nothing_stored()


# What each route answers to its good body (the same whatever the Content-Type says).
GOOD_ANSWERS = {
    "POST /conversations/bad/execute": (404, "Not found"),  # no such conversation yet
    "PUT /model": (400, "BadRequest"),  # the model file named does not exist
    "POST /auth/token": (401, "NotAuthenticated"),  # no such user
    "POST /auth/refresh": (401, "NotAuthenticated"),  # not a token
}


@pytest.mark.parametrize(("method", "path", "good"), JSON_ROUTES, ids=ROUTE_IDS)
@pytest.mark.parametrize("content_type", ["text/plain", "application/json"])
def test_it_reads_json_whatever_the_content_type_says(client, method, path, good, content_type):
    """Rasa reads the body as JSON whatever the header: a JSON body sent as text/plain
    gets exactly the answer it gets as application/json."""
    response = send(client, method, path, json.dumps(good).encode(), content_type)
    route = f"{method.upper()} {path}"
    if route in GOOD_ANSWERS:
        status, reason = GOOD_ANSWERS[route]
        assert assert_error(response, status=status)["reason"] == reason
        assert_nothing_stored()
        return
    assert response.status_code == 200, response.content[:300]
    if path.startswith("/conversations/bad/"):
        # The body was read: the conversation now holds what it asked for.
        assert Event.objects.filter(conversation__sender_id="bad").exists()


def user_event(parse_data: dict) -> dict:
    return {"event": "user", "text": "hi", "parse_data": parse_data}


NEGATIVE_INTENT = {"intent": {"name": "greet", "confidence": -1}}
NEGATIVE_ENTITY = {"entities": [{"entity": "a", "value": 1, "confidence": -2}]}
NEGATIVE_CONFIDENCES = [
    (EVENTS, {"event": "action", "name": "utter_greet", "confidence": -0.5}),
    (EVENTS, user_event(NEGATIVE_INTENT)),
    (EVENTS, user_event(NEGATIVE_ENTITY)),
    (EVENTS, {"event": "action_execution_rejected", "name": "f", "confidence": -1e300}),
    ("/conversations/bad/execute", {"name": "utter_greet", "confidence": -0.1}),
    ("/conversations/bad/execute", {"name": "utter_greet", "confidence": 1e308}),
    (
        "/conversations/bad/messages",
        {"text": "hi", "sender": "user", "parse_data": NEGATIVE_INTENT},
    ),
    ("/model/predict", [{"event": "action", "name": "action_listen", "confidence": -3}]),
]


@pytest.mark.parametrize(("path", "body"), NEGATIVE_CONFIDENCES)
def test_it_refuses_negative_or_huge_confidences(client, path, body):
    assert_error(client.post_json(path, body), status=400)
    assert_nothing_stored()


@pytest.mark.parametrize("until", ["1e308", "-1e308", "1e400", "nan", "99999999999999999999", "x"])
@pytest.mark.parametrize("route", ["tracker", "story"])
def test_it_answers_huge_or_odd_until_values(client, until, route):
    client.post_json("/webhooks/rest/webhook", {"sender": "until", "message": "hello"})
    full = client.get(f"/conversations/until/{route}")
    response = client.get(f"/conversations/until/{route}?until={until}")
    assert response.status_code == 200, response.content[:300]
    if until == "-1e308":  # before every event: an empty history
        if route == "tracker":
            assert response.json()["events"] == []
        else:
            assert "- intent: greet" not in response.content.decode()
    else:  # after every event, or unreadable ("not given"): the whole history
        assert response.content == full.content


# What the fuzzer found (tests/fuzz), one regression test each.


@pytest.mark.parametrize("event_type", [{}, [], [[1]], {"a": 1}, 5, None, True])
@pytest.mark.parametrize("method", ["post", "put"])
def test_it_refuses_an_event_type_that_is_not_a_string(client, method, event_type):
    """Fuzz finding: an object as ``event`` crashed the validator's type lookup (500)."""
    body = [{"event": "action", "name": "utter_greet"}, {"event": event_type}]
    assert_error(getattr(client, f"{method}_json")(EVENTS, body), status=400)
    assert_nothing_stored()


@pytest.mark.parametrize("timestamp", [1e300, 253402300800, -1, -1e10])
def test_it_refuses_a_timestamp_no_date_can_show(client, timestamp):
    """Property-test finding: a timestamp of 1e300 was stored, then the admin transcript
    failed to show it as a date (500)."""
    body = {"event": "bot", "text": "hi", "timestamp": timestamp}
    assert_error(client.post_json(EVENTS, body), status=400)
    assert_nothing_stored()


NUL_BODIES = [
    (EVENTS, {"event": "bot", "text": "a\x00b"}),
    (EVENTS, [{"event": "slot", "name": "x", "value": {"k\x00": 1}}]),
    ("/conversations/bad/messages", {"text": "\x00", "sender": "user"}),
    ("/webhooks/rest/webhook", {"sender": "bad", "message": "hi\x00"}),
]


@pytest.mark.parametrize(("path", "body"), NUL_BODIES)
def test_it_refuses_nul_characters_postgresql_cannot_store(client, path, body):
    """Fuzz finding on PostgreSQL: text or jsonb holding \\u0000 failed the INSERT (500)."""
    assert_error(client.post_json(path, body), status=400)
    assert_nothing_stored()


def test_it_refuses_a_conversation_id_holding_nul(client):
    response = client.post_json("/conversations/a%00b/tracker/events", {"event": "bot"})
    assert_error(response, status=400)
    assert not Event.objects.exists()


def test_it_accepts_an_escaped_backslash_before_u0000(client):
    body = {"event": "bot", "text": "a literal \\u0000 is fine"}
    assert client.post_json(EVENTS, body).status_code == 200
    stored = Event.objects.filter(conversation__sender_id="bad", type_name="bot").get()
    assert stored.text == "a literal \\u0000 is fine"


@pytest.mark.parametrize(
    "parse_data",
    [
        {"intent": {"name": -7.1e16, "confidence": 0.5}},
        {"intent": "greet"},
        {"intent": {"name": "greet", "confidence": "high"}},
        {"entities": {"name": "Ann"}},
        {"entities": [{"entity": "name"}]},
        {"entities": [{"entity": "name", "value": "x", "start": "0"}]},
        {"intent_ranking": 5},
    ],
)
def test_it_refuses_a_message_whose_parse_data_is_not_a_valid_user_event(client, parse_data):
    """Fuzz finding: /messages stored parse_data the engine could not read back (500)."""
    body = {"text": "hi", "sender": "user", "parse_data": parse_data}
    body = assert_error(client.post_json("/conversations/bad/messages", body), status=400)
    assert body["details"] == {"parameter": "parse_data", "in": "body"}
    assert_nothing_stored()
    assert not Conversation.objects.filter(sender_id="bad", events__isnull=False).exists()


def test_it_still_accepts_a_message_with_valid_parse_data(client):
    parse_data = {
        "intent": {"name": "greet", "confidence": 0.9},
        "entities": [{"entity": "name", "value": "Ann", "start": 0, "end": 3}],
    }
    body = {"text": "hi", "sender": "user", "parse_data": parse_data}
    response = client.post_json("/conversations/good/messages", body)
    assert response.status_code == 200
    assert response.json()["latest_message"]["intent"]["name"] == "greet"


@pytest.mark.parametrize("query", ["-\x00", "\x00"])
def test_it_refuses_a_respond_query_no_database_can_store(client, query):
    from urllib.parse import quote

    from tests.api.checks import assert_rasa_error
    from trackers.models import Conversation

    url = f"/conversations/nul/respond?query={quote(query)}"
    response = client.get(url)
    assert_rasa_error(response, 400, "BadRequest")
    assert response.json()["message"] == "The message may not contain NUL or unpaired surrogates."
    assert not Conversation.objects.filter(sender_id="nul").exists()
