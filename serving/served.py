"""Which model every process serves, and the model server a beat task polls for it.

One ``ServedModel`` row: ``PUT /model`` names a stored archive by its hash (serving/archives.py)
with a new choice token; every process compares that token on each request that needs the
model (serving/holder.py) and fetches the archive from the store when it changed.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from django.db import InterfaceError, OperationalError, connection, transaction
from django.db.models import F
from django.utils import timezone

from serving.models import ServedModel

SINGLETON = 1


def served_model_get() -> ServedModel | None:
    return ServedModel.objects.filter(pk=SINGLETON).first()


_CHOICE_SQL = f"SELECT choice FROM {ServedModel._meta.db_table} WHERE id = %s"


def served_model_choice() -> str | None:
    """The current choice token (None: nothing recorded): one primary-key read per request.

    Plain SQL: every request that needs the model asks, and building the ORM query costs
    about twice what the database takes to answer it.

    Being a request's first query, it is also the check of the connection kept from an
    earlier request, which ``CONN_HEALTH_CHECKS`` would make with a ``SELECT 1`` of its own
    (a round trip on every request): a kept connection the database dropped (a restart)
    fails this read, is closed, and the read runs again on a new one.
    """
    unchecked = (
        connection.connection is not None
        and connection.health_check_enabled
        and not connection.health_check_done
        and not connection.in_atomic_block
    )
    if unchecked:
        connection.health_check_done = True  # this read is the check
    try:
        return _choice_read()
    except (OperationalError, InterfaceError):
        if not unchecked:
            raise
        connection.close()
        return _choice_read()


def _choice_read() -> str | None:
    with connection.cursor() as cursor:
        cursor.execute(_CHOICE_SQL, [SINGLETON])
        row = cursor.fetchone()
    return row[0] if row else None


def served_model_choose(*, sha256: str | None) -> str:
    """Record the stored archive ``sha256`` (None = no model) as the model to serve; its token."""
    choice = uuid.uuid4().hex
    with transaction.atomic():
        ServedModel.objects.get_or_create(pk=SINGLETON)
        ServedModel.objects.filter(pk=SINGLETON).update(
            archive_id=sha256, version=F("version") + 1, choice=choice
        )
    return choice


def served_model_choose_first(*, sha256: str) -> None:
    """Choose ``sha256`` unless a model (or no model) was ever chosen: the start-up default."""
    with transaction.atomic():
        ServedModel.objects.get_or_create(pk=SINGLETON)
        ServedModel.objects.filter(pk=SINGLETON, choice="").update(
            archive_id=sha256, version=F("version") + 1, choice=uuid.uuid4().hex
        )


def served_model_poll(*, server: dict[str, Any] | None, every: float | None) -> None:
    """Remember a model server to pull from every ``every`` seconds (None/0: never again)."""
    next_pull = timezone.now() + timedelta(seconds=every) if server and every else None
    with transaction.atomic():
        ServedModel.objects.get_or_create(pk=SINGLETON)
        ServedModel.objects.filter(pk=SINGLETON).update(
            model_server=server if next_pull else None, next_pull=next_pull
        )


def served_model_claim_pull() -> dict[str, Any] | None:
    """The model server config when a pull is due, claimed so that one worker pulls."""
    now = timezone.now()
    row = ServedModel.objects.filter(pk=SINGLETON, next_pull__lte=now).first()
    if row is None or not row.model_server:
        return None
    every = float(row.model_server.get("wait_time_between_pulls") or 0)
    claimed = ServedModel.objects.filter(pk=SINGLETON, next_pull=row.next_pull).update(
        next_pull=now + timedelta(seconds=every) if every else None
    )
    return dict(row.model_server) if claimed else None


def served_model_note_etag(*, etag: str | None) -> None:
    """Keep the ETag of the pulled model, sent as ``If-None-Match`` next time."""
    with transaction.atomic():
        row = ServedModel.objects.select_for_update().filter(pk=SINGLETON).first()
        if row is not None and row.model_server:
            row.model_server = {**row.model_server, "etag": etag}
            row.save(update_fields=["model_server", "updated"])
