"""Idempotency-Key: retries return the first response and store nothing new."""

from __future__ import annotations

import threading

import pytest
from django.db import connection

from convapi.models import IdempotentRequest
from tests.api.checks import assert_rasa_error, stored_state
from tests.api.conftest import ApiClient
from trackers.models import Event

BOT = {"event": "bot", "text": "hi"}
URL = "/conversations/idem/tracker/events"


@pytest.mark.django_db
@pytest.mark.usefixtures("open_auth", "initbot")
class TestRetries:
    def test_it_replays_the_first_response_and_stores_nothing_new(self, client):
        first = client.post_json(URL, BOT, HTTP_IDEMPOTENCY_KEY="k1")
        count = Event.objects.count()
        again = client.post_json(URL, BOT, HTTP_IDEMPOTENCY_KEY="k1")
        assert again.status_code == first.status_code == 200
        assert again.content == first.content
        assert again["Idempotent-Replayed"] == "true"
        assert Event.objects.count() == count

    def test_it_refuses_the_same_key_with_another_body(self, client):
        client.post_json(URL, BOT, HTTP_IDEMPOTENCY_KEY="k2")
        before = stored_state()
        other = client.post_json(URL, {"event": "bot", "text": "other"}, HTTP_IDEMPOTENCY_KEY="k2")
        assert_rasa_error(other, 422)
        assert "Idempotent-Replayed" not in other
        assert stored_state() == before
        assert not Event.objects.filter(text="other").exists()

    def test_it_keeps_keys_apart_per_path_and_caller(self, client):
        client.post_json(URL, BOT, HTTP_IDEMPOTENCY_KEY="k3")
        elsewhere = client.post_json(
            "/conversations/other/tracker/events", BOT, HTTP_IDEMPOTENCY_KEY="k3"
        )
        assert "Idempotent-Replayed" not in elsewhere
        assert Event.objects.filter(conversation__sender_id="other").exists()

    def test_it_forgets_keys_after_they_expire(self, client, settings):
        client.post_json(URL, BOT, HTTP_IDEMPOTENCY_KEY="k4")
        count = Event.objects.count()
        settings.CONVAPI_IDEMPOTENCY_TTL_SECONDS = -1
        assert "Idempotent-Replayed" not in client.post_json(URL, BOT, HTTP_IDEMPOTENCY_KEY="k4")
        assert Event.objects.count() == count + 1

    def test_it_does_not_remember_failed_requests(self, client):
        failed = client.post_json(URL, {"event": "bogus"}, HTTP_IDEMPOTENCY_KEY="k5")
        assert_rasa_error(failed, 400, "BadRequest")
        assert not Event.objects.exists()
        assert client.post_json(URL, BOT, HTTP_IDEMPOTENCY_KEY="k6").status_code == 200
        assert IdempotentRequest.objects.filter(key="k5").first().status == 400
        # The failed request stored nothing, so the retry of k5 sends its 400 again and
        # still stores nothing: the one event is k6's.
        again = client.post_json(URL, {"event": "bogus"}, HTTP_IDEMPOTENCY_KEY="k5")
        assert_rasa_error(again, 400, "BadRequest")
        assert [e.type_name for e in Event.objects.filter(type_name="bot")] == ["bot"]

    def test_it_covers_the_webhook_and_messages(self, client, trained_initbot):
        body = {"sender": "w", "message": "hello"}
        first = client.post_json("/webhooks/rest/webhook", body, HTTP_IDEMPOTENCY_KEY="w1")
        count = Event.objects.count()
        again = client.post_json("/webhooks/rest/webhook", body, HTTP_IDEMPOTENCY_KEY="w1")
        assert again.json() == first.json()
        assert Event.objects.count() == count
        assert again["Idempotent-Replayed"] == "true"
        message = {"text": "hello", "sender": "user"}
        logged = client.post_json("/conversations/w/messages", message, HTTP_IDEMPOTENCY_KEY="m1")
        assert logged.status_code == 200
        before = stored_state()
        replayed = client.post_json("/conversations/w/messages", message, HTTP_IDEMPOTENCY_KEY="m1")
        assert replayed.status_code == 200
        assert replayed["Idempotent-Replayed"] == "true"
        assert replayed.content == logged.content
        assert stored_state() == before


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("open_auth", "initbot")
def test_it_stores_once_when_retries_arrive_concurrently():
    responses: list = []

    def post() -> None:
        try:
            response = ApiClient().post_json(URL, [BOT] * 5, HTTP_IDEMPOTENCY_KEY="same")
            responses.append((response.status_code, response.content))
        finally:
            connection.close()

    threads = [threading.Thread(target=post) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert {status for status, _ in responses} == {200}
    assert len({content for _, content in responses}) == 1
    assert Event.objects.filter(type_name="bot").count() == 5
