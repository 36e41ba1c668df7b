"""Conversations run through the HTTP API with a trained initbot."""

from __future__ import annotations

import json

import pytest

from tests.api.checks import assert_rasa_error, stored_state
from trackers.models import Conversation, Event

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("open_auth", "trained_initbot")]


def say(client, sender: str, text: str) -> list[dict]:
    response = client.post_json("/webhooks/rest/webhook", {"sender": sender, "message": text})
    assert response.status_code == 200, response.content
    return response.json()


def test_it_has_a_full_initbot_conversation(client):
    greet = say(client, "ann", "hello")
    assert greet == [{"recipient_id": "ann", "text": "Hey! How are you?"}]
    sad = say(client, "ann", "I am very sad")
    assert sad[0]["text"] == "Here is something to cheer you up:"
    assert sad[1]["image"].startswith("https://")
    assert sad[2]["text"] == "Did that help you?"
    assert say(client, "ann", "yes")[0]["text"] == "Great, carry on!"
    assert say(client, "ann", "bye")[0]["text"] == "Bye"
    events = list(Event.objects.filter(conversation__sender_id="ann").order_by("seq"))
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    user_events = [e for e in events if e.type_name == "user"]
    assert [e.intent_name for e in user_events] == ["greet", "mood_unhappy", "affirm", "goodbye"]
    assert user_events[0].data["input_channel"] == "rest"
    assert all(e.data["metadata"].get("model_id") for e in events if e.type_name == "action")


def test_it_answers_the_rest_channel_health_check(client):
    assert client.get("/webhooks/rest/").json() == {"status": "ok"}


def test_it_streams_messages_as_lines(client):
    response = client.post_json(
        "/webhooks/rest/webhook?stream=true", {"sender": "s", "message": "hi"}
    )
    assert response["Content-Type"].startswith("text/event-stream")
    lines = b"".join(response.streaming_content).decode().strip().splitlines()
    assert json.loads(lines[0])["text"] == "Hey! How are you?"


def test_it_answers_an_empty_list_without_a_model(client, no_model):
    assert say(client, "nobody", "hi") == []


@pytest.mark.parametrize(
    "body", [[1], {"sender": "x"}, {"message": 5}, {"message": "x", "metadata": 3}]
)
def test_it_refuses_malformed_webhook_bodies(client, body):
    assert_rasa_error(client.post_json("/webhooks/rest/webhook", body), 400, "BadRequest")
    assert stored_state() == ((), ())


def test_it_logs_a_message_without_predicting(client):
    response = client.post_json("/conversations/m/messages", {"text": "hello", "sender": "user"})
    assert response.status_code == 200
    types = [e["event"] for e in response.json()["events"]]
    assert types == ["action", "session_started", "action", "user"]
    assert response.json()["latest_message"]["intent"]["name"] == "greet"


@pytest.mark.parametrize(
    ("body", "parameter"),
    [({"text": "x", "sender": "bot"}, "sender"), ({"sender": "user"}, "text")],
)
def test_it_refuses_bad_messages(client, body, parameter):
    response = client.post_json("/conversations/m2/messages", body)
    error = assert_rasa_error(response, 400, "BadRequest")
    assert error["details"]["parameter"] == parameter
    assert not Event.objects.exists()


def test_it_predicts_without_running_the_action(client):
    client.post_json("/conversations/p/messages", {"text": "hello", "sender": "user"})
    before = Event.objects.count()
    body = client.post("/conversations/p/predict").json()
    assert body["scores"][0]["action"] == "utter_greet"
    scores = [s["score"] for s in body["scores"]]
    assert scores == sorted(scores, reverse=True)
    assert body["policy"]
    assert Event.objects.count() == before


def test_it_answers_404_for_unknown_conversations(client):
    for path in ("/conversations/ghost/predict", "/conversations/ghost/execute"):
        response = client.post_json(path, {"name": "utter_greet"})
        body = assert_rasa_error(response, 404, "Not found")
        assert body["message"] == "Conversation ID not found."
    body = assert_rasa_error(client.get("/conversations/ghost/story"), 404, "Not found")
    assert body["message"] == "Conversation ID not found."
    assert stored_state() == ((), ())


def test_it_executes_an_action(client):
    say(client, "e", "hello")
    response = client.post_json(
        "/conversations/e/execute", {"name": "utter_happy", "policy": "manual", "confidence": 1}
    )
    assert response.status_code == 200
    assert response.json()["messages"] == [{"recipient_id": "e", "text": "Great, carry on!"}]
    last = Event.objects.filter(conversation__sender_id="e", type_name="action").last()
    assert last.action_name == "utter_happy"
    assert last.data["policy"] == "manual"


def test_it_refuses_unknown_actions_and_stores_nothing(client):
    say(client, "e2", "hello")
    before = Event.objects.count()
    state = stored_state()
    response = client.post_json("/conversations/e2/execute", {"name": "no_such_action"})
    assert_rasa_error(response, 404, "NotFound")
    assert Event.objects.count() == before
    assert_rasa_error(client.post_json("/conversations/e2/execute", {}), 400, "BadRequest")
    assert stored_state() == state


def test_it_triggers_an_intent(client):
    body = client.post_json(
        "/conversations/t/trigger_intent", {"name": "greet", "entities": {"name": "Ann"}}
    ).json()
    assert body["messages"][0]["text"] == "Hey! How are you?"
    user = Event.objects.get(conversation__sender_id="t", type_name="user")
    assert user.text == "EXTERNAL: greet"
    assert user.data["metadata"]["is_external"] is True
    assert user.data["parse_data"]["entities"] == [{"entity": "name", "value": "Ann"}]


def test_it_refuses_unknown_intents(client):
    response = client.post_json("/conversations/t2/trigger_intent", {"name": "nope"})
    assert_rasa_error(response, 404, "NotFound")
    assert not Event.objects.filter(conversation__sender_id="t2").exists()


def test_it_writes_the_conversation_as_a_test_story(client):
    say(client, "story-user", "hello")
    response = client.get("/conversations/story-user/story")
    assert response["Content-Type"].startswith("text/plain")
    text = response.content.decode()
    assert text.startswith('version: "3.1"')
    assert "- intent: greet" in text
    assert "- action: utter_greet" in text


def test_it_serves_the_legacy_respond_route(client):
    assert (
        client.get("/conversations/legacy/respond?q=hello").json()[0]["text"] == "Hey! How are you?"
    )
    assert (
        client.post_json("/conversations/legacy/respond", {"query": "bye"}).json()[0]["text"]
        == "Bye"
    )
    before = stored_state()
    missing = client.post_json("/conversations/legacy/respond", {})
    assert_rasa_error(missing, 400, details={"parameter": "query", "in": "query"})
    assert stored_state() == before


def test_it_replays_a_live_conversation_into_the_same_state(client):
    for text in ("hello", "I am sad", "yes"):
        say(client, "live", text)
    events = client.get("/conversations/live/tracker?include_events=ALL").json()["events"]
    client.put_json("/conversations/replayed/tracker/events", events)
    live = client.get("/conversations/live/tracker").json()
    replayed = client.get("/conversations/replayed/tracker").json()
    for state in (live, replayed):
        state.pop("sender_id")
    assert live == replayed
    assert Conversation.objects.get(sender_id="replayed").event_count == len(events)
