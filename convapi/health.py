"""What ``GET /health`` reports: the database, the broker and the loaded model."""

from __future__ import annotations

from typing import Any

from celery import current_app
from django.conf import settings
from django.db import DatabaseError, connection

from serving.holder import current_assistant

BROKER_TIMEOUT_SECONDS = 2


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


def model_state() -> dict[str, Any]:
    assistant = current_assistant()
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
        "model": model_state(),
    }
    return not down, report
