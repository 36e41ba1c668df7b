"""Operating the outbox: a bad event_broker stops the start with a clear error, ignored
sections are named once per process, the lag is on /metrics and in the admin, and a
Kafka relay (untested against a real Kafka here) keeps its rows while it cannot connect."""

from __future__ import annotations

import logging
import subprocess
from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command
from django.utils import timezone

from engine.event_brokers import KafkaBroker
from serving.holder import configured_endpoints
from tests.conftest import ROOT
from tests.outbox.conftest import RABBITMQ, relay_command, say
from trackers.brokers import kafka_producer_settings, kafka_record
from trackers.models import OutboxEvent

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("open_auth")]


def test_serve_refuses_an_unknown_broker_type_before_anything(broker_endpoints):
    broker_endpoints({"type": "redis", "url": "localhost"})
    with pytest.raises(CommandError, match="unknown type 'redis'"):
        call_command("serve", "--no-train")


def test_relay_events_refuses_missing_keys_and_a_missing_broker(broker_endpoints, settings):
    broker_endpoints({"type": "pika", "url": "localhost"})
    with pytest.raises(CommandError, match="of type pika needs 'username'"):
        call_command("relay_events", "--once")
    settings.CONVAPI_ENDPOINTS = ""
    with pytest.raises(CommandError, match="names no event_broker"):
        call_command("relay_events", "--once")


def test_it_names_the_ignored_sections_in_one_line_once_per_process(settings, tmp_path, caplog):
    path = tmp_path / "endpoints.yml"
    path.write_text("tracker_store:\n  type: redis\nnlg:\n  url: http://n\n")
    settings.CONVAPI_ENDPOINTS = str(path)
    with caplog.at_level(logging.WARNING, logger="serving.holder"):
        for _ in range(3):  # as three requests would
            configured_endpoints()
    lines = [r.getMessage() for r in caplog.records if "ignoring" in r.getMessage()]
    assert lines == [
        f"CONVAPI_ENDPOINTS={path}: ignoring tracker_store (the database is the tracker "
        "store); nlg (not supported)."
    ]


@pytest.mark.usefixtures("trained_initbot")
def test_the_lag_is_on_the_metrics_page_and_in_the_admin(client, broker_endpoints):
    broker_endpoints({"type": "pika", **RABBITMQ})  # no relay runs: the rows stay
    say(client, "ann", "hello")
    pending = OutboxEvent.objects.count()
    OutboxEvent.objects.filter(seq=1).update(created_at=timezone.now() - timedelta(minutes=5))
    OutboxEvent.objects.filter(seq=2).update(failed_at=timezone.now(), error="too large")
    page = client.get("/metrics").content.decode()
    assert f"convapi_outbox_pending {pending - 1}.0" in page
    assert "convapi_outbox_set_aside 1.0" in page
    oldest = next(line for line in page.splitlines() if line.startswith("convapi_outbox_oldest"))
    assert 300 <= float(oldest.split()[1]) < 3600
    client.force_login(User.objects.create_superuser("admin", "a@example.com", "pw-123456"))
    listing = client.get("/admin/trackers/outboxevent/").content.decode()
    assert f"Event outbox: {pending - 1} pending, the oldest 30" in listing
    assert "1 refused by the broker" in listing and "too large" in listing
    row = OutboxEvent.objects.first()
    assert client.get(f"/admin/trackers/outboxevent/{row.id}/change/").status_code == 200
    assert client.post(f"/admin/trackers/outboxevent/{row.id}/delete/").status_code == 403


def test_the_kafka_record_carries_the_id_and_the_sender_as_key():
    broker = KafkaBroker(bootstrap_servers=("k:9092",), topic="t", partition_by_sender=True)
    record = kafka_record(broker, message_id=42, sender_id="ann", body='{"sender_id": "ann"}')
    assert record == {
        "topic": "t",
        "value": b'{"sender_id": "ann"}',
        "key": b"ann",
        "headers": [("message_id", b"42")],
    }
    unkeyed = KafkaBroker(bootstrap_servers=("k:9092",))
    assert kafka_record(unkeyed, message_id=1, sender_id="ann", body="{}")["key"] is None


def test_the_kafka_producer_gets_rasas_security_settings():
    broker = KafkaBroker(
        bootstrap_servers=("k:9093",),
        security_protocol="SASL_SSL",
        sasl_mechanism="SCRAM-SHA-512",
        sasl_username="u",
        sasl_password="p",
        ssl_cafile="/ca.pem",
    )
    settings = kafka_producer_settings(broker)
    assert settings["bootstrap_servers"] == ["k:9093"]
    assert (settings["acks"], settings["max_in_flight_requests_per_connection"]) == ("all", 1)
    assert (settings["sasl_plain_username"], settings["sasl_mechanism"]) == ("u", "SCRAM-SHA-512")
    assert settings["ssl_cafile"] == "/ca.pem"
    assert "sasl_plain_username" not in kafka_producer_settings(KafkaBroker(("k:9092",)))


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("trained_initbot")
def test_a_relay_that_cannot_reach_its_broker_keeps_every_row(client, broker_endpoints):
    endpoints = broker_endpoints({"type": "kafka", "url": "127.0.0.1:1"})  # nothing listens
    say(client, "ann", "hello")
    pending = OutboxEvent.objects.count()
    command, env = relay_command(endpoints, "--once")
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode != 0
    assert "The event broker is unavailable" in done.stderr
    assert done.stderr.count("Event broker unavailable") == 1
    assert OutboxEvent.objects.filter(failed_at__isnull=True).count() == pending > 0
