"""An action server call sends the conversation's whole session. The process that wrote
a conversation last keeps its session's JSON texts with the snapshot it wrote
(``trackers.store``), so a turn's custom action reads no events back; what it sends is
what the database holds."""

from __future__ import annotations

import json

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from trackers import store
from trackers.models import Conversation

pytestmark = pytest.mark.django_db

ACTION = "action_set_name"
SENDER = "texts"


def stored_session() -> list[dict]:
    """The session's events as the database holds them (after the latest reset)."""
    conversation = Conversation.objects.get(sender_id=SENDER)
    texts = store.event_texts_load(conversation, after_seq=conversation.latest_reset_seq)
    return [json.loads(text) for text in texts]


def execute(client, action_server) -> tuple[list[dict], list[str]]:
    """Run the custom action; the events it was sent, and the SQL the turn ran."""
    with CaptureQueriesContext(connection) as queries:
        answer = client.post_json(f"/conversations/{SENDER}/execute", {"name": ACTION})
    assert answer.status_code == 200, answer.content
    return action_server.calls_of(ACTION)[-1].events, [query["sql"] for query in queries]


def reads_event_data(sql: list[str]) -> bool:
    return any('"trackers_event"."data"' in statement for statement in sql)


def say(client, *texts: str) -> None:
    for text in texts:
        answer = client.post_json("/webhooks/rest/webhook", {"sender": SENDER, "message": text})
        assert answer.status_code == 200, answer.content


def test_a_custom_action_is_sent_the_stored_session_without_reading_it_back(
    client, formbot_with_actions
):
    # Longer than a turn's window of events: the session's start is not in memory.
    say(client, *["hello"] * 8)
    assert len(stored_session()) > store.RECENT_EVENTS
    before = stored_session()
    sent, sql = execute(client, formbot_with_actions)
    assert reads_event_data(sql)  # first call in this process: read from the database
    assert sent == before  # the session before the action ran

    say(client, "hello", "hi")
    before = stored_session()
    sent, sql = execute(client, formbot_with_actions)
    assert not reads_event_data(sql)  # kept from the turns' own writes
    assert sent == before

    say(client, "/restart", *["hello"] * 8)  # a new session, long again
    before = stored_session()
    assert len(before) > store.RECENT_EVENTS
    sent, sql = execute(client, formbot_with_actions)
    assert not reads_event_data(sql)
    assert sent == before
    assert "restart" not in [event["event"] for event in sent]  # only the new session's

    store.written_forget()  # as if another process had written it last: read again
    before = stored_session()
    sent, sql = execute(client, formbot_with_actions)
    assert reads_event_data(sql) and sent == before
