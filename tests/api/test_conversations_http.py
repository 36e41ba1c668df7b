"""Whole conversations through the HTTP API: forms with a real rasa-sdk action server,
the two-stage fallback, restarts, expiring sessions and multi-session stories."""

from __future__ import annotations

import time

import pytest

from serving.holder import assistant_from_model, assistant_set
from tests.engine.processor_support import (
    fallback_model,
    formbot_model,
    free_port,
    start_action_server,
    trained_model,
)
from trackers.models import Event

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("open_auth")]


@pytest.fixture(scope="module")
def action_server_url():
    port = free_port()
    process = start_action_server(port)
    yield f"http://127.0.0.1:{port}/webhook"
    process.kill()
    process.wait()


@pytest.fixture
def serve():
    def load(model):
        assistant_set(assistant_from_model(model))

    return load


def say(client, sender: str, text: str) -> list[str]:
    response = client.post_json("/webhooks/rest/webhook", {"sender": sender, "message": text})
    assert response.status_code == 200, response.content
    return [message.get("text") for message in response.json()]


@pytest.mark.slow
def test_it_fills_formbots_form_through_the_action_server(
    client, serve, settings, tmp_path, action_server_url
):
    endpoints = tmp_path / "endpoints.yml"
    endpoints.write_text(f"action_endpoint:\n  url: {action_server_url}\n")
    settings.CONVAPI_ENDPOINTS = str(endpoints)
    serve(formbot_model())
    assert say(client, "diner", "/request_restaurant") == ["What cuisine?"]
    assert say(client, "diner", '/inform{"cuisine": "italian"}') == ["How many people?"]
    # validate_restaurant_form rejects a negative number of people.
    rejected = say(client, "diner", '/inform{"number": "-2"}')
    assert rejected[-1] == "How many people?"
    # Chitchat interrupts the form; the form asks again afterwards.
    interrupted = say(client, "diner", "/chitchat")
    assert interrupted[-1] == "How many people?"
    say(client, "diner", '/inform{"number": "4"}')
    say(client, "diner", "/affirm")
    say(client, "diner", '/inform{"feedback": "great"}')
    state = client.get("/conversations/diner/tracker").json()
    assert state["slots"]["cuisine"] == "italian"
    assert state["slots"]["num_people"] in ("4", 4, 4.0)
    types = list(
        Event.objects.filter(conversation__sender_id="diner").values_list("type_name", flat=True)
    )
    assert "action_execution_rejected" in types
    story = client.get("/conversations/diner/story").content.decode()
    assert "active_loop: restaurant_form" in story


def test_it_runs_the_two_stage_fallback(client, serve):
    serve(fallback_model())
    asked = say(client, "unsure", "/nlu_fallback")
    assert asked and asked[0].startswith("Did you mean")
    rephrase = say(client, "unsure", "/out_of_scope")
    assert rephrase == ["Could you rephrase?"]
    say(client, "unsure", "/nlu_fallback")
    gave_up = say(client, "unsure", "/out_of_scope")
    assert "I give up." in gave_up


def test_it_restarts_a_conversation(client, serve):
    serve(trained_model("initbot"))
    say(client, "again", "hello")
    say(client, "again", "/restart")
    state = client.get("/conversations/again/tracker").json()
    # After the restart the default verbosity shows only what came after it.
    assert all(event["event"] != "user" or event["text"] != "hello" for event in state["events"])
    names = [
        e.get("name")
        for e in client.get("/conversations/again/tracker?include_events=ALL").json()["events"]
    ]
    assert "action_restart" in names
    assert say(client, "again", "hello") == ["Hey! How are you?"]


def test_it_starts_a_new_session_after_expiry_and_writes_one_story_per_session(client, serve):
    serve(trained_model("initbot"))
    two_hours_ago = time.time() - 7200
    old_session = [
        {"event": "action", "name": "action_session_start", "timestamp": two_hours_ago},
        {"event": "session_started", "timestamp": two_hours_ago},
        {"event": "action", "name": "action_listen", "timestamp": two_hours_ago},
        {
            "event": "user",
            "text": "hello",
            "timestamp": two_hours_ago,
            "parse_data": {"intent": {"name": "greet", "confidence": 1.0}, "entities": []},
        },
        {"event": "action", "name": "utter_greet", "timestamp": two_hours_ago},
        {"event": "action", "name": "action_listen", "timestamp": two_hours_ago},
    ]
    client.put_json("/conversations/returning/tracker/events", old_session)
    assert say(client, "returning", "hello") == ["Hey! How are you?"]
    starts = Event.objects.filter(
        conversation__sender_id="returning", action_name="action_session_start"
    )
    assert starts.count() == 2
    latest = client.get("/conversations/returning/story").content.decode()
    assert "story: returning\n" in latest
    both = client.get("/conversations/returning/story?all_sessions=true").content.decode()
    assert "story: returning, story 1" in both and "story: returning, story 2" in both
    first_only = client.get(
        f"/conversations/returning/story?all_sessions=true&until={two_hours_ago + 1}"
    )
    assert "story: returning\n" in first_only.content.decode()
