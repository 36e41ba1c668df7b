"""The Celery app; settings come from Django's (CELERY_* names).

Without ``CELERY_BROKER_URL`` every task runs eagerly in the calling process; with one,
``celery -A config worker -B`` runs the tasks and the periodic ones (settings'
``CELERY_BEAT_SCHEDULE``: stale-job reaper, overdue reminders, model server pulls).
"""

from __future__ import annotations

import os

from celery import Celery
from celery.signals import worker_ready

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("convapi")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@worker_ready.connect
def _recover_on_start(**kwargs) -> None:
    """A worker that starts after a crash picks up what the dead one left running."""
    from jobs.tasks import reap_stale_jobs
    from trackers.tasks import fire_due_reminders

    reap_stale_jobs.delay()
    fire_due_reminders.delay()
