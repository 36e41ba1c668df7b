"""Conversation locks: one turn at a time per conversation, across processes and hosts.

A lock is a lease with an expiry, held in a lock store, never a database transaction:
a turn takes it, reads the tracker, runs its actions (HTTP calls to the action server
that may take seconds) with no transaction or row lock open, and appends its events in
one short transaction. A crashed holder blocks its conversation for at most
``CONVAPI_LOCK_LIFETIME_SECONDS``.

Expiry alone cannot keep a slow turn from writing after its lease ran out and another
turn took over, so appends are fenced: ``trackers.store.events_persist`` updates the
conversation only where its event count is still the one the turn read. A turn whose
lock expired and whose conversation moved on meanwhile stores nothing and answers 409.

Two stores: Redis (``CONVAPI_LOCK_STORE=redis://...``), where a waiter sleeps in a
blocking pop until the holder hands the lock on; or, with no setting, a table of the
database, polled with a growing pause, for the one-box set-up.
"""

from __future__ import annotations

import random
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from datetime import timedelta
from functools import cache
from typing import Protocol

import redis
from django.conf import settings
from django.db import connection
from django.utils import timezone

from engine.errors import conversation_busy, lock_store_unavailable
from jobs.metrics import LOCK_TIMEOUTS, lock_wait_measured
from jobs.stages import stage
from trackers.models import ConversationLock


class LockStore(Protocol):
    def acquire(self, key: str, *, lifetime: float, wait: float) -> str | None:
        """A token for the lock, or None when another holder kept it ``wait`` seconds."""

    def release(self, key: str, token: str) -> None:
        """Give the lock up if ``token`` still holds it (an expired lease is not released)."""


class DatabaseLockStore:
    """Leases in the ``ConversationLock`` table: works on any database, polls while waiting."""

    FIRST_PAUSE = 0.002
    LONGEST_PAUSE = 0.02

    def acquire(self, key: str, *, lifetime: float, wait: float) -> str | None:
        deadline = time.monotonic() + wait
        pause = self.FIRST_PAUSE
        while True:
            token = self._take(key, lifetime)
            if token is not None:
                return token
            if time.monotonic() >= deadline:
                return None
            time.sleep(pause * random.uniform(0.5, 1.0))  # noqa: S311 - jitter, not secrets
            pause = min(pause * 2, self.LONGEST_PAUSE)

    def _take(self, key: str, lifetime: float) -> str | None:
        """One statement: a new lease, or the expired lease of a holder that never released."""
        token = uuid.uuid4().hex
        now = timezone.now()
        fields = [ConversationLock._meta.get_field(name) for name in ("sender_id", "token")]
        expires = ConversationLock._meta.get_field("expires_at")
        quote = connection.ops.quote_name
        table = quote(ConversationLock._meta.db_table)
        key_column, token_column = (quote(field.column) for field in fields)
        expires_column = quote(expires.column)
        with connection.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {table} ({key_column}, {token_column}, {expires_column}) "
                f"VALUES (%s, %s, %s) ON CONFLICT ({key_column}) DO UPDATE SET "
                f"{token_column} = excluded.{token_column}, "
                f"{expires_column} = excluded.{expires_column} "
                f"WHERE {table}.{expires_column} <= %s",
                [
                    key,
                    token,
                    expires.get_db_prep_value(now + timedelta(seconds=lifetime), connection),
                    expires.get_db_prep_value(now, connection),
                ],
            )
            return token if cursor.rowcount == 1 else None

    def release(self, key: str, token: str) -> None:
        ConversationLock.objects.filter(sender_id=key, token=token).delete()


# Release and hand-over in one step: only the holder's token deletes the lock, and one
# waiter blocked on the wake-up list is woken (the list keeps at most one wake-up).
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
    redis.call('DEL', KEYS[1])
    redis.call('LPUSH', KEYS[2], '1')
    redis.call('LTRIM', KEYS[2], 0, 0)
    redis.call('PEXPIRE', KEYS[2], ARGV[2])
    return 1
end
return 0
"""


class RedisLockStore:
    """``SET NX PX`` leases in Redis; waiters block on a wake-up list instead of polling.

    Polling costs CPU in every waiting thread of every worker; a blocking pop costs none,
    and Redis wakes the waiters in the order they started waiting.
    """

    # A waiter also retries this often, in case the holder died without handing over.
    LONGEST_BLOCK = 0.5

    def __init__(self, url: str, namespace: str) -> None:
        self.client = redis.Redis.from_url(url, socket_timeout=self.LONGEST_BLOCK + 5)
        self.namespace = namespace
        self.release_script = self.client.register_script(_RELEASE)

    def key_names(self, key: str) -> tuple[str, str]:
        return f"{self.namespace}:lock:{key}", f"{self.namespace}:wake:{key}"

    def acquire(self, key: str, *, lifetime: float, wait: float) -> str | None:
        lock_key, wake_key = self.key_names(key)
        token = uuid.uuid4().hex
        deadline = time.monotonic() + wait
        milliseconds = max(int(lifetime * 1000), 1)
        while True:
            if self.client.set(lock_key, token, nx=True, px=milliseconds):
                return token
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            # At least 10 ms: Redis reads a tiny float such as 1e-09 as no number at all.
            self.client.blpop([wake_key], timeout=max(min(left, self.LONGEST_BLOCK), 0.01))

    def release(self, key: str, token: str) -> None:
        lock_key, wake_key = self.key_names(key)
        lifetime_ms = max(int(settings.CONVAPI_LOCK_LIFETIME_SECONDS * 1000), 1)
        self.release_script(keys=[lock_key, wake_key], args=[token, lifetime_ms])


@cache
def _lock_store(url: str, namespace: str) -> LockStore:
    return RedisLockStore(url, namespace) if url else DatabaseLockStore()


def lock_store() -> LockStore:
    """The configured store. Redis keys are named after the database, whose conversations
    they lock, so two deployments (or test runs) sharing one Redis never block each other."""
    return _lock_store(settings.CONVAPI_LOCK_STORE, f"convapi:{connection.settings_dict['NAME']}")


@contextmanager
def conversation_locked(sender_id: str) -> Iterator[None]:
    """Hold the conversation's lock for the block; 409 after ``CONVAPI_LOCK_TIMEOUT_SECONDS``."""
    store = lock_store()
    try:
        with lock_wait_measured(), stage("lock_wait"):
            token = store.acquire(
                sender_id,
                lifetime=settings.CONVAPI_LOCK_LIFETIME_SECONDS,
                wait=settings.CONVAPI_LOCK_TIMEOUT_SECONDS,
            )
    except redis.RedisError:
        raise lock_store_unavailable() from None
    if token is None:
        LOCK_TIMEOUTS.inc()
        raise conversation_busy()
    try:
        yield
    finally:
        with stage("lock_release"), suppress(redis.RedisError):  # a lease left expires
            store.release(sender_id, token)
