"""ETag on tracker responses and If-Match on writes (API.md section 13)."""

from __future__ import annotations

import pytest

from tests.api.checks import assert_rasa_error, stored_state
from trackers.models import Event

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("open_auth", "initbot")]

BOT = {"event": "bot", "text": "hi"}
URL = "/conversations/etag/tracker"


def test_it_sends_an_etag_that_changes_with_every_stored_event(client):
    first = client.post_json(URL + "/events", BOT)["ETag"]
    assert client.get(URL)["ETag"] == first
    second = client.post_json(URL + "/events", BOT)["ETag"]
    assert second != first
    assert client.get(URL)["ETag"] == second
    replaced = client.put_json(URL + "/events", [BOT])["ETag"]
    assert replaced not in (first, second)


def test_it_refuses_a_write_when_the_conversation_moved_on(client):
    etag = client.post_json(URL + "/events", BOT)["ETag"]
    client.post_json(URL + "/events", BOT)
    count = Event.objects.count()
    before = stored_state()
    stale = client.post_json(URL + "/events", BOT, HTTP_IF_MATCH=etag)
    assert_rasa_error(stale, 412, "PreconditionFailed")
    stale_put = client.put_json(URL + "/events", [BOT], HTTP_IF_MATCH=etag)
    assert_rasa_error(stale_put, 412, "PreconditionFailed")
    assert Event.objects.count() == count
    assert stored_state() == before


def test_it_accepts_a_write_with_the_current_etag(client):
    etag = client.post_json(URL + "/events", BOT)["ETag"]
    response = client.post_json(URL + "/events", BOT, HTTP_IF_MATCH=etag)
    assert response.status_code == 200
    assert client.post_json(URL + "/events", BOT, HTTP_IF_MATCH="*").status_code == 200
