"""The outbox is written by the store, in the transaction of the events it carries, and
only when an event broker is configured."""

from __future__ import annotations

import json

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from engine.events import event_from_dict
from serving.holder import current_assistant
from tests.outbox.conftest import RABBITMQ, say, stored_messages
from trackers import services
from trackers.models import Event, OutboxEvent

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("open_auth", "trained_initbot")]
PIKA = {"type": "pika", **RABBITMQ}


def outbox_messages(sender_id: str) -> list[dict]:
    rows = OutboxEvent.objects.filter(sender_id=sender_id).order_by("id")
    return [json.loads(message) for message in rows.values_list("message", flat=True)]


def test_it_writes_each_event_of_a_turn_to_the_outbox_with_its_sender(client, broker_endpoints):
    broker_endpoints(PIKA)
    say(client, "ann", "hello")
    say(client, "ann", "I am very sad")
    messages = stored_messages("ann")
    assert len(messages) > 6
    assert outbox_messages("ann") == messages
    rows = OutboxEvent.objects.filter(sender_id="ann").order_by("id")
    assert [row.seq for row in rows] == list(range(1, len(messages) + 1))
    assert list(rows.values_list("message", flat=True))[0].startswith('{"sender_id": "ann", ')


def test_it_writes_no_outbox_row_and_no_query_without_a_broker(client, settings):
    settings.CONVAPI_ENDPOINTS = ""
    say(client, "bob", "hello")  # the conversation's first turn: its row is created
    with CaptureQueriesContext(connection) as queries:
        say(client, "bob", "I am very sad")
    assert Event.objects.filter(conversation__sender_id="bob").count() > 6
    assert OutboxEvent.objects.count() == 0
    assert not [q for q in queries.captured_queries if "outbox" in q["sql"].lower()]


def test_a_rolled_back_append_leaves_neither_events_nor_outbox_rows(broker_endpoints):
    broker_endpoints(PIKA)

    def fail(events) -> None:  # runs inside the append's transaction, after the INSERTs
        assert OutboxEvent.objects.filter(sender_id="cy").count() == len(events) == 4
        raise RuntimeError("side effect failed")

    with pytest.raises(RuntimeError):
        services.tracker_events_append(
            sender_id="cy",
            events=[event_from_dict({"event": "slot", "name": "x", "value": 1})],
            verbosity=services.EventVerbosity.NONE,
            context=current_assistant().tracker_context(),
            side_effects=fail,
        )
    assert Event.objects.filter(conversation__sender_id="cy").count() == 0
    assert OutboxEvent.objects.count() == 0


def test_it_publishes_the_events_a_replace_stores(client, broker_endpoints):
    broker_endpoints(PIKA)
    say(client, "dee", "hello")
    OutboxEvent.objects.all().delete()  # as if the relay had published them
    events = [
        {"event": "action", "name": "action_listen", "timestamp": 1.0},
        {"event": "user", "text": "hi", "timestamp": 2.0, "parse_data": {"intent": {}}},
    ]
    response = client.put_json("/conversations/dee/tracker/events", events)
    assert response.status_code == 200, response.content
    assert outbox_messages("dee") == stored_messages("dee")
    assert [row.seq for row in OutboxEvent.objects.order_by("id")] == [1, 2]
