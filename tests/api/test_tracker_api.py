"""The tracker routes through the HTTP client: status, body and stored events."""

from __future__ import annotations

import pytest

from tests.api.checks import assert_rasa_error, stored_state
from trackers.models import Conversation, Event

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("open_auth", "initbot")]

USER_HI = {
    "event": "user",
    "text": "hi",
    "parse_data": {"intent": {"name": "greet", "confidence": 1.0}, "entities": []},
}
SESSION_START = [
    {"event": "action", "name": "action_session_start"},
    {"event": "session_started"},
    {"event": "action", "name": "action_listen"},
]


def stored_types(sender_id: str) -> list[str]:
    return list(
        Event.objects.filter(conversation__sender_id=sender_id)
        .order_by("seq")
        .values_list("type_name", flat=True)
    )


def test_it_greets_with_the_rasa_prefix(client):
    response = client.get("/")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    assert response.content.decode().startswith("Hello from Rasa: ")


def test_it_reports_its_version(client):
    body = client.get("/version").json()
    assert set(body) == {"version", "minimum_compatible_version"}


def test_it_answers_409_on_status_without_a_model(client, no_model):
    response = client.get("/status")
    assert response.status_code == 409
    assert response.json()["reason"] == "Conflict"


def test_it_reports_status_with_an_assistant(client):
    body = client.get("/status").json()
    assert set(body) == {"model_file", "model_id", "num_active_training_jobs"}


def test_it_shows_a_new_conversation_with_a_session_start_but_stores_no_events(client):
    response = client.get("/conversations/new-user/tracker")
    assert response.status_code == 200
    state = response.json()
    names = [e.get("name") for e in state["events"]]
    assert names == ["action_session_start", None, "action_listen"]
    assert state["sender_id"] == "new-user"
    assert state["slots"] == {"session_started_metadata": None}
    assert state["latest_message"]["intent"] == {}
    assert Conversation.objects.get(sender_id="new-user").event_count == 0
    assert stored_types("new-user") == []


def test_it_starts_a_session_before_the_first_posted_event(client):
    response = client.post_json("/conversations/u1/tracker/events", USER_HI)
    assert response.status_code == 200
    assert stored_types("u1") == ["action", "session_started", "action", "user"]
    state = response.json()
    assert state["latest_message"]["text"] == "hi"
    assert state["latest_message"]["intent"]["name"] == "greet"
    assert state["latest_input_channel"] is None


def test_it_adds_no_session_start_when_the_body_brings_one(client):
    body = SESSION_START + [USER_HI]
    assert client.post_json("/conversations/u2/tracker/events", body).status_code == 200
    assert stored_types("u2") == ["action", "session_started", "action", "user"]


def test_it_appends_to_an_existing_conversation_without_a_new_session(client):
    client.post_json("/conversations/u3/tracker/events", USER_HI)
    client.post_json(
        "/conversations/u3/tracker/events", [{"event": "action", "name": "utter_greet"}]
    )
    assert stored_types("u3")[-2:] == ["user", "action"]
    assert Conversation.objects.get(sender_id="u3").event_count == 5


def test_it_keeps_posted_timestamps(client):
    event = {
        "event": "slot",
        "name": "session_started_metadata",
        "value": {"a": 1},
        "timestamp": 12.5,
    }
    client.post_json("/conversations/u4/tracker/events", event)
    stored = Event.objects.get(conversation__sender_id="u4", type_name="slot")
    assert stored.timestamp == 12.5
    assert stored.data["value"] == {"a": 1}


def test_it_replaces_a_tracker_with_exactly_the_posted_events(client):
    client.post_json("/conversations/u5/tracker/events", USER_HI)
    response = client.put_json("/conversations/u5/tracker/events", [USER_HI])
    assert response.status_code == 200
    assert [e["event"] for e in response.json()["events"]] == ["user"]
    assert stored_types("u5") == ["user"]


def test_an_empty_list_replaces_the_tracker_with_no_events(client):
    client.post_json("/conversations/u7/tracker/events", USER_HI)
    assert stored_types("u7") == ["action", "session_started", "action", "user"]
    response = client.put_json("/conversations/u7/tracker/events", [])
    assert response.status_code == 200
    body = response.json()
    assert (body["sender_id"], body["events"], body["latest_message"]["text"]) == ("u7", [], None)
    assert stored_types("u7") == []
    # Appending an empty list is still refused, as before.
    response = client.post_json("/conversations/u7/tracker/events", [])
    assert response.status_code == 400
    assert "must contain at least one event" in response.json()["message"]
    assert stored_types("u7") == []


def test_it_accepts_one_object_on_put(client):
    response = client.put_json("/conversations/u6/tracker/events", USER_HI)
    assert response.status_code == 200
    assert stored_types("u6") == ["user"]


def test_it_replaces_through_the_legacy_put_tracker_route(client):
    response = client.put_json("/conversations/legacy/tracker", [USER_HI])
    assert response.status_code == 200
    assert stored_types("legacy") == ["user"]


RESTART_LOG = (
    SESSION_START
    + [
        USER_HI,
        {"event": "action", "name": "utter_greet"},
        {"event": "bot", "text": "Hey! How are you?"},
        {"event": "action", "name": "action_listen"},
        {
            "event": "user",
            "text": "/restart",
            "parse_data": {"intent": {"name": "restart", "confidence": 1.0}, "entities": []},
        },
        {"event": "action", "name": "action_restart"},
        {"event": "restart"},
    ]
    + SESSION_START
    + [
        {
            "event": "user",
            "text": "hi again",
            "parse_data": {"intent": {"name": "greet", "confidence": 1.0}, "entities": []},
        },
    ]
)


@pytest.mark.parametrize(
    ("verbosity", "count"), [("ALL", 14), ("AFTER_RESTART", 4), ("APPLIED", 2), ("none", None)]
)
def test_it_shows_events_by_verbosity(client, verbosity, count):
    client.put_json("/conversations/v/tracker/events", RESTART_LOG)
    state = client.get(f"/conversations/v/tracker?include_events={verbosity}").json()
    if count is None:
        assert state["events"] is None
    else:
        assert len(state["events"]) == count
    assert state["latest_message"]["text"] == "hi again"


def test_it_reads_the_legacy_verbosity_params(client):
    client.put_json("/conversations/v2/tracker/events", RESTART_LOG)
    assert len(client.get("/conversations/v2/tracker?ignore_restarts=true").json()["events"]) == 14
    assert client.get("/conversations/v2/tracker?events=false").json()["events"] is None


def test_it_rejects_an_unknown_verbosity(client):
    response = client.get("/conversations/v3/tracker?include_events=SOME")
    assert_rasa_error(
        response, 400, "BadRequest", details={"parameter": "include_events", "in": "query"}
    )


def test_it_travels_back_in_time_with_until(client):
    events = [
        {"event": "action", "name": "action_session_start", "timestamp": 1},
        {"event": "session_started", "timestamp": 2},
        {"event": "action", "name": "action_listen", "timestamp": 3},
        {**USER_HI, "timestamp": 4},
        {"event": "action", "name": "utter_greet", "timestamp": 5},
    ]
    client.put_json("/conversations/t/tracker/events", events)
    state = client.get("/conversations/t/tracker?until=4").json()
    assert [e["timestamp"] for e in state["events"]] == [1, 2, 3, 4]
    assert state["latest_event_time"] == 4
    # An unreadable until is "not given".
    assert len(client.get("/conversations/t/tracker?until=soon").json()["events"]) == 5


@pytest.mark.parametrize("sender_id", ["a/b+-_\\=c", "with space", "ünïcödé", "x/tracker"])
def test_it_accepts_any_characters_in_conversation_ids(client, sender_id):
    response = client.post_json(f"/conversations/{sender_id}/tracker/events", USER_HI)
    assert response.status_code == 200
    assert response.json()["sender_id"] == sender_id
    assert Conversation.objects.filter(sender_id=sender_id).exists()
    assert client.get(f"/conversations/{sender_id}/tracker").json()["sender_id"] == sender_id


def test_it_round_trips_a_percent_encoded_id(client):
    client.post_json("/conversations/a%2Fb/tracker/events", USER_HI)
    assert client.get("/conversations/a%2Fb/tracker").json()["sender_id"] == "a/b"


def test_it_refuses_an_id_longer_than_255_characters(client):
    response = client.post_json(f"/conversations/{'x' * 256}/tracker/events", USER_HI)
    assert_rasa_error(response, 400, "BadRequest")
    assert stored_state() == ((), ())


def test_it_lists_conversation_ids(client):
    client.post_json("/conversations/first/tracker/events", USER_HI)
    client.post_json("/conversations/second/tracker/events", USER_HI)
    assert client.get("/conversations").json() == ["first", "second"]


def test_it_keeps_domain_slots_and_ignores_unknown_ones(client, formbot):
    events = [
        {"event": "slot", "name": "cuisine", "value": "greek"},
        {"event": "slot", "name": "no_such_slot", "value": 1},
    ]
    state = client.post_json("/conversations/f/tracker/events", events).json()
    assert state["slots"]["cuisine"] == "greek"
    assert "no_such_slot" not in state["slots"]
    assert "requested_slot" in state["slots"]
