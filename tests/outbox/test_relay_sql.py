"""The sql event broker: Rasa's ``events`` table in a real SQLite file and in PostgreSQL,
filled by ``manage.py relay_events --once``; a message the table refuses is set aside."""

from __future__ import annotations

import json
import os
import subprocess

import pytest
import sqlalchemy
from django.db import connection

from engine.event_brokers import SqlBroker
from tests.conftest import ROOT
from tests.outbox.conftest import relay_command, say, stored_messages
from trackers.brokers import SqlPublisher, sql_url
from trackers.models import OutboxEvent

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("open_auth", "trained_initbot"),
]
PG_EVENTS_DB = "convapi_outbox_events"


def postgres_broker() -> dict:
    """A database of its own for the events table, made when missing; skip without PostgreSQL."""
    if "postgres" not in os.environ.get("DATABASE_URL", ""):
        pytest.skip("needs PostgreSQL (DATABASE_URL)")
    admin = sqlalchemy.create_engine(
        "postgresql+psycopg://postgres@127.0.0.1:5432/postgres", isolation_level="AUTOCOMMIT"
    )
    with admin.connect() as conn:
        exists = conn.execute(
            sqlalchemy.text("SELECT 1 FROM pg_database WHERE datname = :name"),
            {"name": PG_EVENTS_DB},
        ).first()
        if not exists:
            conn.execute(sqlalchemy.text(f"CREATE DATABASE {PG_EVENTS_DB}"))
    admin.dispose()
    broker = {"type": "sql", "dialect": "postgresql", "url": "127.0.0.1", "port": 5432}
    return {**broker, "db": PG_EVENTS_DB, "username": "postgres"}


def events_engine(broker: dict) -> sqlalchemy.Engine:
    fields = {key: value for key, value in broker.items() if key not in ("type", "url")}
    return sqlalchemy.create_engine(sql_url(SqlBroker(host=broker.get("url"), **fields)))


def table_rows(broker: dict) -> list[tuple[int, str, dict]]:
    engine = events_engine(broker)
    with engine.connect() as conn:
        rows = conn.execute(sqlalchemy.text("SELECT id, sender_id, data FROM events ORDER BY id"))
        result = [(row.id, row.sender_id, json.loads(row.data)) for row in rows]
    engine.dispose()
    return result


def drop_events_table(broker: dict) -> None:
    engine = events_engine(broker)
    with engine.begin() as conn:
        conn.execute(sqlalchemy.text("DROP TABLE IF EXISTS events"))
    engine.dispose()


def relay_once(endpoints) -> subprocess.CompletedProcess:
    command, env = relay_command(endpoints, "--once")
    return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)


@pytest.fixture(params=["sqlite", "postgresql"])
def sql_broker(request, tmp_path):
    broker = (
        {"type": "sql", "dialect": "sqlite", "db": str(tmp_path / "events.db")}
        if request.param == "sqlite"
        else postgres_broker()
    )
    drop_events_table(broker)
    yield broker
    drop_events_table(broker)


def test_it_fills_rasas_events_table(client, broker_endpoints, sql_broker):
    endpoints = broker_endpoints(sql_broker)
    say(client, "ann", "hello")
    say(client, "bob", "hello")
    ids = list(OutboxEvent.objects.order_by("id").values_list("id", flat=True))
    done = relay_once(endpoints)
    assert done.returncode == 0, done.stderr
    rows = table_rows(sql_broker)
    assert [row[0] for row in rows] == ids
    for sender in ("ann", "bob"):
        assert [data for _, who, data in rows if who == sender] == stored_messages(sender)
    assert OutboxEvent.objects.count() == 0


def test_a_message_published_twice_is_stored_once(sql_broker):
    publisher = SqlPublisher(
        SqlBroker(**{k: v for k, v in sql_broker.items() if k not in ("type", "url")},
                  host=sql_broker.get("url"))
    )  # fmt: skip
    publisher.connect()
    try:
        for _ in range(2):  # a relay stopped between the insert and the outbox delete
            publisher.publish(message_id=7, sender_id="ann", body='{"sender_id": "ann"}')
    finally:
        publisher.close()
    assert table_rows(sql_broker) == [(7, "ann", {"sender_id": "ann"})]


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the test database is the broker")
def test_a_message_the_table_refuses_is_set_aside_and_the_rest_go_on(client, broker_endpoints):
    broker = postgres_broker()
    drop_events_table(broker)
    engine = events_engine(broker)
    with engine.begin() as conn:  # a table made elsewhere, narrower than Rasa's
        conn.execute(
            sqlalchemy.text(
                "CREATE TABLE events (id bigint PRIMARY KEY, sender_id text, data varchar(1800))"
            )
        )
    engine.dispose()
    endpoints = broker_endpoints(broker)
    try:
        say(client, "ann", "hello")
        say(client, "ann", "hello " + "x" * 700)  # its user event cannot be stored there
        say(client, "ann", "I am very sad")
        done = relay_once(endpoints)
        assert done.returncode == 0, done.stderr
        refused = list(OutboxEvent.objects.all())
        assert [row.failed_at is not None for row in refused] == [True]
        assert "x" * 700 in refused[0].message
        assert "value too long" in refused[0].error
        assert f"refused outbox event {refused[0].id} of ann" in done.stderr
        published = [data for _, _, data in table_rows(broker)]
        expected = [m for m in stored_messages("ann") if "x" * 700 not in json.dumps(m)]
        assert published == expected
    finally:
        drop_events_table(broker)
