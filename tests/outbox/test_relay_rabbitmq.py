"""With a real RabbitMQ: two ``manage.py relay_events`` processes publish every event of a
scripted conversation, in order, with ids; the broker stops mid-run, turns go on (their
events pile up in the outbox), and once it is back the consumer gets the rest, in order."""

from __future__ import annotations

import json
import socket
import subprocess
import uuid
from collections import defaultdict

import pika
import pika.exceptions
import pytest

from tests.outbox.conftest import RABBITMQ, relay_log, say, stored_messages, wait_until
from trackers.models import OutboxEvent


def rabbitmq_up() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 5672), timeout=2):
            return True
    except OSError:
        return False


pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.slow,
    pytest.mark.usefixtures("open_auth", "trained_initbot"),
    pytest.mark.skipif(not rabbitmq_up(), reason="needs RabbitMQ on 127.0.0.1:5672"),
]


class Consumer:
    """Reads a test queue bound to the test exchange, as a Rasa event consumer would."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.received: list[tuple[int, dict, pika.BasicProperties]] = []
        self.connection: pika.BlockingConnection | None = None

    def channel(self):
        if self.connection is None or not self.connection.is_open:
            credentials = pika.PlainCredentials(RABBITMQ["username"], RABBITMQ["password"])
            self.connection = pika.BlockingConnection(
                pika.ConnectionParameters("127.0.0.1", 5672, credentials=credentials)
            )
            self._channel = self.connection.channel()
            self._channel.exchange_declare(self.name, exchange_type="fanout", durable=True)
            self._channel.queue_declare(self.name, durable=True)
            self._channel.queue_bind(self.name, self.name)
        return self._channel

    def drain(self) -> int:
        """Take what is queued; the broker may be down or starting (then nothing)."""
        try:
            channel = self.channel()
            while True:
                method, properties, body = channel.basic_get(self.name, auto_ack=True)
                if method is None:
                    return len(self.received)
                self.received.append((int(properties.message_id), json.loads(body), properties))
        except pika.exceptions.AMQPError:
            self.connection = None
            return len(self.received)

    def delete(self) -> None:
        channel = self.channel()
        channel.queue_delete(self.name)
        channel.exchange_delete(self.name)
        self.connection.close()

    def by_conversation(self) -> dict[str, list[tuple[int, dict]]]:
        """Each conversation's messages once (deduplicated by message id), as received."""
        seen: set[int] = set()
        conversations: dict[str, list[tuple[int, dict]]] = defaultdict(list)
        for message_id, message, _ in self.received:
            if message_id not in seen:
                seen.add(message_id)
                conversations[message["sender_id"]].append((message_id, message))
        return conversations


def rabbitmqctl(command: str) -> None:
    subprocess.run(["rabbitmqctl", command], check=True, capture_output=True, timeout=120)


def all_received(consumer: Consumer, senders: list[str]) -> bool:
    consumer.drain()
    got = consumer.by_conversation()
    return all(len(got[sender]) == len(stored_messages(sender)) for sender in senders)


def test_it_publishes_every_event_in_order_through_an_outage(
    client, broker_endpoints, relay_process
):
    name = f"convapi-test-{uuid.uuid4().hex[:8]}"
    endpoints = broker_endpoints(
        {"type": "pika", **RABBITMQ, "exchange_name": name, "queues": [name]}
    )
    relays = [relay_process(endpoints, "--max-backoff", "1") for _ in range(2)]
    consumer = Consumer(name)
    consumer.drain()  # the queue exists before the first event
    senders = ["ann", "bob", "cy"]
    try:
        for text in ("hello", "I am very sad"):
            for sender in senders:
                say(client, sender, text)
        wait_until(lambda: all_received(consumer, senders), what="the events before the outage")
        # A relay deletes its rows once the broker confirmed them, which may come just after
        # the consumer got them.
        wait_until(lambda: OutboxEvent.objects.count() == 0, what="the published rows deleted")

        rabbitmqctl("stop_app")
        try:
            before = {sender: len(stored_messages(sender)) for sender in senders}
            for text in ("yes", "bye"):
                for sender in senders:
                    say(client, sender, text)  # the broker is down: the turn still succeeds
            added = sum(len(stored_messages(sender)) - before[sender] for sender in senders)
            assert added > 0
            assert OutboxEvent.objects.filter(failed_at__isnull=True).count() == added
        finally:
            rabbitmqctl("start_app")

        wait_until(lambda: all_received(consumer, senders), what="the events after the outage")
        wait_until(lambda: OutboxEvent.objects.count() == 0, what="the outbox drained")
        got = consumer.by_conversation()
        for sender in senders:
            ids = [message_id for message_id, _ in got[sender]]
            assert ids == sorted(ids), f"{sender}'s events out of order"
            assert [message for _, message in got[sender]] == stored_messages(sender)
        properties = consumer.received[0][2]
        assert (properties.delivery_mode, properties.content_type) == (2, "application/json")
        logs = [relay_log(relay) for relay in relays]
        outage_lines = [log.count("Event broker unavailable") for log in logs]
        assert max(outage_lines) == 1, logs  # once per outage, not once per row or retry
    finally:
        consumer.delete()
    for relay in relays:
        relay.terminate()
        assert relay.wait(timeout=30) == 0, relay_log(relay)
