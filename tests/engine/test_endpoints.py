"""Reading endpoints.yml: action server and model server settings, ${VAR} interpolation."""

from __future__ import annotations

import json

import pytest

from engine.endpoints import endpoints_from_yaml, read_endpoints
from engine.errors import ConfigError
from engine.event_brokers import SqlBroker, event_message


def test_it_reads_the_action_endpoint_with_defaults():
    endpoints = endpoints_from_yaml("action_endpoint:\n  url: http://a/webhook\n")
    action = endpoints.action_endpoint
    assert action.url == "http://a/webhook"
    assert (action.token, action.headers, action.enable_selective_domain) == (None, {}, False)
    assert action.timeout == 300.0
    assert endpoints.models is None


def test_it_reads_every_option(monkeypatch):
    monkeypatch.setenv("ACTION_TOKEN", "s3cret")
    text = """
action_endpoint:
  url: http://a/webhook
  token: ${ACTION_TOKEN}
  headers: {X-Id: 7}
  enable_selective_domain: true
  timeout: 5
models:
  url: http://m/model.tar.gz
  token: t
  wait_time_between_pulls: 0
"""
    endpoints = endpoints_from_yaml(text)
    assert endpoints.action_endpoint.token == "s3cret"
    assert endpoints.action_endpoint.headers == {"X-Id": "7"}
    assert endpoints.action_endpoint.enable_selective_domain is True
    assert endpoints.action_endpoint.timeout == 5.0
    assert endpoints.models.url == "http://m/model.tar.gz"
    assert endpoints.models.wait_time_between_pulls == 0.0


def test_it_defaults_the_pull_interval():
    assert endpoints_from_yaml("models: {url: http://m}").models.wait_time_between_pulls == 100.0


def test_it_refuses_an_unset_variable_and_a_missing_url(monkeypatch):
    monkeypatch.delenv("NOPE_VAR", raising=False)
    with pytest.raises(ConfigError, match="NOPE_VAR"):
        endpoints_from_yaml("action_endpoint: {url: '${NOPE_VAR}'}")
    with pytest.raises(ConfigError, match="url"):
        endpoints_from_yaml("action_endpoint: {token: x}")


def test_it_reads_nothing_from_a_missing_file(tmp_path):
    assert read_endpoints(tmp_path / "none.yml").action_endpoint is None
    file = tmp_path / "endpoints.yml"
    file.write_text("action_endpoint:\n  url: http://x\n")
    assert read_endpoints(file).action_endpoint.url == "http://x"


# The event broker (API.md 14.4) and the sections convapi ignores.


def broker_of(section: str):
    return endpoints_from_yaml("event_broker:\n" + section).event_broker


def test_it_reads_a_pika_broker_with_rasas_defaults():
    broker = broker_of("  type: pika\n  url: rabbit\n  username: u\n  password: p\n")
    assert (broker.host, broker.port, broker.username, broker.password) == (
        "rabbit",
        5672,
        "u",
        "p",
    )
    assert broker.queues == ("rasa_core_events",)
    assert broker.exchange_name == "rasa-exchange"
    assert (broker.raise_on_failure, broker.should_keep_unpublished_messages) == (False, True)


def test_it_takes_a_single_queue_and_every_pika_option():
    broker = broker_of(
        "  type: pika\n  url: rabbit\n  port: 5673\n  username: u\n  password: p\n"
        "  queue: one\n  exchange_name: ex\n  raise_on_failure: true\n"
        "  should_keep_unpublished_messages: false\n  connection_attempts: 3\n"
    )
    assert (broker.port, broker.queues, broker.exchange_name) == (5673, ("one",), "ex")
    assert broker.raise_on_failure is True and broker.should_keep_unpublished_messages is False
    assert broker_of(
        "  type: pika\n  url: r\n  username: u\n  password: p\n  queues: [a, b]\n"
    ).queues == ("a", "b")


def test_it_reads_a_kafka_broker():
    broker = broker_of(
        "  type: kafka\n  url: [k1:9092, k2:9092]\n  topic: t\n  partition_by_sender: true\n"
        "  security_protocol: sasl_ssl\n  sasl_username: u\n  sasl_password: p\n"
        "  sasl_mechanism: SCRAM-SHA-256\n  ssl_cafile: /ca.pem\n  client_id: bot\n"
    )
    assert broker.bootstrap_servers == ("k1:9092", "k2:9092")
    assert (broker.topic, broker.partition_by_sender, broker.client_id) == ("t", True, "bot")
    assert (broker.security_protocol, broker.sasl_mechanism) == ("SASL_SSL", "SCRAM-SHA-256")
    assert broker_of("  type: kafka\n  url: k:9092\n").topic == "rasa_core_events"


def test_it_reads_an_sql_broker_with_rasas_defaults():
    assert broker_of("  type: sql\n") == SqlBroker(dialect="sqlite", db="events.db")
    broker = broker_of(
        "  type: sql\n  dialect: postgresql\n  url: db.host\n  port: 5433\n  db: ev\n"
        "  username: u\n  password: p\n"
    )
    assert (broker.dialect, broker.host, broker.port, broker.db) == (
        "postgresql",
        "db.host",
        5433,
        "ev",
    )


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ("  type: redis\n", "unknown type 'redis'"),
        ("  url: rabbit\n", "unknown type None"),
        ("  type: pika\n  username: u\n  password: p\n", "of type pika needs 'url'"),
        ("  type: pika\n  url: r\n  password: p\n", "needs 'username'"),
        ("  type: pika\n  url: r\n  username: u\n  password: p\n  port: x\n", "'port' must be"),
        ("  type: pika\n  url: r\n  username: u\n  password: p\n  queues: []\n", "'queues'"),
        ("  type: pika\n  url: r\n  username: u\n  password: p\n  qeues: [a]\n", "qeues"),
        ("  type: kafka\n  topic: t\n", "needs 'url' (the bootstrap servers)"),
        ("  type: kafka\n  url: k\n  security_protocol: TLS\n", "'security_protocol' must"),
        ("  type: kafka\n  url: k\n  security_protocol: SASL_PLAINTEXT\n", "sasl_username"),
        ("  type: sql\n  raise_on_failure: maybe\n", "unknown key(s) raise_on_failure"),
    ],
)
def test_it_refuses_a_bad_event_broker_clearly(section, message):
    with pytest.raises(ConfigError) as caught:
        broker_of(section)
    assert message in str(caught.value)
    assert "'event_broker'" in str(caught.value)


def test_it_names_the_sections_it_ignores_and_why():
    endpoints = endpoints_from_yaml(
        "tracker_store:\n  type: redis\nlock_store:\n  type: redis\nnlg:\n  url: http://n\n"
        "action_endpoint:\n  url: http://a\n"
    )
    assert endpoints.ignored_warning() == (
        "ignoring tracker_store (the database is the tracker store); lock_store (the "
        "database (or CONVAPI_LOCK_STORE) is the lock store); nlg (not supported)."
    )
    assert endpoints_from_yaml("action_endpoint:\n  url: http://a\n").ignored_warning() is None


def test_the_message_is_the_event_with_its_sender_first():
    data = {"event": "action", "timestamp": 1.5, "name": "action_listen"}
    text = event_message("ann", data)
    assert text.startswith('{"sender_id": "ann", "event": "action"')
    assert json.loads(text) == {"sender_id": "ann", **data}
