"""A process keeps the snapshots it wrote last for its conversations' next turns
(``trackers.store``): taken only while the stored row is still that version."""

from __future__ import annotations

import pytest
from django.db import connection

from engine.tracker import EventVerbosity, Tracker
from trackers import store
from trackers.models import Conversation

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("open_auth", "trained_initbot")]

EVERYTHING = EventVerbosity.ALL


def turn(client, sender: str, text: str) -> list:
    reply = client.post_json("/webhooks/rest/webhook", {"sender": sender, "message": text})
    assert reply.status_code == 200 and reply.json()
    return reply.json()


def slot_defaults() -> dict:
    from serving.holder import current_assistant

    return current_assistant().tracker_context().slot_defaults


def test_a_turn_takes_what_this_process_wrote_last_and_the_same_tracker_follows(client):
    """The snapshot and events are the objects written, not read back, and the tracker
    made of them is the tracker the whole log gives."""
    for text in ("hello", "I am sad", "yes", "are you a bot?"):
        turn(client, "kept", text)
    written = store._written[store._written_key("kept")]
    conversation, recent = store.conversation_for_turn(sender_id="kept")
    assert conversation.state is written.state and recent is written.recent
    assert store._written_key("kept") not in store._written  # the turn holding the lock took it
    stored = Conversation.objects.get(sender_id="kept")
    assert conversation.state == stored.state
    assert (conversation.event_count, conversation.updated) == (stored.event_count, stored.updated)
    assert recent == store.events_load(stored, since_seq=stored.event_count - 19)
    kept = store.tracker_restore(conversation, slot_defaults(), window=20, recent=recent)
    read = store.tracker_restore(stored, slot_defaults(), window=20)
    assert kept.current_state(EVERYTHING) == read.current_state(EVERYTHING)
    replayed = Tracker.from_events("kept", store.events_load(stored), slot_defaults())
    whole = kept.current_state(EVERYTHING, events=kept.session_events())
    assert whole == replayed.current_state(EVERYTHING, events=replayed.session_events())


def test_a_turn_reads_what_another_process_wrote_since(client):
    """Once another process appended, the row's version differs: the snapshot and the
    events are read from the database, and the next turn builds on them."""
    turn(client, "moved", "hello")
    stale = store._written[store._written_key("moved")]
    elsewhere = [{"event": "bot", "text": "from elsewhere", "timestamp": 9.0}]
    assert client.post_json("/conversations/moved/tracker/events", elsewhere).status_code == 200
    store._written[store._written_key("moved")] = stale  # as if another process had appended
    conversation, recent = store.conversation_for_turn(sender_id="moved")
    stored = Conversation.objects.get(sender_id="moved")
    assert conversation.state is not stale.state and conversation.state == stored.state
    assert conversation.state["latest_bot_utterance"]["text"] == "from elsewhere"
    if connection.vendor == "postgresql":  # read with the row; elsewhere by the restore
        assert recent is not stale.recent and recent[-1].to_dict()["text"] == "from elsewhere"
    store._written[store._written_key("moved")] = stale
    turn(client, "moved", "I am sad")
    events = client.get("/conversations/moved/tracker").json()["events"]
    texts = [event.get("text") for event in events if event["event"] in ("user", "bot")]
    assert texts[:3] == ["hello", "Hey! How are you?", "from elsewhere"]
    assert texts[3] == "I am sad"


def test_a_process_keeps_the_latest_written_states_it_may(client, settings):
    settings.CONVAPI_WRITTEN_STATES = 2
    store.written_forget()
    for sender in ("one", "two", "three"):
        turn(client, sender, "hello")
    assert [key[1] for key in store._written] == ["two", "three"]
    settings.CONVAPI_WRITTEN_STATES = 0
    turn(client, "two", "hello")
    assert [key[1] for key in store._written] == ["three"]


def test_an_append_of_a_few_events_keeps_nothing_for_the_next_turn(client):
    """An append restores no window: its tracker holds only the appended events."""
    for text in ("hello", "I am sad", "yes"):
        turn(client, "appended", text)
    extra = [{"event": "bot", "text": "note", "timestamp": 99.0}]
    assert client.post_json("/conversations/appended/tracker/events", extra).status_code == 200
    assert store._written_key("appended") not in store._written
