"""While a custom action runs, its turn holds the conversation's lock and nothing else.

A real rasa-sdk server runs ``action_gate``, which waits until the test opens its gate:
meanwhile no database transaction is open (PostgreSQL shows no connection "idle in
transaction"), other conversations take turns, and a turn whose lock expired while it
waited cannot append after another writer did (the append is fenced on the log).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from django.db import connection

from serving.holder import assistant_from_model, assistant_set
from tests.api.conftest import ApiClient
from tests.engine.processor_support import formbot_model, free_port, start_action_server
from tests.jobs.conftest import wait_for
from trackers.locks import RedisLockStore, lock_store
from trackers.models import Conversation, ConversationLock

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def gates(settings, tmp_path, monkeypatch) -> Iterator[Path]:
    """formbot served, a real action server with ``action_gate``; the gates' folder."""
    settings.CONVAPI_AUTH_TOKEN = ""
    settings.CONVAPI_JWT_SECRET = ""
    folder = tmp_path / "gates"
    folder.mkdir()
    monkeypatch.setenv("ACTIONS_GATE_DIR", str(folder))
    port = free_port()
    process = start_action_server(port)
    endpoints = tmp_path / "endpoints.yml"
    endpoints.write_text(f"action_endpoint:\n  url: http://127.0.0.1:{port}/webhook\n")
    settings.CONVAPI_ENDPOINTS = str(endpoints)
    assistant_set(assistant_from_model(formbot_model()))
    yield folder
    for sender in [p.stem for p in folder.glob("*.entered")]:
        (folder / f"{sender}.open").touch()
    process.kill()
    process.wait(timeout=15)
    assistant_set(None)


def say(sender: str, text: str = "hello"):
    return ApiClient().post_json("/webhooks/rest/webhook", {"sender": sender, "message": text})


def events_of(sender: str) -> list[dict]:
    return ApiClient().get(f"/conversations/{sender}/tracker?include_events=ALL").json()["events"]


def start_gated_turn(gates: Path, sender: str) -> tuple[threading.Thread, list]:
    """``/execute action_gate`` in a thread, returned once the action server has it."""
    assert say(sender).status_code == 200  # /execute needs an existing conversation
    answers: list = []

    def execute() -> None:
        try:
            answers.append(
                ApiClient().post_json(f"/conversations/{sender}/execute", {"name": "action_gate"})
            )
        finally:
            connection.close()

    thread = threading.Thread(target=execute)
    thread.start()
    wait_for(lambda: (gates / f"{sender}.entered").exists(), what="the action call")
    return thread, answers


def open_gate(gates: Path, sender: str, thread: threading.Thread) -> None:
    (gates / f"{sender}.open").touch()
    thread.join(60)


def idle_in_transaction() -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity "
            "WHERE datname = current_database() AND state LIKE 'idle in transaction%%'"
        )
        return cursor.fetchone()[0]


def test_no_transaction_is_open_while_the_action_runs_and_others_go_on(gates):
    thread, answers = start_gated_turn(gates, "gated")
    if connection.vendor == "postgresql":
        assert idle_in_transaction() == 0
    # Another conversation takes whole turns meanwhile (on SQLite an open write
    # transaction would have blocked it until the lock timeout).
    other = say("other", "hello")
    assert other.status_code == 200 and other.json(), other.content
    assert [e["text"] for e in events_of("other") if e["event"] == "user"] == ["hello"]
    assert not [e for e in events_of("gated") if e.get("name") == "action_gate"]
    open_gate(gates, "gated", thread)
    assert [a.status_code for a in answers] == [200]
    after = events_of("gated")
    assert [e.get("name") for e in after if e["event"] == "action"][-1] == "action_gate"
    assert [e["text"] for e in after if e["event"] == "bot"][-1] == "through the gate"
    assert [e["value"] for e in after if e["event"] == "slot" and e["name"] == "cuisine"] == [
        "gated"
    ]


def expire_lock(sender: str) -> None:
    """What the lock's lifetime does to a turn that outlives it, without waiting for it."""
    store = lock_store()
    if isinstance(store, RedisLockStore):
        store.client.delete(store.key_names(sender)[0])
    else:
        ConversationLock.objects.filter(sender_id=sender).delete()


def stored_log(sender: str) -> list[dict]:
    conversation = Conversation.objects.get(sender_id=sender)
    rows = list(conversation.events.order_by("seq").values_list("seq", "data"))
    assert [seq for seq, _ in rows] == list(range(1, conversation.event_count + 1))
    return [data for _, data in rows]


@pytest.mark.parametrize(
    "other_write",
    [
        lambda sender: ApiClient().post_json(
            f"/conversations/{sender}/tracker/events", {"event": "bot", "text": "overtaker"}
        ),
        lambda sender: say(sender, "overtaker"),
    ],
    ids=["events", "message"],
)
def test_a_turn_whose_lock_expired_cannot_append_after_another_writer(gates, other_write: Callable):
    thread, answers = start_gated_turn(gates, "fenced")
    before = stored_log("fenced")
    expire_lock("fenced")
    overtaker = other_write("fenced")
    assert overtaker.status_code == 200, overtaker.content
    overtaken = stored_log("fenced")
    open_gate(gates, "fenced", thread)

    assert [a.status_code for a in answers] == [409]
    body = answers[0].json()
    assert (body["reason"], answers[0]["Retry-After"]) == ("Conflict", "1")
    # The log holds the turns before and the overtaking write, nothing of the late turn.
    assert stored_log("fenced") == overtaken
    assert overtaken[: len(before)] == before
    assert "overtaker" in [e.get("text") for e in overtaken[len(before) :]]
    assert "action_gate" not in [e.get("name") for e in overtaken]
    assert "through the gate" not in [e.get("text") for e in overtaken]
