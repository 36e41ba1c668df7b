"""Celery tasks: thin wrappers that take ids and call a service.

Every task is ``acks_late`` (settings) and safe to run twice: the services claim their
row with a conditional UPDATE before doing anything.
"""

from __future__ import annotations

import logging
import time

from celery import shared_task
from django.conf import settings

from jobs import services
from jobs.callbacks import callback_deliver

logger = logging.getLogger(__name__)

_JOB_LIMIT = settings.CONVAPI_JOB_TIME_LIMIT


@shared_task(
    bind=True,
    soft_time_limit=max(_JOB_LIMIT - 60, 1),
    time_limit=_JOB_LIMIT,
    max_retries=100,
)
def run_job(self, job_id: str) -> None:
    try:
        services.job_run(job_id=job_id)
    except services.JobBusy:
        if self.request.is_eager:
            return  # the run that is alive is in this very process
        # A duplicate delivery while another run is alive: look again once it would be stale.
        raise self.retry(countdown=settings.CONVAPI_JOB_STALE_SECONDS) from None


@shared_task(bind=True, soft_time_limit=300, time_limit=360, max_retries=50)
def deliver_callbacks(self, job_ids: list[str]) -> str:
    """Deliver the jobs' callbacks one after the other, in the order given: a bot's messages
    reach a callback channel in the order it said them, a retry waiting for the first."""
    status = "nothing to do"
    for index, job_id in enumerate(job_ids):
        while True:
            delivery = callback_deliver(job_id=job_id)
            status = delivery.status
            if delivery.retry_in is None:
                break
            if not self.request.is_eager:
                raise self.retry(args=[job_ids[index:]], countdown=delivery.retry_in)
            time.sleep(delivery.retry_in)  # eager: no broker to hold the countdown
    return status


@shared_task(soft_time_limit=60, time_limit=90)
def reap_stale_jobs() -> int:
    return services.jobs_reap()
