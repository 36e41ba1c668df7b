"""Publishers: one per event broker type, each publishing one message and returning only
once the broker has it (``trackers/relay.py`` deletes the outbox row after that).

No Django here. A publisher tells the relay what a failure means by its type:
``MessageRejected`` is the broker refusing this one message (the relay sets the row aside
and goes on); any other exception is an outage (the relay backs off and retries the same
row, so order holds).
"""

from __future__ import annotations

import contextlib
import logging
from typing import Any, Protocol

import pika
import pika.exceptions
import sqlalchemy
from sqlalchemy import exc as sql_errors

from engine.event_brokers import EventBroker, KafkaBroker, PikaBroker, SqlBroker

logger = logging.getLogger(__name__)

# Seconds a publisher waits for the broker before calling it an outage.
CONNECT_TIMEOUT = 5.0
CONFIRM_TIMEOUT = 30.0


class MessageRejected(Exception):
    """The broker is up but refuses this message (too large, wrong for its table, ...)."""


class Publisher(Protocol):
    def connect(self) -> None: ...

    def publish(self, *, message_id: int, sender_id: str, body: str) -> None: ...

    def idle(self) -> None: ...

    def close(self) -> None: ...


def publisher_for(broker: EventBroker) -> Publisher:
    if isinstance(broker, PikaBroker):
        return PikaPublisher(broker)
    if isinstance(broker, KafkaBroker):
        return KafkaPublisher(broker)
    return SqlPublisher(broker)


class PikaPublisher:
    """RabbitMQ with publisher confirms: ``basic_publish`` returns once the broker acked."""

    def __init__(self, broker: PikaBroker) -> None:
        self.broker = broker
        self.connection: pika.BlockingConnection | None = None
        self.channel: Any = None

    def connect(self) -> None:
        self.connection = pika.BlockingConnection(pika_parameters(self.broker))
        channel = self.connection.channel()
        channel.exchange_declare(self.broker.exchange_name, exchange_type="fanout", durable=True)
        for queue in self.broker.queues:
            channel.queue_declare(queue, durable=True)
            channel.queue_bind(queue, self.broker.exchange_name)
        channel.confirm_delivery()
        self.channel = channel

    def publish(self, *, message_id: int, sender_id: str, body: str) -> None:
        properties = pika.BasicProperties(
            delivery_mode=pika.DeliveryMode.Persistent,
            content_type="application/json",
            content_encoding="utf-8",
            message_id=str(message_id),
        )
        if self.channel is None:  # closed by the broker after refusing the previous message
            self.connect()
        try:
            self.channel.basic_publish(
                self.broker.exchange_name, "", body.encode(), properties=properties
            )
        except pika.exceptions.NackError as exc:
            raise MessageRejected(f"nacked by RabbitMQ: {exc}") from None
        except pika.exceptions.ChannelClosedByBroker as exc:
            if exc.reply_code != 406:  # PRECONDITION_FAILED: e.g. above max_message_size
                raise
            self.close()  # the channel is gone: the next row reconnects
            raise MessageRejected(f"refused by RabbitMQ: {exc.reply_text}") from None

    def idle(self) -> None:
        # A blocking connection answers heartbeats only when called: without this, an idle
        # relay would be disconnected by the broker.
        if self.connection is not None and self.connection.is_open:
            self.connection.process_data_events(time_limit=0)

    def close(self) -> None:
        connection, self.connection, self.channel = self.connection, None, None
        if connection is not None and connection.is_open:
            # Closing a broken connection: nothing is left to do if that fails too.
            with contextlib.suppress(pika.exceptions.AMQPError):
                connection.close()


def pika_parameters(broker: PikaBroker) -> pika.connection.Parameters:
    """Rasa takes a host or an ``amqp(s)://`` URL in ``url``."""
    if broker.host.startswith(("amqp://", "amqps://")):
        return pika.URLParameters(broker.host)
    return pika.ConnectionParameters(
        host=broker.host,
        port=broker.port,
        credentials=pika.PlainCredentials(broker.username, broker.password),
        connection_attempts=1,
        socket_timeout=CONNECT_TIMEOUT,
        blocked_connection_timeout=CONFIRM_TIMEOUT,
    )


class KafkaPublisher:
    """Kafka with ``acks=all``: a send counts once the future resolved. Untested against a
    real broker here (none installs on this machine); see README."""

    def __init__(self, broker: KafkaBroker) -> None:
        self.broker = broker
        self.producer: Any = None

    def connect(self) -> None:
        import kafka  # here: its import is slow and noisy, and only a kafka relay needs it

        self.producer = kafka.KafkaProducer(**kafka_producer_settings(self.broker))

    def publish(self, *, message_id: int, sender_id: str, body: str) -> None:
        from kafka.errors import InvalidRecordError, MessageSizeTooLargeError

        record = kafka_record(self.broker, message_id=message_id, sender_id=sender_id, body=body)
        try:
            self.producer.send(**record).get(timeout=CONFIRM_TIMEOUT)
        except (MessageSizeTooLargeError, InvalidRecordError) as exc:
            raise MessageRejected(f"refused by Kafka: {exc}") from None

    def idle(self) -> None:
        pass

    def close(self) -> None:
        producer, self.producer = self.producer, None
        if producer is not None:
            producer.close(timeout=CONNECT_TIMEOUT)


def kafka_producer_settings(broker: KafkaBroker) -> dict[str, Any]:
    """The producer's settings from Rasa's keys."""
    settings: dict[str, Any] = {
        "bootstrap_servers": list(broker.bootstrap_servers),
        "client_id": broker.client_id or "convapi",
        "security_protocol": broker.security_protocol,
        "acks": "all",
        # One request in flight per partition: a retried send cannot overtake the next.
        "max_in_flight_requests_per_connection": 1,
        "request_timeout_ms": int(CONFIRM_TIMEOUT * 1000),
    }
    if broker.security_protocol.startswith("SASL"):
        settings |= {
            "sasl_mechanism": broker.sasl_mechanism,
            "sasl_plain_username": broker.sasl_username,
            "sasl_plain_password": broker.sasl_password,
        }
    if broker.security_protocol.endswith("SSL"):
        settings |= {
            "ssl_cafile": broker.ssl_cafile,
            "ssl_certfile": broker.ssl_certfile,
            "ssl_keyfile": broker.ssl_keyfile,
            "ssl_check_hostname": broker.ssl_check_hostname,
        }
    return settings


def kafka_record(broker: KafkaBroker, *, message_id: int, sender_id: str, body: str) -> dict:
    """One ``send``'s arguments: the outbox id in a header, the sender as the key when
    ``partition_by_sender`` (so a conversation's events stay in one partition, in order)."""
    return {
        "topic": broker.topic,
        "value": body.encode(),
        "key": sender_id.encode() if broker.partition_by_sender else None,
        "headers": [("message_id", str(message_id).encode())],
    }


class SqlPublisher:
    """Rows of a table ``events`` (id, sender_id, data), the id being the outbox id, so a
    message published twice is stored once."""

    def __init__(self, broker: SqlBroker) -> None:
        self.broker = broker
        self.engine: sqlalchemy.Engine | None = None
        self.table = sql_events_table()

    def connect(self) -> None:
        engine = sqlalchemy.create_engine(sql_url(self.broker), pool_pre_ping=True)
        try:
            self.table.metadata.create_all(engine)  # only when missing
        except Exception:
            engine.dispose()
            raise
        self.engine = engine

    def publish(self, *, message_id: int, sender_id: str, body: str) -> None:
        row = {"id": message_id, "sender_id": sender_id, "data": body}
        try:
            with self.engine.begin() as connection:
                connection.execute(self.table.insert().values(**row))
        except sql_errors.IntegrityError as exc:
            if not self._stored(message_id):
                raise MessageRejected(f"refused by the events table: {exc.orig}") from None
        except sql_errors.DataError as exc:
            raise MessageRejected(f"refused by the events table: {exc.orig}") from None

    def _stored(self, message_id: int) -> bool:
        """A re-sent message (a relay that stopped between insert and delete) is there."""
        query = sqlalchemy.select(self.table.c.id).where(self.table.c.id == message_id)
        with self.engine.connect() as connection:
            return connection.execute(query).first() is not None

    def idle(self) -> None:
        pass

    def close(self) -> None:
        engine, self.engine = self.engine, None
        if engine is not None:
            engine.dispose()


def sql_events_table() -> sqlalchemy.Table:
    """Rasa's ``events`` table."""
    metadata = sqlalchemy.MetaData()
    return sqlalchemy.Table(
        "events",
        metadata,
        sqlalchemy.Column("id", sqlalchemy.BigInteger, primary_key=True, autoincrement=False),
        sqlalchemy.Column("sender_id", sqlalchemy.String(255)),
        sqlalchemy.Column("data", sqlalchemy.Text),
    )


def sql_url(broker: SqlBroker) -> sqlalchemy.URL:
    """Rasa's dialect names; PostgreSQL is reached with psycopg 3 (the driver installed)."""
    dialect = broker.dialect
    if dialect in ("postgresql", "postgres"):
        dialect = "postgresql+psycopg"
    return sqlalchemy.URL.create(
        dialect,
        username=broker.username,
        password=broker.password,
        host=broker.host,
        port=broker.port,
        database=broker.db,
    )
