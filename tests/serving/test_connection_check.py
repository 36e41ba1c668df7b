"""The served-model read that starts every request needing the model is also the check
of the database connection kept from the request before (instead of Django's SELECT 1):
a connection the database dropped is replaced and the request goes on."""

from __future__ import annotations

import psycopg
import pytest
from django.db import connection

from serving.served import served_model_choice, served_model_choose

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="a PostgreSQL backend to drop"),
]


def new_request() -> None:
    """What Django does between requests: a kept connection is unchecked again."""
    connection.close_if_unusable_or_obsolete()


def test_a_dropped_kept_connection_is_replaced_by_the_model_read(monkeypatch):
    choice = served_model_choose(sha256=None)
    assert served_model_choice() == choice
    new_request()
    dropped = connection.connection.info.backend_pid
    with psycopg.connect(connection.connection.info.dsn, autocommit=True) as other:
        other.execute("SELECT pg_terminate_backend(%s)", [dropped])
    checks = []
    real_check = connection.is_usable
    monkeypatch.setattr(connection, "is_usable", lambda: checks.append(1) or real_check())

    assert served_model_choice() == choice  # no error reaches the request
    assert connection.connection.info.backend_pid != dropped
    assert checks == []  # no SELECT 1 of Django's own


def test_a_kept_healthy_connection_takes_no_extra_round_trip(monkeypatch):
    served_model_choose(sha256=None)
    served_model_choice()
    new_request()
    kept = connection.connection
    checks = []
    monkeypatch.setattr(connection, "is_usable", lambda: checks.append(1) or True)
    served_model_choice()
    assert connection.connection is kept and checks == []
    # Other queries of the request find it checked too.
    with connection.cursor() as cursor:
        cursor.execute("SELECT 2")
    assert checks == []
