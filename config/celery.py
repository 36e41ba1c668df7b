"""The Celery app; settings come from Django's (CELERY_* names).

Without ``CELERY_BROKER_URL`` every task runs eagerly in the calling process. With one,
tasks go to two queues (settings' ``CELERY_TASK_ROUTES``), each with workers of its own,
so a due reminder never waits behind a training; beat, once per deployment, sends the
periodic tasks (``CELERY_BEAT_SCHEDULE``: stale-job reaper, overdue reminders, model
server pulls, retention)::

    celery -A config worker -Q training --concurrency 2   # trainings, tests, retention
    celery -A config worker -Q realtime --concurrency 4   # reminders, callbacks, pulls, reaper
    celery -A config beat

A worker started without ``-Q`` consumes both queues.
"""

from __future__ import annotations

import logging
import os
from contextvars import ContextVar, Token

from celery import Celery, Task
from celery.signals import (
    after_setup_logger,
    after_setup_task_logger,
    before_task_publish,
    task_postrun,
    task_prerun,
    worker_ready,
)

from jobs.log_context import (
    LogContextFilter,
    current_conversation_id,
    current_request_id,
    log_context_bind,
    log_context_restore,
    log_formatter,
)

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


# Message headers naming the request (and conversation) that enqueued a task.
REQUEST_ID_HEADER = "convapi_request_id"
CONVERSATION_ID_HEADER = "convapi_conversation_id"
# The log context a running task restores when it ends, by task id.
_task_log_contexts: dict[str, list[tuple[ContextVar[str], Token[str]]]] = {}


@before_task_publish.connect
def _task_carries_log_context(headers: dict | None = None, **kwargs) -> None:
    """A task sent while a request (or a task) runs logs with its request id."""
    if headers is None:
        return
    if current_request_id():
        headers[REQUEST_ID_HEADER] = current_request_id()
    if current_conversation_id():
        headers[CONVERSATION_ID_HEADER] = current_conversation_id()


@task_prerun.connect
def _task_log_context_bind(task_id: str, task: Task, **kwargs) -> None:
    # An eager task has no such headers: it runs inside its request and logs with it.
    request_id = task.request.get(REQUEST_ID_HEADER)
    conversation_id = task.request.get(CONVERSATION_ID_HEADER)
    if request_id or conversation_id:
        _task_log_contexts[task_id] = log_context_bind(
            request_id=request_id or "", conversation_id=conversation_id or ""
        )


@task_postrun.connect
def _task_log_context_restore(task_id: str, **kwargs) -> None:
    log_context_restore(_task_log_contexts.pop(task_id, []))


@after_setup_logger.connect
@after_setup_task_logger.connect
def _worker_logs_like_the_web(logger: logging.Logger, **kwargs) -> None:
    """Celery replaces Django's log handlers in a worker: its lines get the same format
    (CONVAPI_LOG_FORMAT) and request and conversation ids as the web's."""
    from django.conf import settings

    formatter = log_formatter(json_lines=settings.CONVAPI_LOG_FORMAT == "json")
    for handler in logger.handlers:
        handler.addFilter(LogContextFilter())
        handler.setFormatter(formatter)
