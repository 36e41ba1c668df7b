"""The Celery app for test workers: ``config``'s app, with this test run's key prefix.

``celery -A tests.jobs.worker_app worker`` runs exactly what ``-A config`` runs, plus one
kind of job only tests submit (a training held until released), except that every Redis
key it reads or writes (queues, unacked messages, beat's messages) starts with
``$CONVAPI_TEST_BROKER_KEYPREFIX``: two test runs sharing one Redis (CI's
``redis://127.0.0.1:6379/15``) never see, steal or purge each other's messages.
"""

from __future__ import annotations

import os
import time

from celery.signals import worker_init

from config.celery import app

BROKER_KEYPREFIX_VARIABLE = "CONVAPI_TEST_BROKER_KEYPREFIX"

# A training that, once trained, keeps its worker busy until the test sets ``release`` in
# its parameters: tests/jobs/test_queues.py fills the training queue's worker with two
# and knows they are still running while it watches a reminder fire.
HELD_TRAINING = "held_training"
HELD_AT_MOST_SECONDS = 120  # a test that failed before releasing it frees the worker


def _held_training(job):
    from jobs.kinds import job_kind
    from jobs.models import Job

    outcome = job_kind("train").work(job)
    deadline = time.monotonic() + HELD_AT_MOST_SECONDS
    while not Job.objects.filter(pk=job.pk, params__release=True).exists():
        if time.monotonic() > deadline:
            raise RuntimeError("the test never released this training")
        time.sleep(0.05)
    return outcome


@worker_init.connect
def _register_held_training(**kwargs) -> None:
    import django

    django.setup()  # done already by Celery's Django fix-up; a no-op then
    from jobs.kinds import JobKind, job_kind_register

    job_kind_register(JobKind(HELD_TRAINING, _held_training, failure_reason="TrainingError"))


def use_key_prefix(celery_app, prefix: str) -> None:
    """Prefix every broker key of ``celery_app`` (kombu's ``global_keyprefix``)."""
    celery_app.conf.broker_transport_options = {
        **(celery_app.conf.broker_transport_options or {}),
        "global_keyprefix": prefix,
    }


if os.environ.get(BROKER_KEYPREFIX_VARIABLE):
    use_key_prefix(app, os.environ[BROKER_KEYPREFIX_VARIABLE])

__all__ = ["app"]
