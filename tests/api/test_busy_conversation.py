"""A turn waits for the conversation's lock; past the lock timeout it gets 409 + Retry-After."""

from __future__ import annotations

import threading

import pytest
from django.db import connection

from trackers.locks import conversation_locked
from trackers.models import Event

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("open_auth", "initbot"),
]
URL = "/conversations/busy/tracker/events"


def hold_lock(locked: threading.Event, release: threading.Event) -> None:
    try:
        with conversation_locked("busy"):
            locked.set()
            release.wait(10)
    finally:
        connection.close()


def test_it_answers_409_with_retry_after_when_the_lock_wait_times_out(client, settings):
    client.post_json(URL, {"event": "bot", "text": "first"})
    settings.CONVAPI_LOCK_TIMEOUT_SECONDS = 0
    locked, release = threading.Event(), threading.Event()
    holder = threading.Thread(target=hold_lock, args=(locked, release))
    holder.start()
    assert locked.wait(10)
    count = Event.objects.count()
    response = client.post_json(URL, {"event": "bot", "text": "second"})
    release.set()
    holder.join()
    assert response.status_code == 409
    assert response["Retry-After"] == "1"
    assert response.json()["reason"] == "Conflict"
    assert Event.objects.count() == count
    assert client.post_json(URL, {"event": "bot", "text": "third"}).status_code == 200
    texts = [e.get("text") for e in client.get("/conversations/busy/tracker").json()["events"]]
    assert [t for t in texts if t] == ["first", "third"]


def test_a_waiting_write_goes_on_once_the_lock_is_released(client, settings):
    client.post_json(URL, {"event": "bot", "text": "first"})
    settings.CONVAPI_LOCK_TIMEOUT_SECONDS = 30
    locked, release = threading.Event(), threading.Event()
    holder = threading.Thread(target=hold_lock, args=(locked, release))
    holder.start()
    assert locked.wait(10)
    answers: list = []
    writer = threading.Thread(
        target=lambda: answers.append(client.post_json(URL, {"event": "bot", "text": "second"}))
    )
    writer.start()
    writer.join(0.2)
    assert answers == [], "the write waits for the lock"
    release.set()
    holder.join()
    writer.join(30)
    assert [a.status_code for a in answers] == [200]
    texts = [e.get("text") for e in client.get("/conversations/busy/tracker").json()["events"]]
    assert [t for t in texts if t] == ["first", "second"]
