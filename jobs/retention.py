"""Retention: finished jobs and their callback attempts go once they are old enough.

Rows are deleted in small batches by primary key, each batch its own short transaction,
so pruning a year of rows never holds a lock on a whole table nor one long transaction
that the server's writes would queue behind.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime

from django.db import transaction
from django.db.models import QuerySet

from jobs.models import CallbackAttempt, Job


def rows_delete_in_batches(rows: QuerySet, *, batch_size: int) -> Counter[str]:
    """Delete ``rows`` (and what cascades from them), ``batch_size`` at a time.

    Counts deleted rows by model label (``"jobs.Job"``...). Only primary keys are read: a
    job's body may hold megabytes of training data that deleting it never needs.
    """
    if batch_size < 1:
        raise ValueError("batch_size: use 1 or more")
    deleted: Counter[str] = Counter()
    keys = rows.order_by("pk").values_list("pk", flat=True)
    while batch := list(keys[:batch_size]):
        # The conditions again: a row that changed since it was listed (a login attempt
        # failed once more) no longer qualifies.
        with transaction.atomic():
            _, by_model = rows.filter(pk__in=batch).only("pk").delete()
        deleted.update(by_model)
    return deleted


def jobs_prune(*, created_before: datetime, batch_size: int) -> tuple[int, int]:
    """Delete finished jobs created before the cutoff; (jobs, callback attempts) deleted.

    A queued or running job is kept however old: the reaper, not retention, settles it.
    """
    done = Job.objects.filter(
        created__lt=created_before, status__in=[Job.Status.SUCCEEDED, Job.Status.FAILED]
    )
    deleted = rows_delete_in_batches(done, batch_size=batch_size)
    return deleted[Job._meta.label], deleted[CallbackAttempt._meta.label]
