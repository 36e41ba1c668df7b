"""PostgreSQL stops during a turn and starts again: 503s, nothing half-written, then service.

The database is a private cluster this test starts (never the machine's shared one);
convapi is a real gunicorn server pointed at it.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.faults.conftest import assert_error_format, wait_for

pytestmark = pytest.mark.slow

SENDER = "pg-fault"


def hello(server, text: str = "hello"):
    return server.post("/webhooks/rest/webhook", {"sender": SENDER, "message": text})


def stored_events(cluster) -> tuple[list[int], int, list[str]]:
    """The conversation's event seqs, its cached event count and its user texts, from SQL."""
    with cluster.connect() as conn:
        seqs = [
            row[0]
            for row in conn.execute(
                "SELECT e.seq FROM trackers_event e JOIN trackers_conversation c "
                "ON c.id = e.conversation_id WHERE c.sender_id = %s ORDER BY e.seq",
                (SENDER,),
            )
        ]
        (count,) = conn.execute(
            "SELECT event_count FROM trackers_conversation WHERE sender_id = %s", (SENDER,)
        ).fetchone()
        texts = [
            row[0]
            for row in conn.execute(
                "SELECT e.text FROM trackers_event e JOIN trackers_conversation c "
                "ON c.id = e.conversation_id WHERE c.sender_id = %s AND e.type_name = 'user'",
                (SENDER,),
            )
        ]
    return seqs, count, texts


def hold_conversation_lock(cluster) -> None:
    """Take the conversation's lease in the database's lock store, as a turn in flight would."""
    with cluster.connect() as conn:
        conn.execute(
            "INSERT INTO trackers_conversationlock (sender_id, token, expires_at) "
            "VALUES (%s, 'held-by-the-test', now() + interval '1 hour')",
            (SENDER,),
        )


def release_conversation_lock(cluster) -> None:
    with cluster.connect() as conn:
        conn.execute("DELETE FROM trackers_conversationlock WHERE sender_id = %s", (SENDER,))


def turn_waiting_on_lock(cluster) -> bool:
    """A server connection has tried to take the lease (and waits for it)."""
    with cluster.connect() as conn:
        (waiting,) = conn.execute(
            "SELECT count(*) FROM pg_stat_activity "
            "WHERE query LIKE '%%trackers_conversationlock%%' AND pid <> pg_backend_pid()"
        ).fetchone()
    return waiting > 0


def test_it_answers_503_while_postgres_is_down_and_recovers_without_restart(
    private_postgres, convapi_server, initbot_archive
):
    # One worker thread: the connection that saw the outage is the one the next turn uses.
    server = convapi_server(
        {
            "DATABASE_URL": private_postgres.url,
            "CONVAPI_MODEL": str(initbot_archive),
            "CONVAPI_LOCK_STORE": "",  # conversation locks in this database too
        },
        workers=1,
        threads=1,
    )
    first = hello(server)
    assert first.status_code == 200, first.text
    assert first.json(), "initbot answers a greeting"
    before = stored_events(private_postgres)

    # A turn in flight: it waits for the conversation's lock when PostgreSQL dies.
    hold_conversation_lock(private_postgres)
    in_flight: dict = {}
    sender = threading.Thread(
        target=lambda: in_flight.setdefault("response", hello(server, "in flight"))
    )
    sender.start()
    wait_for(lambda: turn_waiting_on_lock(private_postgres), what="the turn to wait on the lock")
    private_postgres.stop("immediate")
    sender.join(30)
    body = assert_error_format(in_flight["response"], 503)
    assert in_flight["response"].headers["Retry-After"]
    assert body["reason"] == "ServiceUnavailable"

    # While it is down: every turn and the health check say so, in the error format.
    during = hello(server, "while down")
    assert_error_format(during, 503)
    assert during.headers["Retry-After"]
    health = server.get("/health")
    assert health.status_code == 503
    assert "database" in health.json()["down"]

    # Started again: the next requests work, without restarting convapi.
    private_postgres.start()
    release_conversation_lock(private_postgres)  # the test's lease (a real one expires)
    for text in ("hello", "I am great", "hello"):
        again = hello(server, text)
        assert again.status_code == 200, again.text
        assert again.json()
    health = server.get("/health")
    assert health.status_code == 200, health.text  # no broker configured: "eager"
    assert health.json()["database"] == "ok"

    seqs, count, texts = stored_events(private_postgres)
    assert seqs == list(range(1, len(seqs) + 1)), "event numbers have no gaps"
    assert count == len(seqs), "the cached count matches the log"
    assert seqs[: len(before[0])] == before[0]
    assert "in flight" not in texts and "while down" not in texts, "failed turns stored nothing"
    assert texts.count("hello") == 3
    tracker = server.get(f"/conversations/{SENDER}/tracker?include_events=ALL").json()
    assert len(tracker["events"]) == len(seqs)


# A persistent connection (CONN_MAX_AGE) opened before the restart would be reused by its
# worker thread's next request without CONN_HEALTH_CHECKS: one 503 per such thread.
def test_it_serves_every_worker_thread_at_once_after_postgres_restarts(
    private_postgres, convapi_server, initbot_archive
):
    server = convapi_server(
        {"DATABASE_URL": private_postgres.url, "CONVAPI_MODEL": str(initbot_archive)},
        workers=2,
        threads=2,
    )
    senders = [f"warm-{n}" for n in range(12)]

    def turn(sender: str) -> int:
        return server.post(
            "/webhooks/rest/webhook", {"sender": sender, "message": "hello"}
        ).status_code

    with ThreadPoolExecutor(8) as pool:  # every worker thread opens its connection
        assert set(pool.map(turn, senders)) == {200}
    private_postgres.stop("immediate")
    private_postgres.start()
    with ThreadPoolExecutor(8) as pool:
        assert list(pool.map(turn, senders)) == [200] * len(senders)
