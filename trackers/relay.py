"""The relay: publishes the outbox to the event broker, in id order, at least once.

Turns only INSERT outbox rows (``trackers/store.py``), so a broker that is down never
fails or slows one; the rows pile up and the relay publishes them when it is back.

Each batch runs in one transaction that first takes a PostgreSQL advisory lock (released
at its end): a second relay waits instead of publishing later rows beside the first, so
the rows of a conversation leave in order. SQLite has no such lock: one relay is assumed.
A row is deleted only after the broker confirmed it; a relay stopped between the two
publishes it again, which consumers see as a repeated ``message_id`` (the row id).
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass

from django.db import connection, transaction

from trackers.brokers import MessageRejected, Publisher
from trackers.outbox import outbox_pending, outbox_published, outbox_set_aside

logger = logging.getLogger(__name__)

# pg_advisory_xact_lock's key: any number no other code of this database uses.
RELAY_LOCK_KEY = 7_106_211_500
BATCH_SIZE = 200
POLL_SECONDS = 0.5
FIRST_BACKOFF_SECONDS = 0.5
MAX_BACKOFF_SECONDS = 30.0


class BrokerOutage(Exception):
    """``--once`` met a broker it could not reach: the rows stay in the outbox."""


@dataclass
class RelayCounts:
    published: int = 0
    set_aside: int = 0


class Relay:
    """The loop. ``stop`` (set by SIGTERM/SIGINT) ends it between two publishes."""

    def __init__(
        self,
        publisher: Publisher,
        *,
        stop: threading.Event | None = None,
        batch_size: int = BATCH_SIZE,
        poll_seconds: float = POLL_SECONDS,
        max_backoff: float = MAX_BACKOFF_SECONDS,
    ) -> None:
        self.publisher = publisher
        self.stop = stop or threading.Event()
        self.batch_size, self.poll_seconds, self.max_backoff = batch_size, poll_seconds, max_backoff
        self.counts = RelayCounts()
        self._connected = False
        self._outage_since: float | None = None
        self._backoff = FIRST_BACKOFF_SECONDS
        self._waiting_for_lock = False

    def run(self, *, once: bool = False) -> RelayCounts:
        """Publish until stopped; with ``once``, until the outbox is empty (BrokerOutage if
        the broker cannot be reached)."""
        try:
            while not self.stop.is_set():
                try:
                    published = self._step()
                    if not published and not once:  # nothing to do, or another relay's turn
                        self.publisher.idle()
                except Exception as exc:  # noqa: BLE001 - any failure is an outage: retry
                    self._outage(exc)
                    if once:
                        raise BrokerOutage(str(exc)) from exc
                    self.stop.wait(self._backoff)
                    self._backoff = min(self._backoff * 2, self.max_backoff)
                    continue
                if published == 0 and once:
                    break
                if not published:
                    self.stop.wait(self.poll_seconds)
        finally:
            self.publisher.close()
        return self.counts

    def _step(self) -> int | None:
        """Publish one batch; how many rows it took, None when another relay has the lock."""
        if not self._connected:
            self.publisher.connect()
            self._connected = True
            self._recovered()
        failure: Exception | None = None
        with transaction.atomic():
            if not _relay_lock():
                self._lock_busy()
                return None
            self._waiting_for_lock = False
            rows = outbox_pending(limit=self.batch_size)
            done: list[int] = []
            for message_id, sender_id, body in rows:
                if self.stop.is_set():
                    break
                try:
                    self.publisher.publish(message_id=message_id, sender_id=sender_id, body=body)
                except MessageRejected as exc:
                    self._set_aside(message_id, sender_id, str(exc))
                except Exception as exc:  # noqa: BLE001 - raised once the confirmed rows are gone
                    failure = exc
                    break
                else:
                    done.append(message_id)
            outbox_published(ids=done)  # in this transaction: it commits with the lock's end
        self.counts.published += len(done)
        if failure is not None:
            raise failure
        return len(rows)

    def _set_aside(self, message_id: int, sender_id: str, error: str) -> None:
        # The order of this conversation's events breaks here; the rest must still go.
        logger.error(
            "Event broker refused outbox event %s of %s (set aside, see the admin): %s",
            message_id,
            sender_id,
            error,
        )
        outbox_set_aside(id=message_id, error=error)
        self.counts.set_aside += 1

    def _outage(self, exc: Exception) -> None:
        self._connected = False
        self.publisher.close()
        if self._outage_since is None:  # once per outage, not once per row or retry
            self._outage_since = time.monotonic()
            logger.warning(
                "Event broker unavailable (%s: %s): turns keep writing to the outbox; "
                "retrying with backoff up to %.0f s",
                type(exc).__name__,
                exc,
                self.max_backoff,
            )

    def _recovered(self) -> None:
        self._backoff = FIRST_BACKOFF_SECONDS
        if self._outage_since is not None:
            seconds = time.monotonic() - self._outage_since
            logger.warning("Event broker reachable again after %.0f s: publishing", seconds)
            self._outage_since = None

    def _lock_busy(self) -> None:
        if not self._waiting_for_lock:
            logger.info("Another relay is publishing the outbox; this one waits")
            self._waiting_for_lock = True


def _relay_lock() -> bool:
    """Take the relay's lock until the transaction ends (PostgreSQL); True on SQLite."""
    if connection.vendor != "postgresql":
        return True
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_xact_lock(%s)", [RELAY_LOCK_KEY])
        return bool(cursor.fetchone()[0])
