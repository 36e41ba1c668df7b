"""The Celery app for test workers: ``config``'s app, with this test run's key prefix.

``celery -A tests.jobs.worker_app worker`` runs exactly what ``-A config`` runs, except
that every Redis key it reads or writes (queues, unacked messages, beat's messages)
starts with ``$CONVAPI_TEST_BROKER_KEYPREFIX``: two test runs sharing one Redis (CI's
``redis://127.0.0.1:6379/15``) never see, steal or purge each other's messages.
"""

from __future__ import annotations

import os

from config.celery import app

BROKER_KEYPREFIX_VARIABLE = "CONVAPI_TEST_BROKER_KEYPREFIX"


def use_key_prefix(celery_app, prefix: str) -> None:
    """Prefix every broker key of ``celery_app`` (kombu's ``global_keyprefix``)."""
    celery_app.conf.broker_transport_options = {
        **(celery_app.conf.broker_transport_options or {}),
        "global_keyprefix": prefix,
    }


if os.environ.get(BROKER_KEYPREFIX_VARIABLE):
    use_key_prefix(app, os.environ[BROKER_KEYPREFIX_VARIABLE])

__all__ = ["app"]
