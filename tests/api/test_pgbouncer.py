"""Behind PgBouncer in transaction-pooling mode: turns keep no session state between
transactions, so many gunicorn threads share a few server connections and one busy
conversation is still served once and in turn."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests
from django.db import connection

from bench.pgbouncer import Bouncer, start_pgbouncer
from bench.same_sender import check_conversation, run_case

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.slow,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="PgBouncer pools PostgreSQL"),
]
POOL_SIZE = 3


@pytest.fixture
def bouncer() -> Iterator[Bouncer]:
    bouncer = start_pgbouncer(pool_size=POOL_SIZE)
    yield bouncer
    bouncer.stop()


def test_turns_through_a_transaction_pooling_pgbouncer(gunicorn_on_test_db, bouncer):
    database = connection.settings_dict["NAME"]
    # 2 workers x 8 threads = 16 client connections over 3 server connections.
    base_url = gunicorn_on_test_db(
        workers=2,
        threads=8,
        env={"DATABASE_URL": bouncer.url(database), "CONVAPI_PGBOUNCER": "true"},
    )
    result = run_case(base_url, "pooled", 16, 3)
    assert len(result.replies) == 16 * 3
    assert set(result.statuses) == {200}, result.statuses
    check = check_conversation(base_url, "", result)
    assert (check.lost, check.duplicated, check.interleaved, check.wrong_replies) == (0, 0, 0, 0)
    events = requests.get(
        f"{base_url}/conversations/pooled/tracker", params={"include_events": "ALL"}, timeout=30
    ).json()["events"]
    assert len([e for e in events if e["event"] == "user"]) == 16 * 3
