"""CONVAPI_SERVER_TIMING: every answer says where its time went, stage by stage, as the
server is deployed (gunicorn, several workers); off, answers carry no such header."""

from __future__ import annotations

import pytest
import requests
from django.db import connection

from tests.api.conftest import gunicorn_on_test_db  # noqa: F401 - a fixture, registered by import

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

TURN_STAGES = {
    "middleware", "view", "body", "model", "nlu", "lock_wait", "restore", "dialogue", "serialise",
    "write", "commit", "lock_release", "render",
}  # fmt: skip


def server_timing(response: requests.Response) -> dict[str, float]:
    """The header's stages and total, in milliseconds."""
    stages = {}
    for part in response.headers["Server-Timing"].split(", "):
        name, duration = part.split(";dur=")
        stages[name] = float(duration)
    return stages


def test_a_turn_reports_each_stage_and_they_add_up_to_its_total(gunicorn_on_test_db):  # noqa: F811
    base_url = gunicorn_on_test_db(workers=2, env={"CONVAPI_SERVER_TIMING": "true"})
    with requests.Session() as session:
        for text in ("hello", "I am sad"):  # a fresh conversation, then an existing one
            response = session.post(
                f"{base_url}/webhooks/rest/webhook",
                json={"sender": "timed", "message": text},
                timeout=30,
            )
            assert response.status_code == 200
            assert response.json() and response.json()[0]["recipient_id"] == "timed"
            stages = server_timing(response)
            # On PostgreSQL a turn's write is one statement, committed by itself.
            commit = {"commit"} if connection.vendor != "postgresql" else set()
            assert set(stages) == TURN_STAGES - {"commit"} | commit | {"total"}
            assert all(duration >= 0 for duration in stages.values())
            total = stages.pop("total")
            # Each stage counts only its own time: together they are the whole request,
            # less the few microseconds between the last stage's end and the header.
            assert total - 0.1 <= sum(stages.values()) <= total
        tracker = session.get(f"{base_url}/conversations/timed/tracker", timeout=30)
    assert [e["text"] for e in tracker.json()["events"] if e["event"] == "user"] == [
        "hello",
        "I am sad",
    ]
    stages = server_timing(tracker)
    assert {"middleware", "view", "restore", "answer", "render"} <= set(stages)
    assert "nlu" not in stages and "commit" not in stages


def test_without_the_setting_answers_carry_no_timing(gunicorn_on_test_db):  # noqa: F811
    base_url = gunicorn_on_test_db(workers=1)
    response = requests.post(
        f"{base_url}/webhooks/rest/webhook", json={"sender": "plain", "message": "hi"}, timeout=30
    )
    assert response.status_code == 200 and response.json()
    assert "Server-Timing" not in response.headers
