"""The tracker store: the snapshot is a cache of the log, and the log is append-only."""

from __future__ import annotations

import json
import random

import pytest
from django.db import connection, transaction

from engine.actions.action_server import action_payload, payload_json
from engine.actions.base import ActionContext
from engine.events import event_from_dict
from engine.responses import ResponseRenderer
from engine.tracker import EventVerbosity, Tracker
from trackers import store
from trackers.models import AppendOnlyError, Conversation, Event

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("open_auth", "formbot")]


def random_event(rng: random.Random) -> dict:
    kind = rng.choice(
        ["user", "action", "slot", "bot", "restart", "rewind", "undo", "loop", "session"]
    )
    if kind == "user":
        intent = rng.choice(["greet", "inform", "affirm", "deny"])
        return {
            "event": "user",
            "text": intent,
            "parse_data": {"intent": {"name": intent, "confidence": 0.9}, "entities": []},
        }
    if kind == "action":
        return {
            "event": "action",
            "name": rng.choice(["action_listen", "utter_greet", "restaurant_form"]),
        }
    if kind == "slot":
        return {
            "event": "slot",
            "name": rng.choice(["cuisine", "num_people", "outdoor_seating"]),
            "value": rng.randint(0, 9),
        }
    if kind == "bot":
        return {"event": "bot", "text": "ok"}
    if kind == "loop":
        return {"event": "active_loop", "name": rng.choice(["restaurant_form", None])}
    if kind == "session":
        return {"event": "session_started"}
    return {"event": kind}


def test_it_rebuilds_every_snapshot_from_the_log_and_gets_the_same_state(client, formbot):
    rng = random.Random(7)
    slot_defaults = formbot.domain.slot_defaults()
    for n in range(12):
        sender = f"conv-{n}"
        for _ in range(rng.randint(1, 6)):
            batch = [random_event(rng) for _ in range(rng.randint(1, 8))]
            assert (
                client.post_json(f"/conversations/{sender}/tracker/events", batch).status_code
                == 200
            )
    for conversation in Conversation.objects.all():
        cached = dict(conversation.state)
        assert store.snapshot_rebuild(conversation, slot_defaults) == cached
        events = store.events_load(conversation)
        full = Tracker.from_events(conversation.sender_id, events, slot_defaults)
        restored = store.tracker_restore(conversation, slot_defaults)
        none = EventVerbosity.NONE
        assert restored.current_state(none) == full.current_state(none)


def test_it_numbers_events_without_gaps(client):
    client.post_json("/conversations/seq/tracker/events", [random_event(random.Random(1))] * 5)
    client.post_json("/conversations/seq/tracker/events", [{"event": "bot", "text": "x"}])
    seqs = list(Event.objects.filter(conversation__sender_id="seq").values_list("seq", flat=True))
    assert seqs == list(range(1, len(seqs) + 1))
    assert Conversation.objects.get(sender_id="seq").event_count == len(seqs)


def test_it_stores_more_events_at_once_than_one_insert_may_carry(client):
    """SQLite takes at most 999 parameters a statement: 2,000 events go in several batches."""
    events = [
        {"event": "bot", "text": f"line {n}", "timestamp": 1_700_000_000 + n} for n in range(2000)
    ]
    assert client.post_json("/conversations/many/tracker/events", events).status_code == 200
    stored = list(Event.objects.filter(conversation__sender_id="many").order_by("seq"))
    assert [row.seq for row in stored] == list(range(1, len(stored) + 1))
    bot = [row.data["text"] for row in stored if row.type_name == "bot"]
    assert bot == [f"line {n}" for n in range(2000)]
    assert Conversation.objects.get(sender_id="many").event_count == len(stored)


def test_it_refuses_to_change_a_stored_event(client):
    client.post_json("/conversations/ro/tracker/events", {"event": "bot", "text": "x"})
    row = Event.objects.filter(conversation__sender_id="ro").first()
    row.text = "changed"
    with pytest.raises(AppendOnlyError):
        row.save()


def test_it_rebuilds_a_snapshot_made_for_another_slot_layout(client, formbot):
    client.post_json(
        "/conversations/layout/tracker/events",
        {"event": "slot", "name": "cuisine", "value": "thai"},
    )
    conversation = Conversation.objects.get(sender_id="layout")
    tracker = store.tracker_restore(conversation, {"cuisine": None, "extra": 5})
    state = tracker.current_state(EventVerbosity.NONE)
    assert state["slots"] == {"cuisine": "thai", "extra": 5}


def test_it_indexes_what_reviewers_filter_on(client):
    client.post_json(
        "/conversations/idx/tracker/events",
        [
            {
                "event": "user",
                "text": "hello there",
                "parse_data": {"intent": {"name": "greet", "confidence": 1}, "entities": []},
            },
            {"event": "action", "name": "utter_greet"},
        ],
    )
    rows = Event.objects.filter(conversation__sender_id="idx")
    assert rows.get(type_name="user").intent_name == "greet"
    assert rows.get(type_name="user").text == "hello there"
    assert rows.get(type_name="user").confidence == 1.0
    assert rows.get(action_name="utter_greet").confidence is None
    assert rows.get(action_name="utter_greet").type_name == "action"
    assert Conversation.objects.get(sender_id="idx").latest_intent == "greet"


def test_it_round_trips_stored_events_exactly(client):
    posted = {
        "event": "bot",
        "text": 'hi \u00e9\U0001f600 "quoted" \\ back',
        "data": {"buttons": [{"title": "a", "payload": "/a"}]},
        "timestamp": 1796151101.4809036,
        "metadata": {"utter_action": "utter_x", "small": 8.477673092773753e-05},
    }
    client.put_json("/conversations/rt/tracker/events", [posted])
    row = Event.objects.get(conversation__sender_id="rt")
    assert store.event_from_row(row) == event_from_dict(posted)
    assert row.data == event_from_dict(posted).to_dict()
    assert (row.timestamp, row.text) == (posted["timestamp"], posted["text"])


def test_it_keeps_integers_too_wide_for_64_bits(client):
    """The store writes JSON with orjson, which refuses them: json writes those."""
    wide = 2**70 + 1
    events = [
        {"event": "slot", "name": "cuisine", "value": wide, "timestamp": 2.0},
        {"event": "bot", "text": "ok", "metadata": {"n": -wide}, "timestamp": 3.0},
    ]
    assert client.put_json("/conversations/wide/tracker/events", events).status_code == 200
    rows = Event.objects.filter(conversation__sender_id="wide")
    assert rows.get(type_name="slot").data["value"] == wide
    assert rows.get(type_name="bot").data["metadata"]["n"] == -wide
    tracker = client.get("/conversations/wide/tracker").json()
    assert tracker["slots"]["cuisine"] == wide
    assert Conversation.objects.get(sender_id="wide").state["slots_set"]["cuisine"] == wide


def test_a_turn_reads_the_row_and_its_latest_events_as_the_separate_reads_do(client, formbot):
    """On PostgreSQL the row and its last events come in one statement (elsewhere they
    are read by the restore): the same row, the same events, the same tracker."""
    rng = random.Random(5)
    events = [random_event(rng) for _ in range(45)]
    assert client.put_json("/conversations/both/tracker/events", events).status_code == 200
    slot_defaults = formbot.domain.slot_defaults()
    store.written_forget()  # a PUT's tracker holds them all: read them, not what was written
    conversation, recent = store.conversation_for_turn(sender_id="both")
    alone = store.conversation_get(sender_id="both")
    assert _columns(conversation) == _columns(alone)
    latest = store.events_load(alone, since_seq=alone.event_count - 19)
    if connection.vendor == "postgresql":
        assert recent == latest and len(recent) == 20
    else:
        assert recent is None
    restored = store.tracker_restore(conversation, slot_defaults, window=20, recent=recent)
    separately = store.tracker_restore(alone, slot_defaults, window=20)
    assert restored.events == latest == separately.events
    everything = EventVerbosity.ALL
    assert restored.current_state(everything) == separately.current_state(everything)
    assert store.conversation_for_turn(sender_id="nobody") == (None, None)


def _columns(conversation: Conversation) -> list:
    return [getattr(conversation, f.attname) for f in Conversation._meta.concrete_fields]


def test_an_action_server_is_sent_the_stored_session_as_the_events_would_give_it(client, formbot):
    """A session longer than the turn's window reaches the action server from the stored
    JSON texts, unparsed: the same events, in the same order, as parsing and serialising
    them again would send, with the turn's own unstored events after them."""
    rng = random.Random(11)
    slot_defaults = formbot.domain.slot_defaults()
    from_the_store = 0
    for n in range(8):
        sender = f"long-{n}"
        # A session that began long before the turn's window of 20 events.
        session = (random_event(rng) for _ in range(1000))
        session = [e for e in session if e["event"] not in ("restart", "session_started")]
        batch = [random_event(rng) for _ in range(5)] + [{"event": "session_started"}]
        batch += session[: rng.randint(25, 60)]
        assert client.post_json(f"/conversations/{sender}/tracker/events", batch).status_code == 200
        conversation = Conversation.objects.get(sender_id=sender)
        tracker = store.tracker_restore(conversation, slot_defaults, window=20)
        from_the_store += tracker._session_start is None  # the session began before the window
        full = Tracker.from_events(sender, store.events_load(conversation), slot_defaults)
        unstored = {"event": "action", "name": "restaurant_form", "timestamp": 1.5}
        tracker.update(event_from_dict(unstored))
        full.update(event_from_dict(unstored))
        ctx = ActionContext(tracker, formbot.domain, ResponseRenderer(formbot.domain), sender)
        sent = json.loads(payload_json(action_payload("restaurant_form", ctx)))
        expected = full.current_state(EventVerbosity.ALL, events=full.session_events())
        assert sent["tracker"] == expected
        assert sent["tracker"]["events"][-1]["name"] == "restaurant_form"
        assert (sent["next_action"], sent["sender_id"]) == ("restaurant_form", sender)
    assert from_the_store == 8


def test_a_new_conversation_is_stored_with_its_first_events(formbot):
    """On PostgreSQL the row's INSERT and the events' are one statement; the object is
    left as the ORM's save() leaves it, so what follows in the turn can use it."""
    from engine.events import BotUttered

    slot_defaults = formbot.domain.slot_defaults()
    conversation = store.conversation_new(sender_id="newcomer")
    tracker = store.tracker_restore(conversation, slot_defaults)
    store.events_append(conversation, tracker, [BotUttered("hi", timestamp=5.0)], slot_defaults)
    stored = Conversation.objects.get(sender_id="newcomer")
    assert conversation.pk == stored.pk and not conversation._state.adding
    assert stored.created is not None and stored.created <= stored.updated
    assert stored.event_count == 1 and stored.state == conversation.state
    assert stored.latest_event_time == 5.0
    assert list(stored.events.values_list("seq", "type_name")) == [(1, "bot")]
    again = store.conversation_get(sender_id="newcomer")
    assert again.state == stored.state and again.created == stored.created


def test_a_conversation_stored_meanwhile_by_another_writer_stores_nothing_of_the_second(formbot):
    from engine.errors import ServiceError
    from engine.events import BotUttered

    slot_defaults = formbot.domain.slot_defaults()
    late = store.conversation_new(sender_id="raced")
    tracker = store.tracker_restore(late, slot_defaults)
    first = store.conversation_new(sender_id="raced")
    store.events_append(
        first, store.tracker_restore(first, slot_defaults), [BotUttered("first")], slot_defaults
    )
    # In a transaction of its own, as the test's transaction must outlive the failure.
    with pytest.raises(ServiceError) as raised, transaction.atomic():
        store.events_append(late, tracker, [BotUttered("second")], slot_defaults)
    assert raised.value.status == 409
    stored = Conversation.objects.get(sender_id="raced")
    assert stored.event_count == 1
    assert [row.data["text"] for row in stored.events.all()] == ["first"]
