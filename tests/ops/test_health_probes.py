"""``/health/live`` and ``/health/ready``: open probes; ready names what is down."""

from __future__ import annotations

import pytest
from django.conf import settings as django_settings

from serving.holder import assistant_from_domain_file, assistant_from_model, assistant_set

pytestmark = [pytest.mark.django_db]

needs_a_broker = pytest.mark.skipif(
    not django_settings.CELERY_BROKER_URL,
    reason="without a broker tasks run in-process: there is no worker to ping",
)


@pytest.mark.usefixtures("token_auth", "no_model")
def test_live_answers_without_credentials_or_anything_else(client):
    response = client.get("/health/live")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


@pytest.mark.usefixtures("token_auth", "trained_initbot")
def test_ready_is_ok_with_a_database_a_model_and_no_broker_to_wait_for(client, settings):
    settings.CELERY_BROKER_URL = ""  # the eager set-up: tasks run in the web process
    response = client.get("/health/ready")
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["status"] == "ok"
    assert body["down"] == []
    assert (body["database"], body["broker"], body["workers"]) == ("ok", "eager", "eager")
    assert body["model"]["loaded"] is True


@pytest.mark.usefixtures("no_model")
def test_ready_is_503_without_a_model_and_says_so(client, settings):
    settings.CELERY_BROKER_URL = ""
    response = client.get("/health/ready")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "failure"
    assert body["down"] == ["model"]
    assert body["model"] == {"loaded": False}
    assert client.get("/health").status_code == 200  # /health stays as it was: no model is fine


@pytest.fixture
def domain_only(bots_dir):
    assistant_set(assistant_from_domain_file(bots_dir / "initbot" / "domain.yml"))
    yield
    assistant_set(None)


def test_a_domain_without_a_trained_model_is_not_ready(client, settings, domain_only):
    settings.CELERY_BROKER_URL = ""
    response = client.get("/health/ready")
    assert response.status_code == 503
    assert response.json()["down"] == ["model"]


@needs_a_broker
@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_ready_asks_the_workers_and_is_503_when_none_answers(
    client, celery_worker_process, initbot_model
):
    assistant_set(assistant_from_model(initbot_model))
    try:
        ready = client.get("/health/ready")
        assert ready.status_code == 200, ready.json()
        assert ready.json()["workers"] == "ok"
        celery_worker_process.stop()
        try:
            response = client.get("/health/ready")
        finally:
            celery_worker_process.start()
    finally:
        assistant_set(None)
    assert response.status_code == 503
    body = response.json()
    assert body["down"] == ["workers"]
    assert body["workers"].startswith("down: no worker answered")
    assert body["broker"] == "ok"
