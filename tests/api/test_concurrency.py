"""Appends to one conversation are serialised: no lost, duplicated or gapped events."""

from __future__ import annotations

import threading

import pytest
from django.db import connection

from tests.api.conftest import ApiClient
from trackers.models import Conversation, Event

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("open_auth", "initbot"),
]


def post_batches(sender: str, tag: str, batches: int, per_batch: int, errors: list) -> None:
    client = ApiClient()
    try:
        for b in range(batches):
            events = [{"event": "bot", "text": f"{tag}-{b}-{i}"} for i in range(per_batch)]
            response = client.post_json(f"/conversations/{sender}/tracker/events", events)
            if response.status_code != 200:
                errors.append(response.content)
    finally:
        connection.close()


@pytest.mark.parametrize(("clients", "batches", "per_batch"), [(2, 1, 50), (4, 5, 10)])
def test_it_serialises_concurrent_appends(clients, batches, per_batch):
    errors: list = []
    threads = [
        threading.Thread(target=post_batches, args=("busy", f"c{n}", batches, per_batch, errors))
        for n in range(clients)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    posted = clients * batches * per_batch
    session_start = 3
    rows = list(Event.objects.filter(conversation__sender_id="busy").order_by("seq"))
    assert [row.seq for row in rows] == list(range(1, posted + session_start + 1))
    texts = [row.text for row in rows if row.type_name == "bot"]
    assert len(texts) == len(set(texts)) == posted
    # Each batch is stored contiguously: no interleaving inside one append.
    for tag in (f"c{n}" for n in range(clients)):
        for b in range(batches):
            positions = [i for i, text in enumerate(texts) if text.startswith(f"{tag}-{b}-")]
            assert positions == list(range(positions[0], positions[0] + per_batch))
    assert Conversation.objects.get(sender_id="busy").event_count == posted + session_start
