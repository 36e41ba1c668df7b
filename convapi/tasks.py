"""The periodic retention task: the same pruning as ``manage.py prune``."""

from __future__ import annotations

from celery import shared_task

from convapi.retention import retention_prune


# Every batch commits on its own: a run cut by its time limit loses nothing, and the
# next one carries on where it stopped.
@shared_task(soft_time_limit=1800, time_limit=1860)
def prune() -> dict[str, int]:
    return retention_prune()
