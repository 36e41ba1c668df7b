"""The conversation routes as one family: every route checks its id in the path, reads its
input through declared serializers, and documents its body and errors in the schema."""

from __future__ import annotations

import json

import pytest

from tests.api.checks import assert_rasa_error, stored_state
from tests.conftest import user_jwt
from trackers.models import Conversation, Event, Reminder

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("open_auth", "trained_initbot")]

CONVERSATION = "/conversations/{conversation_id}"
# Every conversation route: (method, path suffix, takes a JSON body).
CONVERSATION_ROUTES = [
    ("get", "/tracker", False),
    ("put", "/tracker", True),
    ("post", "/tracker/events", True),
    ("put", "/tracker/events", True),
    ("post", "/messages", True),
    ("post", "/predict", False),
    ("post", "/execute", True),
    ("post", "/trigger_intent", True),
    ("get", "/respond", False),
    ("post", "/respond", True),
    ("get", "/story", False),
    ("delete", "", False),
]
ROUTE_IDS = [f"{method.upper()} {suffix or '/'}" for method, suffix, _ in CONVERSATION_ROUTES]
ERROR_STATUSES = ["400", "401", "403", "404", "409"]
ERROR_KEYS = {"version", "status", "message", "reason", "details", "help", "code"}
PATH_ERROR = {"parameter": "conversation_id", "in": "path"}


@pytest.fixture(scope="module")
def schema(django_db_blocker) -> dict:
    from django.test import Client

    with django_db_blocker.unblock():
        response = Client().get("/api/schema", HTTP_ACCEPT="application/json")
    assert response.status_code == 200
    return response.json()


def resolve(schema: dict, node: dict) -> dict:
    while "$ref" in node:
        name = node["$ref"].rsplit("/", 1)[-1]
        node = schema["components"]["schemas"][name]
    return node


@pytest.mark.parametrize(("method", "suffix", "has_body"), CONVERSATION_ROUTES, ids=ROUTE_IDS)
def test_the_schema_documents_each_conversation_route(schema, method, suffix, has_body):
    operation = schema["paths"][CONVERSATION + suffix][method]
    assert set(ERROR_STATUSES) <= set(operation["responses"]), operation["responses"].keys()
    for status in ERROR_STATUSES:
        content = operation["responses"][status]["content"]["application/json"]
        error = resolve(schema, content["schema"])
        assert set(error["properties"]) == ERROR_KEYS
        assert error["properties"]["help"].get("nullable") is True
    if has_body:
        body = operation["requestBody"]["content"]["application/json"]["schema"]
        assert resolve(schema, body), f"{method} {suffix}: empty body schema"
    else:
        assert "requestBody" not in operation
    path_ids = [p for p in operation["parameters"] if p["in"] == "path"]
    assert [p["name"] for p in path_ids] == ["conversation_id"]
    assert path_ids[0]["schema"]["maxLength"] == 255


def test_the_schema_documents_bodies_and_query_parameters_from_the_serializers(schema):
    paths = schema["paths"]
    execute = paths[CONVERSATION + "/execute"]["post"]
    body = resolve(schema, execute["requestBody"]["content"]["application/json"]["schema"])
    assert body["required"] == ["name"]
    assert body["properties"]["confidence"]["maximum"] == 1
    messages = paths[CONVERSATION + "/messages"]["post"]
    body = resolve(schema, messages["requestBody"]["content"]["application/json"]["schema"])
    assert resolve(schema, body["properties"]["sender"])["enum"] == ["user"]
    tracker = paths[CONVERSATION + "/tracker"]["get"]
    query = {p["name"]: p["schema"] for p in tracker["parameters"] if p["in"] == "query"}
    assert query["include_events"]["enum"] == ["NONE", "APPLIED", "AFTER_RESTART", "ALL"]
    assert query["until"]["type"] == "number"
    assert query["ignore_restarts"]["type"] == "boolean"
    story = paths[CONVERSATION + "/story"]["get"]
    assert "text/plain" in story["responses"]["200"]["content"]


def test_the_schema_documents_auth_errors_on_every_guarded_route(schema):
    public = {"/", "/version", "/health", "/api/schema", "/api/docs", "/webhooks/rest/"}
    public |= {"/webhooks/rest/webhook", "/auth/token", "/auth/refresh"}
    public |= {"/webhooks/callback/", "/webhooks/callback/webhook"}
    for path, operations in schema["paths"].items():
        if path in public:
            continue
        for method, operation in operations.items():
            assert {"401", "403"} <= set(operation["responses"]), f"{method} {path}"
            if method in ("post", "put"):
                assert "400" in operation["responses"], f"{method} {path}"


BAD_IDS = [("x" * 256, "long"), ("a%00b", "nul")]


@pytest.mark.parametrize(("method", "suffix", "has_body"), CONVERSATION_ROUTES, ids=ROUTE_IDS)
@pytest.mark.parametrize("bad_id", [bad for bad, _ in BAD_IDS], ids=[i for _, i in BAD_IDS])
def test_every_conversation_route_refuses_an_id_the_store_cannot_hold(
    client, method, suffix, has_body, bad_id
):
    response = client.generic(
        method.upper(), f"/conversations/{bad_id}{suffix}", "{}", content_type="application/json"
    )
    assert_rasa_error(response, 400, "BadRequest", details=PATH_ERROR)
    assert stored_state() == ((), ())


def test_an_id_of_255_characters_is_fine(client):
    longest = "x" * 255
    response = client.post_json(f"/conversations/{longest}/tracker/events", {"event": "bot"})
    assert response.status_code == 200
    assert Conversation.objects.filter(sender_id=longest).exists()


def test_the_bad_id_is_refused_before_auth_is_asked(client, token_auth):
    response = client.get(f"/conversations/{'x' * 256}/tracker")
    assert_rasa_error(response, 400, "BadRequest", details=PATH_ERROR)


def test_ids_keep_their_slashes(client):
    assert (
        client.post_json("/conversations/a/b/tracker/events", {"event": "bot"}).status_code == 200
    )
    assert Conversation.objects.filter(sender_id="a/b").exists()
    assert client.get("/conversations/a/b/tracker").json()["sender_id"] == "a/b"
    assert client.delete("/conversations/a/b").status_code == 204
    assert not Conversation.objects.filter(sender_id="a/b").exists()


def test_an_id_that_ends_like_a_route_is_still_an_id(client):
    """``tracker/tracker`` is the tracker of the conversation ``tracker``; the bare route
    comes last, so ``DELETE .../tracker`` is the tracker route's 405, not an erase."""
    client.post_json("/conversations/tracker/tracker/events", {"event": "bot"})
    assert Conversation.objects.filter(sender_id="tracker").exists()
    assert client.delete("/conversations/tracker/tracker").status_code == 405
    assert Conversation.objects.filter(sender_id="tracker").exists()


def test_a_user_jwt_is_scoped_to_its_own_id_on_the_viewset(client, token_auth):
    own = client.get("/conversations/ann/tracker", HTTP_AUTHORIZATION=f"Bearer {user_jwt('ann')}")
    assert own.status_code == 200
    other = client.get("/conversations/bob/tracker", HTTP_AUTHORIZATION=f"Bearer {user_jwt('ann')}")
    assert_rasa_error(other, 403, "NotAuthorized")


# The serializers' errors read as the hand-written checks did: one message, one parameter.
BAD_BODIES = [
    ("/messages", {}, "The request body must be a non-empty JSON object.", ""),
    ("/messages", [1], "The request body must be a non-empty JSON object.", ""),
    ("/messages", {"text": "x", "sender": 5}, None, "sender"),
    ("/messages", {"sender": "user", "parse_data": 5}, "'parse_data' must be an object.",
     "parse_data"),
    ("/messages", {"sender": "user", "text": ""}, "'text' must be a non-empty string.", "text"),
    ("/messages", {"sender": "user", "text": 5}, "'text' must be a non-empty string.", "text"),
    ("/execute", [1], "Name of the action not provided in request body.", "name"),
    ("/execute", None, "Name of the action not provided in request body.", "name"),
    ("/execute", {}, "'name' must be a non-empty string.", "name"),
    ("/execute", {"name": 5}, "'name' must be a non-empty string.", "name"),
    ("/execute", {"name": "utter_greet", "policy": 5}, "'policy' must be a non-empty string.",
     "policy"),
    ("/execute", {"name": "utter_greet", "confidence": True},
     "'confidence' must be a number between 0 and 1.", "confidence"),
    ("/execute", {"name": "utter_greet", "confidence": "0.5"},
     "'confidence' must be a number between 0 and 1.", "confidence"),
    ("/execute", {"name": "utter_greet", "confidence": 1.5},
     "'confidence' must be a number between 0 and 1.", "confidence"),
    ("/trigger_intent", "x", "Name of the intent not provided in request body.", "name"),
    ("/trigger_intent", {"name": ""}, "'name' must be a non-empty string.", "name"),
    ("/trigger_intent", {"name": "greet", "entities": [{"value": 1}]},
     "'entities' must be a list of entity objects or an object of names and values.",
     "entities"),
    ("/trigger_intent", {"name": "greet", "entities": 5},
     "'entities' must be a list of entity objects or an object of names and values.",
     "entities"),
]  # fmt: skip


@pytest.mark.parametrize(("suffix", "body", "message", "parameter"), BAD_BODIES)
def test_bad_bodies_are_named_as_before(client, suffix, body, message, parameter):
    raw = "" if body is None else json.dumps(body)
    response = client.post(f"/conversations/c{suffix}", raw, content_type="application/json")
    error = assert_rasa_error(
        response, 400, "BadRequest", details={"parameter": parameter, "in": "body"}
    )
    if message is not None:
        assert error["message"] == message
    assert not Event.objects.exists()


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("get", "/conversations/r/respond", None),
        ("get", "/conversations/r/respond?other=x", None),
        ("post", "/conversations/r/respond", {"query": 5}),
        ("post", "/conversations/r/respond", {"q": ["x"]}),
        ("post", "/conversations/r/respond", [1]),
    ],
)
def test_respond_says_the_message_is_missing(client, method, path, body):
    raw = "" if body is None else json.dumps(body)
    response = client.generic(method.upper(), path, raw, content_type="application/json")
    error = assert_rasa_error(
        response, 400, "BadRequest", details={"parameter": "query", "in": "query"}
    )
    assert error["message"] == "Missing the message parameter."


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("get", "/conversations/r/respond?q=hello", None),
        ("get", "/conversations/r/respond?query=hello&q=ignored", None),
        ("post", "/conversations/r/respond", {"q": "hello"}),
        ("post", "/conversations/r/respond?query=hello", {"query": None}),
        ("post", "/conversations/r/respond?q=hello", [1]),
    ],
)
def test_respond_reads_the_body_then_the_query(client, method, path, body):
    raw = "" if body is None else json.dumps(body)
    response = client.generic(method.upper(), path, raw, content_type="application/json")
    assert response.status_code == 200, response.content
    assert response.json()[0]["text"] == "Hey! How are you?"


def test_include_events_is_checked_and_the_legacy_flags_still_work(client):
    client.post_json("/conversations/v/tracker/events", {"event": "bot", "text": "hi"})
    bad = client.get("/conversations/v/tracker?include_events=some")
    error = assert_rasa_error(
        bad, 400, "BadRequest", details={"parameter": "include_events", "in": "query"}
    )
    assert error["message"] == (
        "Invalid parameter value for 'include_events'. "
        "Should be one of NONE, APPLIED, AFTER_RESTART, ALL."
    )
    assert client.get("/conversations/v/tracker?include_events=none").json()["events"] is None
    assert client.get("/conversations/v/tracker?events=False").json()["events"] is None
    assert client.get("/conversations/v/tracker?events=").json()["events"]
    assert client.get("/conversations/v/tracker?ignore_restarts=TRUE").json()["events"]


def test_bool_query_parameters_are_true_only_for_true(client):
    """``execute_side_effects=1`` is not ``true``: the reminder is stored, not scheduled."""
    reminder = {"event": "reminder", "intent": "greet", "date_time": "2099-01-01T00:00:00"}
    response = client.post_json("/conversations/s/tracker/events?execute_side_effects=1", reminder)
    assert response.status_code == 200
    assert not Reminder.objects.exists()
