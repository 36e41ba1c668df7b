"""``manage.py rebuild_snapshots``: every snapshot replayed from its log, the differing fixed."""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from engine.events import event_from_dict
from engine.tracker import Tracker
from serving.holder import Assistant, assistant_from_model, assistant_set
from trackers import store
from trackers.locks import conversation_locked
from trackers.models import Conversation, Event

pytestmark = pytest.mark.django_db

TURN = [
    {"event": "action", "name": "action_listen"},
    {"event": "user", "text": "hi", "parse_data": {"intent": {"name": "greet", "confidence": 1}}},
    {"event": "action", "name": "utter_greet"},
    {"event": "bot", "text": "Hey! How are you?"},
    {"event": "action", "name": "action_listen"},
]
LONG_AGO = timezone.now() - timedelta(days=400)


@pytest.fixture
def served(initbot_model) -> Iterator[Assistant]:
    assistant = assistant_from_model(initbot_model)
    assistant_set(assistant)
    yield assistant
    assistant_set(None)


def conversations_from_one_log(count: int, slot_defaults) -> Conversation:
    """``count`` conversations with the same log and its right snapshot, bulk-created;
    the first one went through the store as a turn would."""
    first = store.conversation_get_or_create(sender_id="c000")
    with transaction.atomic():
        events = [event_from_dict(data) for data in TURN]
        store.events_append(first, Tracker("c000", slot_defaults), events, slot_defaults)
    first.refresh_from_db()
    copies = Conversation.objects.bulk_create(
        Conversation(
            sender_id=f"c{n:03}",
            event_count=first.event_count,
            state=first.state,
            state_key=first.state_key,
        )
        for n in range(1, count)
    )
    rows = list(first.events.order_by("seq"))
    Event.objects.bulk_create(
        Event(conversation=c, seq=r.seq, type_name=r.type_name, timestamp=r.timestamp, data=r.data)
        for c in copies
        for r in rows
    )
    Conversation.objects.update(updated=LONG_AGO)
    return first


def spoil(sender_id: str, **fields) -> None:
    Conversation.objects.filter(sender_id=sender_id).update(**fields)


def rebuild(*args: str) -> list[str]:
    out = io.StringIO()
    call_command("rebuild_snapshots", *args, stdout=out)
    return out.getvalue().splitlines()


def test_it_rebuilds_the_snapshots_that_differ_from_the_log_and_names_them(served):
    slot_defaults = served.domain.slot_defaults()
    right = conversations_from_one_log(300, slot_defaults)
    spoil("c010", state={})
    spoil("c050", state={**right.state, "paused": True})
    spoil("c100", state={**right.state, "latest_action": {"action_name": "utter_goodbye"}})
    spoil("c200", state_key="another-slot-layout")
    spoil("c299", state={**right.state, "events_since_reset": 1})

    with CaptureQueriesContext(connection) as queries:
        lines = rebuild("--batch-size", "40", "--show", "3")

    assert lines == [
        "conversations checked: 300",
        "snapshots that differed (rebuilt): 5",
        "  c010",
        "  c050",
        "  c100",
        "  ... and 2 more",
    ]
    listings = [q for q in queries.captured_queries if q["sql"].endswith("LIMIT 40")]
    assert len(listings) == 9  # 300 conversations, 40 at a time, and the empty end
    assert set(Conversation.objects.values_list("state_key", flat=True)) == {right.state_key}
    assert all(
        state == right.state for state in Conversation.objects.values_list("state", flat=True)
    )
    assert Event.objects.count() == 300 * len(TURN)
    # Only the rewritten ones count as touched: the rest keep their activity time.
    touched = Conversation.objects.exclude(updated=LONG_AGO).values_list("sender_id", flat=True)
    assert sorted(touched) == ["c010", "c050", "c100", "c200", "c299"]
    assert rebuild()[1] == "snapshots that differed (rebuilt): 0"


def test_it_leaves_a_conversation_a_turn_holds_and_says_so(served, settings):
    settings.CONVAPI_LOCK_TIMEOUT_SECONDS = 0  # a held lock is not waited for
    conversations_from_one_log(3, served.domain.slot_defaults())
    spoil("c001", state={})
    with conversation_locked("c001"):
        lines = rebuild()
    assert lines == [
        "conversations checked: 3",
        "snapshots that differed (rebuilt): 0",
        "busy (skipped, run again): 1",
    ]
    assert Conversation.objects.get(sender_id="c001").state == {}


def test_it_needs_a_loaded_model(settings, tmp_path):
    settings.CONVAPI_MODEL = str(tmp_path)
    assistant_set(None)
    with pytest.raises(CommandError, match="No model is loaded"):
        rebuild()


def test_it_refuses_a_batch_size_below_one(served):
    with pytest.raises(CommandError, match="--batch-size: use 1 or more"):
        rebuild("--batch-size", "0")
