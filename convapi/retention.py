"""Retention: what convapi forgets, and when. ``manage.py prune`` and a beat task run it.

Each kind of row is pruned by the app that owns it, in small batches by primary key
(``jobs.retention.rows_delete_in_batches``), so a prune never locks a table and can stop
anywhere: the next run carries on. Conversations are erased only when
``CONVAPI_CONVERSATION_RETENTION_DAYS`` is set, each through the GDPR erasure.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from axes.models import AccessAttempt, AccessFailureLog, AccessLog
from django.conf import settings
from django.utils import timezone

from convapi.idempotency import idempotent_requests_prune
from jobs.retention import jobs_prune, rows_delete_in_batches
from trackers.retention import (
    conversations_erase_inactive,
    outbox_set_aside_prune,
    reminders_prune,
)

BATCH_SIZE = 500


def retention_prune(*, batch_size: int = BATCH_SIZE) -> dict[str, int]:
    """Delete every kind of row past its retention; how many of each, by a readable name."""
    job_cutoff = _days_ago(settings.CONVAPI_JOB_RETENTION_DAYS)
    jobs, callback_attempts = jobs_prune(created_before=job_cutoff, batch_size=batch_size)
    counts = {
        "idempotency keys": idempotent_requests_prune(batch_size=batch_size),
        "jobs": jobs,
        "callback attempts": callback_attempts,
        "reminders": reminders_prune(finished_before=job_cutoff, batch_size=batch_size),
        "outbox events refused by the broker": outbox_set_aside_prune(
            failed_before=job_cutoff, batch_size=batch_size
        ),
        "login records": login_records_prune(
            before=_days_ago(settings.CONVAPI_LOGIN_RETENTION_DAYS), batch_size=batch_size
        ),
    }
    if settings.CONVAPI_CONVERSATION_RETENTION_DAYS is not None:
        erased, busy = conversations_erase_inactive(
            updated_before=_days_ago(settings.CONVAPI_CONVERSATION_RETENTION_DAYS),
            batch_size=batch_size,
        )
        counts["conversations erased"] = erased
        counts["conversations kept (busy)"] = busy
    return counts


def login_records_prune(*, before: datetime, batch_size: int) -> int:
    """Delete django-axes' login attempts and logs older than the cutoff; how many.

    The lockout counters live in ``AccessAttempt``: the settings refuse a retention
    shorter than the lockout, so no lockout in force is ever lifted by a prune.
    """
    deleted = 0
    for model in (AccessAttempt, AccessLog, AccessFailureLog):
        rows = model.objects.filter(attempt_time__lt=before)
        deleted += rows_delete_in_batches(rows, batch_size=batch_size)[model._meta.label]
    return deleted


def _days_ago(days: int) -> datetime:
    return timezone.now() - timedelta(days=days)
