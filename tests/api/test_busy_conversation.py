"""A turn waits for the conversation's lock; past the lock timeout it gets 409 + Retry-After."""

from __future__ import annotations

import threading

import pytest
from django.db import connection, transaction

from trackers import store
from trackers.models import Event

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("open_auth", "initbot"),
]
URL = "/conversations/busy/tracker/events"


@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="row-lock timeouts are PostgreSQL's (lock_timeout)"
)
def test_it_answers_409_with_retry_after_when_the_lock_wait_times_out(client, settings):
    client.post_json(URL, {"event": "bot", "text": "first"})
    settings.CONVAPI_LOCK_TIMEOUT_SECONDS = 1
    locked, release = threading.Event(), threading.Event()

    def hold_lock() -> None:
        try:
            with transaction.atomic():
                store.conversation_lock(sender_id="busy")
                locked.set()
                release.wait(10)
        finally:
            connection.close()

    holder = threading.Thread(target=hold_lock)
    holder.start()
    locked.wait(5)
    count = Event.objects.count()
    response = client.post_json(URL, {"event": "bot", "text": "second"})
    release.set()
    holder.join()
    assert response.status_code == 409
    assert response["Retry-After"] == "1"
    assert response.json()["reason"] == "Conflict"
    assert Event.objects.count() == count
    assert client.post_json(URL, {"event": "bot", "text": "third"}).status_code == 200
