"""``GET /metrics``: who may scrape it, and what the page is."""

from __future__ import annotations

import pytest

from tests.api.checks import assert_rasa_error
from tests.conftest import admin_jwt, user_jwt
from tests.ops.conftest import Samples

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("trained_initbot")]

METRICS_TOKEN = "scrape-me"


def bearer(token: str) -> dict[str, str]:
    return {"HTTP_AUTHORIZATION": f"Bearer {token}"}


@pytest.mark.usefixtures("open_auth")
def test_it_serves_prometheus_text_with_every_metric_named(client):
    client.post_json("/webhooks/rest/webhook", {"sender": "scraped", "message": "hello"})
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain; version=")
    page = response.content.decode()
    samples = Samples(page)
    assert samples("convapi_turns_total", route="user_message", channel="rest", outcome="ok") >= 1
    for family in (
        "convapi_turn_duration_seconds",
        "convapi_nlu_fallbacks_total",
        "convapi_intent_confidence",
        "convapi_action_server_calls_total",
        "convapi_action_server_call_duration_seconds",
        "convapi_lock_wait_duration_seconds",
        "convapi_lock_timeouts_total",
        "convapi_jobs_total",
        "convapi_job_duration_seconds",
        "convapi_callback_attempts_total",
        "convapi_reminders_total",
        "convapi_model_loads_total",
        "convapi_model_load_duration_seconds",
    ):
        assert f"# TYPE {family} " in page, family


@pytest.mark.usefixtures("token_auth")
@pytest.mark.parametrize(
    ("query", "headers", "status"),
    [
        ("", {}, 401),
        ("?token=nope", {}, 401),
        ("?token=rasa", {}, 200),
        ("", bearer(admin_jwt()), 200),
        ("", bearer(user_jwt("alice")), 403),
        ("", bearer(METRICS_TOKEN), 200),
        ("", bearer("not-the-metrics-token"), 401),
    ],
    ids=["none", "wrong token", "token", "admin jwt", "user jwt", "metrics token", "wrong bearer"],
)
def test_it_lets_in_admins_and_the_metrics_token_only(client, settings, query, headers, status):
    settings.CONVAPI_METRICS_TOKEN = METRICS_TOKEN
    response = client.get("/metrics" + query, **headers)
    if status == 200:
        assert response.status_code == 200
        assert b"# TYPE convapi_turns_total counter" in response.content
    else:
        reason = {401: "NotAuthenticated", 403: "NotAuthorized"}[status]
        assert_rasa_error(response, status, reason)


@pytest.mark.usefixtures("open_auth")
def test_a_metrics_token_closes_the_metrics_of_an_open_api(client, settings):
    settings.CONVAPI_METRICS_TOKEN = METRICS_TOKEN
    assert_rasa_error(client.get("/metrics"), 401, "NotAuthenticated")
    assert client.get("/metrics", **bearer(METRICS_TOKEN)).status_code == 200
    assert client.get("/status").status_code == 200  # the API stays open


@pytest.mark.usefixtures("open_auth")
def test_without_any_token_the_metrics_are_as_open_as_the_api(client):
    assert client.get("/metrics").status_code == 200


@pytest.mark.usefixtures("token_auth")
def test_the_metrics_token_opens_nothing_else(client, settings):
    settings.CONVAPI_METRICS_TOKEN = METRICS_TOKEN
    assert_rasa_error(client.get("/status", **bearer(METRICS_TOKEN)), 401, "NotAuthenticated")
