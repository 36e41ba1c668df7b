"""One busy conversation on gunicorn with several workers and PostgreSQL.

8 clients x 25 turns and 64 clients x 4 turns, each on ONE conversation, through the REST
webhook of a real ``gunicorn config.wsgi`` serving a trained initbot on the test database:
every answer is 200 (or the documented 409 + Retry-After, retried, when the lock-wait
timeout is low), and the stored conversation has every turn once, none interleaved, each
user event followed by exactly the bot messages its client was answered.
"""

from __future__ import annotations

import pytest
from django.db import connection

from bench.same_sender import CaseResult, check_conversation, run_case

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.slow,
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="needs PostgreSQL: gunicorn's workers share the database, SQLite has one writer",
    ),
]


def assert_served_in_order(base_url: str, result: CaseResult, statuses: set[int]) -> None:
    assert set(result.statuses) <= statuses, result.statuses
    check = check_conversation(base_url, "", result)
    assert (check.lost, check.duplicated, check.interleaved, check.wrong_replies) == (0, 0, 0, 0)


@pytest.mark.parametrize(("clients", "turns"), [(8, 25), (64, 4)])
def test_it_serves_every_turn_of_one_busy_conversation_once_and_in_turn(
    gunicorn_on_test_db, clients, turns
):
    base_url = gunicorn_on_test_db(workers=3)
    result = run_case(base_url, f"busy-{clients}", clients, turns)
    assert len(result.replies) == clients * turns
    assert_served_in_order(base_url, result, {200})


def test_it_answers_409_with_retry_after_or_200_when_the_lock_wait_is_short(gunicorn_on_test_db):
    """Many threads wait on one lock for at most 1 s; a 409 stores nothing and is retried."""
    base_url = gunicorn_on_test_db(workers=3, threads=16, env={"CONVAPI_LOCK_TIMEOUT_SECONDS": "1"})
    result = run_case(base_url, "busy-short-lock", 64, 4)
    assert len(result.replies) == 64 * 4
    assert_served_in_order(base_url, result, {200, 409})
