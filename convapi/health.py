"""What ``GET /health`` and the probes ``/health/live`` and ``/health/ready`` report.

``/health`` names the database, the broker and the loaded model, as it always has.
``/health/ready`` is what an orchestrator routes traffic by: it fails also when no
Celery worker answers (jobs and reminders would wait forever) or no model is loaded
(every turn would be refused). ``/health/live`` checks nothing: the process answers.
"""

from __future__ import annotations

from typing import Any

from celery import current_app
from django.conf import settings
from django.db import DatabaseError, connection

from serving.holder import Assistant, current_assistant

BROKER_TIMEOUT_SECONDS = 2
# How long a readiness check waits for the first worker's answer to its ping.
WORKER_PING_TIMEOUT_SECONDS = 1.0


def database_state() -> str:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except DatabaseError as exc:
        return f"down: {exc.__class__.__name__}"
    return "ok"


def broker_state() -> str:
    """``eager`` when no broker is configured (tasks run in-process)."""
    if not settings.CELERY_BROKER_URL:
        return "eager"
    app = current_app  # the project's app (config.celery), made current when it loaded
    try:
        with app.connection_for_write(settings.CELERY_BROKER_URL) as conn:
            conn.ensure_connection(max_retries=1, timeout=BROKER_TIMEOUT_SECONDS)
    except Exception as exc:  # noqa: BLE001 - any failure to reach it means "down"
        return f"down: {exc.__class__.__name__}"
    return "ok"


def model_state(assistant: Assistant | None) -> dict[str, Any]:
    if assistant is None:
        return {"loaded": False}
    return {"loaded": True, "model_file": assistant.file_name, "model_id": assistant.model_id}


def health_report() -> tuple[bool, dict[str, Any]]:
    """Whether everything needed to serve is up, and each part's state."""
    database, broker = database_state(), broker_state()
    down = [
        name
        for name, state in (("database", database), ("broker", broker))
        if state.startswith("down")
    ]
    report = {
        "status": "ok" if not down else "failure",
        "down": down,
        "database": database,
        "broker": broker,
        "model": model_state(current_assistant()),
    }
    return not down, report


def workers_state() -> str:
    """``ok`` when at least one Celery worker answers a ping; ``eager`` without a broker."""
    if not settings.CELERY_BROKER_URL:
        return "eager"
    try:
        # limit=1: the first answer ends the wait; with no worker it lasts the whole timeout.
        replies = current_app.control.ping(timeout=WORKER_PING_TIMEOUT_SECONDS, limit=1)
    except Exception as exc:  # noqa: BLE001 - any failure to ask means no worker is known
        return f"down: {exc.__class__.__name__}"
    if not replies:
        return f"down: no worker answered a ping within {WORKER_PING_TIMEOUT_SECONDS:g} s"
    return "ok"


def readiness_report() -> tuple[bool, dict[str, Any]]:
    """Whether this server can take traffic: what ``health_report`` checks, at least one
    worker, and a trained model; each part's state, and which are down."""
    database, broker = database_state(), broker_state()
    workers = "down: the broker is down" if broker.startswith("down") else workers_state()
    assistant = current_assistant()
    down = [
        name
        for name, state in (("database", database), ("broker", broker), ("workers", workers))
        if state.startswith("down")
    ]
    if assistant is None or assistant.model is None:  # a domain alone cannot parse
        down.append("model")
    report = {
        "status": "ok" if not down else "failure",
        "down": down,
        "database": database,
        "broker": broker,
        "workers": workers,
        "model": model_state(assistant),
    }
    return not down, report
