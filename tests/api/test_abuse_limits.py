"""Limits on what anyone may send: message length, body size, and the channel routes'
rate per client (shared across gunicorn workers through Redis)."""

from __future__ import annotations

import json
import os
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from django.core.cache import cache
from django.db import connection

from tests.api.checks import assert_rasa_error, stored_state

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("open_auth", "trained_initbot")]

WEBHOOK = "/webhooks/rest/webhook"


@pytest.fixture
def one_turn_stored(client):
    assert client.post_json(WEBHOOK, {"sender": "ann", "message": "hello"}).status_code == 200
    return stored_state()


def test_it_refuses_a_message_longer_than_the_limit_and_stores_nothing(
    client, settings, one_turn_stored
):
    settings.CONVAPI_MAX_MESSAGE_CHARS = 50
    for path, body in [
        (WEBHOOK, {"sender": "ann", "message": "x" * 51}),
        ("/conversations/ann/messages", {"sender": "user", "text": "x" * 51}),
    ]:
        error = assert_rasa_error(client.post_json(path, body), 400, "BadRequest")
        assert "longer than 50 characters (CONVAPI_MAX_MESSAGE_CHARS)" in error["message"]
        assert error["details"]["parameter"] in ("message", "text")
    assert stored_state() == one_turn_stored
    answer = client.post_json(WEBHOOK, {"sender": "ann", "message": "hello " + "x" * 44})
    assert answer.status_code == 200  # 50 characters: accepted


@pytest.mark.parametrize("idempotency_key", [None, "k-1"])
@pytest.mark.parametrize("path", [WEBHOOK, "/conversations/ann/tracker/events"])
def test_it_answers_413_naming_the_setting_for_a_body_over_the_limit(
    client, settings, one_turn_stored, path, idempotency_key
):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 2000
    body = json.dumps({"event": "user", "sender": "ann", "message": "hi", "text": "x" * 5000})
    headers = {"HTTP_IDEMPOTENCY_KEY": idempotency_key} if idempotency_key else {}
    response = client.post(path, body, content_type="application/json", **headers)
    error = assert_rasa_error(response, 413, "PayloadTooLarge")
    assert "2000 bytes" in error["message"]
    assert "CONVAPI_MAX_BODY_BYTES" in error["message"]
    assert error["details"] == {"limit": "CONVAPI_MAX_BODY_BYTES"}
    assert stored_state() == one_turn_stored


def test_it_answers_413_naming_the_setting_for_training_data_over_its_limit(client, settings):
    settings.CONVAPI_MAX_TRAINING_BYTES = 100
    response = client.post("/model/train", "nlu: []\n" * 20, content_type="application/x-yaml")
    error = assert_rasa_error(response, 413, "PayloadTooLarge")
    assert error["details"] == {"limit": "CONVAPI_MAX_TRAINING_BYTES"}


def channel_rate(settings, rate: str | None) -> None:
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"channel": rate},
    }
    cache.clear()  # this process's own cache (no CONVAPI_CACHE_URL in tests)


def test_the_channel_rate_limit_is_off_when_unset(client, settings):
    channel_rate(settings, None)
    for number in range(30):
        answer = client.post_json(WEBHOOK, {"sender": "ann", "message": "hello"})
        assert answer.status_code == 200, number


def test_it_answers_429_with_retry_after_past_the_channel_rate(client, settings):
    channel_rate(settings, "3/hour")
    for _ in range(3):
        assert client.post_json(WEBHOOK, {"sender": "ann", "message": "hello"}).status_code == 200
    before = stored_state()
    refused = client.post_json(WEBHOOK, {"sender": "ann", "message": "hello"})
    assert_rasa_error(refused, 429, "TooManyRequests")
    assert 3500 <= int(refused["Retry-After"]) <= 3600
    assert assert_rasa_error(client.get("/webhooks/rest/"), 429)  # every channel route
    assert stored_state() == before
    # Other routes are not channel routes: never limited by it.
    assert client.get("/conversations/ann/tracker").status_code == 200


def test_a_retry_with_the_same_idempotency_key_runs_again_after_a_429(client, settings):
    channel_rate(settings, "1/hour")
    body = {"sender": "bob", "message": "hello"}
    assert client.post_json(WEBHOOK, body).status_code == 200
    refused = client.post_json(WEBHOOK, body, HTTP_IDEMPOTENCY_KEY="retry-1")
    assert_rasa_error(refused, 429, "TooManyRequests")
    cache.clear()  # the window is over
    retried = client.post_json(WEBHOOK, body, HTTP_IDEMPOTENCY_KEY="retry-1")
    assert retried.status_code == 200
    assert "Idempotent-Replayed" not in retried
    assert retried.json() and all(reply["recipient_id"] == "bob" for reply in retried.json())
    events = client.get("/conversations/bob/tracker").json()["events"]
    assert sum(event["event"] == "user" for event in events) == 2  # the first turn and the retry


@pytest.mark.slow
@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="gunicorn's workers need PostgreSQL to share"
)
@pytest.mark.django_db(transaction=True)
def test_the_limit_holds_in_total_across_gunicorn_workers_with_redis(gunicorn_on_test_db):
    redis_url = os.environ.get("CONVAPI_LOCK_STORE") or "redis://127.0.0.1:6379/15"
    base_url = gunicorn_on_test_db(
        workers=2,
        env={
            "CONVAPI_CHANNEL_RATE": "10/hour",
            "CONVAPI_CACHE_URL": redis_url,
            "CONVAPI_NUM_PROXIES": "1",  # the client's address: X-Forwarded-For's last
        },
    )
    # A client address of this run's own, so no other run shares its window.
    client_address = "10." + ".".join(str(byte) for byte in uuid.uuid4().bytes[:3])
    sender = f"rate-{uuid.uuid4().hex}"

    def turn(number: int) -> requests.Response:
        return requests.post(
            f"{base_url}{WEBHOOK}",
            json={"sender": sender, "message": "hello"},
            headers={"X-Forwarded-For": client_address},
            timeout=60,
        )

    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(turn, range(24)))
    statuses = sorted(answer.status_code for answer in answers)
    assert statuses == [200] * 10 + [429] * 14
    refused = next(answer for answer in answers if answer.status_code == 429)
    assert refused.json()["reason"] == "TooManyRequests"
    assert int(refused.headers["Retry-After"]) >= 1
    tracker = requests.get(f"{base_url}/conversations/{sender}/tracker", timeout=10).json()
    assert sum(event["event"] == "user" for event in tracker["events"]) == 10
    # Another client (another forwarded address) has a window of its own.
    other = requests.post(
        f"{base_url}{WEBHOOK}",
        json={"sender": sender, "message": "hello"},
        headers={"X-Forwarded-For": "10.255.255.254, " + client_address.replace("10.", "11.")},
        timeout=60,
    )
    assert other.status_code == 200
