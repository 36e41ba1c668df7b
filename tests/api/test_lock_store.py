"""The lock store down or misconfigured: a clear 503 or a refusal to start, nothing stored."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.api.checks import assert_rasa_error, stored_state
from tests.conftest import ROOT
from tests.engine.processor_support import free_port

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("open_auth", "trained_initbot")]
UNAVAILABLE = {"component": "lock_store"}


def test_writes_answer_503_when_redis_is_unreachable_and_store_nothing(client, settings):
    client.post_json("/conversations/kept/tracker/events", {"event": "bot", "text": "before"})
    before = stored_state()
    settings.CONVAPI_LOCK_STORE = f"redis://127.0.0.1:{free_port()}/0"  # nothing listens
    turn = client.post_json("/webhooks/rest/webhook", {"sender": "kept", "message": "hello"})
    assert_rasa_error(turn, 503, "ServiceUnavailable", details=UNAVAILABLE)
    assert turn["Retry-After"] == "5"
    appended = client.post_json("/conversations/new/tracker/events", {"event": "restart"})
    assert_rasa_error(appended, 503, "ServiceUnavailable", details=UNAVAILABLE)
    assert stored_state() == before


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("CONVAPI_LOCK_STORE", "memcached://127.0.0.1", "use a redis:// URL, or nothing"),
        ("CONVAPI_LOCK_LIFETIME_SECONDS", "0", "1 or more"),
        ("CONVAPI_LOCK_LIFETIME_SECONDS", "a minute", "use a whole number"),
    ],
)
def test_a_bad_lock_setting_stops_the_start_with_the_reason(name, value, message):
    result = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=ROOT,
        env={"PATH": "/usr/bin:/bin", name: value},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0
    assert name in result.stderr and message in result.stderr, result.stderr[-500:]
