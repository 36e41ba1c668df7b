"""``endpoints.yml``'s ``event_broker``: where every event of every conversation is streamed
(API.md section 14.4), read into one dataclass per broker type, with Rasa's key names.

Only the configuration and the message live here (plain Python); publishing is the
relay's (``trackers/brokers.py``), which reads the events from the database's outbox.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from engine.errors import ConfigError

DEFAULT_QUEUE = "rasa_core_events"
DEFAULT_EXCHANGE = "rasa-exchange"
DEFAULT_TOPIC = "rasa_core_events"
KAFKA_SECURITY_PROTOCOLS = ("PLAINTEXT", "SASL_PLAINTEXT", "SSL", "SASL_SSL")
# Rasa's connection retries at start: the relay retries for ever, with backoff, instead.
PIKA_RETRY_KEYS = ("connection_attempts", "retry_delay_in_seconds")


@dataclass(frozen=True)
class PikaBroker:
    """RabbitMQ: a durable fanout exchange, with each of ``queues`` declared and bound."""

    host: str
    username: str
    password: str
    port: int = 5672
    queues: tuple[str, ...] = (DEFAULT_QUEUE,)
    exchange_name: str = DEFAULT_EXCHANGE
    raise_on_failure: bool = False
    should_keep_unpublished_messages: bool = True
    type: str = "pika"


@dataclass(frozen=True)
class KafkaBroker:
    bootstrap_servers: tuple[str, ...]
    topic: str = DEFAULT_TOPIC
    client_id: str | None = None
    partition_by_sender: bool = False
    security_protocol: str = "PLAINTEXT"
    sasl_mechanism: str = "PLAIN"
    sasl_username: str | None = None
    sasl_password: str | None = None
    ssl_cafile: str | None = None
    ssl_certfile: str | None = None
    ssl_keyfile: str | None = None
    ssl_check_hostname: bool = False
    raise_on_failure: bool = False
    type: str = "kafka"


@dataclass(frozen=True)
class SqlBroker:
    """A table ``events`` (id, sender_id, data) in any database SQLAlchemy reaches."""

    dialect: str = "sqlite"
    host: str | None = None
    port: int | None = None
    db: str = "events.db"
    username: str | None = None
    password: str | None = None
    type: str = "sql"


EventBroker = PikaBroker | KafkaBroker | SqlBroker


def event_message(sender_id: str, event_data: dict[str, Any]) -> str:
    """Rasa's message for one event: its JSON with ``sender_id`` added at the top level."""
    return json.dumps({"sender_id": sender_id, **event_data}, ensure_ascii=False)


def event_broker_from_section(raw: Any, source: str | None = None) -> EventBroker | None:
    """The ``event_broker`` section as a dataclass; None when absent; ConfigError when bad."""
    if raw is None:
        return None
    where = f"{source or 'endpoints'}: 'event_broker'"
    if not isinstance(raw, dict):
        raise ConfigError(f"{where} must be a mapping with a 'type' (pika, kafka or sql).")
    kind = raw.get("type")
    readers = {"pika": _pika, "kafka": _kafka, "sql": _sql}
    if kind not in readers:
        raise ConfigError(
            f"{where}: unknown type {kind!r}; convapi publishes to pika (RabbitMQ), kafka or sql."
        )
    keys = _Keys(raw, where)
    broker = readers[kind](keys)
    keys.refuse_unknown()
    return broker


class _Keys:
    """Reads the section's keys, each checked for its type, remembering which were read."""

    def __init__(self, raw: dict, where: str) -> None:
        self.raw, self.where, self.read = raw, where, {"type"}

    def text(self, key: str, default: str | None = None, *, required: bool = False) -> Any:
        self.read.add(key)
        value = self.raw.get(key)
        if value is None:
            if required:
                raise ConfigError(f"{self.where} of type {self.raw['type']} needs '{key}'.")
            return default
        if isinstance(value, bool | dict | list):
            raise ConfigError(f"{self.where}: '{key}' must be a string.")
        return str(value)

    def integer(self, key: str, default: int | None) -> int | None:
        self.read.add(key)
        value = self.raw.get(key)
        if value is None:
            return default
        try:
            number = int(str(value))
        except ValueError:
            raise ConfigError(f"{self.where}: '{key}' must be a port number.") from None
        if not 0 < number < 65536 or isinstance(value, bool):
            raise ConfigError(f"{self.where}: '{key}' must be a port number.")
        return number

    def flag(self, key: str, default: bool) -> bool:
        self.read.add(key)
        value = self.raw.get(key, default)
        if not isinstance(value, bool):
            raise ConfigError(f"{self.where}: '{key}' must be true or false.")
        return value

    def names(self, key: str) -> tuple[str, ...] | None:
        """A list of names, or one name; None when absent."""
        self.read.add(key)
        value = self.raw.get(key)
        if value is None:
            return None
        items = value if isinstance(value, list) else [value]
        if not items or not all(isinstance(item, str) and item for item in items):
            raise ConfigError(f"{self.where}: '{key}' must be a name or a list of names.")
        return tuple(items)

    def ignore(self, *keys: str) -> None:
        self.read.update(keys)

    def refuse_unknown(self) -> None:
        # A misspelt key would silently fall back to a default (say, a queue nobody reads).
        unknown = sorted(str(key) for key in self.raw if key not in self.read)
        if unknown:
            raise ConfigError(f"{self.where}: unknown key(s) {', '.join(unknown)}.")


def _pika(keys: _Keys) -> PikaBroker:
    queues, queue = keys.names("queues"), keys.names("queue")  # Rasa takes either
    keys.ignore(*PIKA_RETRY_KEYS)
    return PikaBroker(
        host=keys.text("url", required=True),
        username=keys.text("username", required=True),
        password=keys.text("password", required=True),
        port=keys.integer("port", 5672),
        queues=queues or queue or (DEFAULT_QUEUE,),
        exchange_name=keys.text("exchange_name", DEFAULT_EXCHANGE),
        raise_on_failure=keys.flag("raise_on_failure", False),
        should_keep_unpublished_messages=keys.flag("should_keep_unpublished_messages", True),
    )


def _kafka(keys: _Keys) -> KafkaBroker:
    servers = keys.names("url")
    if servers is None:
        raise ConfigError(f"{keys.where} of type kafka needs 'url' (the bootstrap servers).")
    protocol = keys.text("security_protocol", "PLAINTEXT").upper()
    if protocol not in KAFKA_SECURITY_PROTOCOLS:
        choices = ", ".join(KAFKA_SECURITY_PROTOCOLS)
        raise ConfigError(f"{keys.where}: 'security_protocol' must be one of {choices}.")
    broker = KafkaBroker(
        bootstrap_servers=servers,
        topic=keys.text("topic", DEFAULT_TOPIC),
        client_id=keys.text("client_id"),
        partition_by_sender=keys.flag("partition_by_sender", False),
        security_protocol=protocol,
        sasl_mechanism=keys.text("sasl_mechanism", "PLAIN"),
        sasl_username=keys.text("sasl_username"),
        sasl_password=keys.text("sasl_password"),
        ssl_cafile=keys.text("ssl_cafile"),
        ssl_certfile=keys.text("ssl_certfile"),
        ssl_keyfile=keys.text("ssl_keyfile"),
        ssl_check_hostname=keys.flag("ssl_check_hostname", False),
        raise_on_failure=keys.flag("raise_on_failure", False),
    )
    if protocol.startswith("SASL") and not (broker.sasl_username and broker.sasl_password):
        raise ConfigError(f"{keys.where}: {protocol} needs 'sasl_username' and 'sasl_password'.")
    return broker


def _sql(keys: _Keys) -> SqlBroker:
    # Rasa passes the section's ``url`` as the host; ``host`` is taken too.
    host = keys.text("url") or keys.text("host")
    return SqlBroker(
        dialect=keys.text("dialect", "sqlite"),
        host=host,
        port=keys.integer("port", None),
        db=keys.text("db", "events.db"),
        username=keys.text("username"),
        password=keys.text("password"),
    )
