"""Delivering a job's result to its ``callback_url``: one ``CallbackAttempt`` row per POST.

The body is what the synchronous route would have answered (the archive with its
``filename`` header, the JSON report) or, when the job failed, Rasa's error body with its
``code``. The HTTP client has a timeout, reads no proxy or netrc settings from the
environment, follows redirects only to the same origin, and sends nothing of ours
(never the server's auth token): only the URL the client gave.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

import requests
from django.conf import settings
from django.db import IntegrityError, transaction

from jobs.kinds import job_kind
from jobs.metrics import CALLBACK_ATTEMPTS
from jobs.models import CallbackAttempt, Job

MAX_REDIRECTS = 3
CONNECT_TIMEOUT_SECONDS = 5.0
# Worth another try later: the receiver is down, overloaded or asks us to slow down.
RETRY_STATUSES = {408, 425, 429}


@dataclass(frozen=True)
class Delivery:
    """What ``callback_deliver`` did: ``retry_in`` seconds when another attempt is due."""

    status: str
    retry_in: float | None = None


def callback_payload(job: Job) -> tuple[bytes, dict[str, str]]:
    if job.status == Job.Status.FAILED:
        return json.dumps(job.error).encode(), {"Content-Type": "application/json"}
    if job.result_file:
        path = job_kind(job.kind).local_result_file(job)
        return path.read_bytes(), {
            "Content-Type": "application/x-tar",
            "filename": path.name,
            "Content-Disposition": f'attachment; filename="{path.name}"',
        }
    return json.dumps(job.result).encode(), {"Content-Type": "application/json"}


def callback_deliver(*, job_id: str) -> Delivery:
    """Make the next delivery attempt of a finished job's result, if one is still due."""
    job = Job.objects.filter(pk=job_id).first()
    if job is None or not job.done or job.callback_status != Job.Callback.PENDING:
        return Delivery("nothing to do")
    number = job.callback_attempts.count() + 1
    if number > settings.CONVAPI_CALLBACK_ATTEMPTS:
        return Delivery(_mark(job, Job.Callback.UNDELIVERABLE))
    try:
        with transaction.atomic():
            # The row claims the attempt number: a duplicate task stops here.
            attempt = CallbackAttempt.objects.create(job=job, number=number)
    except IntegrityError:
        return Delivery("attempt in progress elsewhere")
    retry = _attempt(job, attempt)
    if attempt.delivered:
        CALLBACK_ATTEMPTS.labels("delivered").inc()
        return Delivery(_mark(job, Job.Callback.DELIVERED))
    if not retry or number >= settings.CONVAPI_CALLBACK_ATTEMPTS:
        CALLBACK_ATTEMPTS.labels("undeliverable").inc()
        return Delivery(_mark(job, Job.Callback.UNDELIVERABLE))
    CALLBACK_ATTEMPTS.labels("retrying").inc()
    return Delivery("retrying", retry_in=settings.CONVAPI_CALLBACK_BACKOFF * 2 ** (number - 1))


def _mark(job: Job, status: str) -> str:
    Job.objects.filter(pk=job.pk, callback_status=Job.Callback.PENDING).update(
        callback_status=status
    )
    return status


def _attempt(job: Job, attempt: CallbackAttempt) -> bool:
    """POST once and record the outcome on the attempt; whether a retry makes sense."""
    started = time.monotonic()
    retry = True
    try:
        body, headers = callback_payload(job)
        response = post_without_foreign_redirects(job.callback_url, body, headers)
        attempt.status_code = response.status_code
        attempt.delivered = 200 <= response.status_code < 300
        retry = response.status_code >= 500 or response.status_code in RETRY_STATUSES
        if not attempt.delivered:
            attempt.error = f"HTTP {response.status_code}: {response.text[:500]}"
    except requests.RequestException as exc:
        attempt.error = f"{type(exc).__name__}: {exc}"[:2000]
    except OSError as exc:  # the archive is gone: no later attempt will find it either
        attempt.error = f"Could not read the result: {exc}"
        retry = False
    attempt.duration_ms = int((time.monotonic() - started) * 1000)
    attempt.save(update_fields=["status_code", "delivered", "error", "duration_ms"])
    return retry


def post_without_foreign_redirects(
    url: str, body: bytes, headers: dict[str, str]
) -> requests.Response:
    """POST ``body``; a 307/308 to the same scheme, host and port is followed, no other."""
    with requests.Session() as session:
        session.trust_env = False  # no proxy, no ~/.netrc credentials
        for _ in range(MAX_REDIRECTS + 1):
            response = session.post(
                url,
                data=body,
                headers=headers,
                timeout=(CONNECT_TIMEOUT_SECONDS, settings.CONVAPI_CALLBACK_TIMEOUT),
                allow_redirects=False,
            )
            target = response.headers.get("Location")
            if response.status_code not in (307, 308) or not target:
                return response
            target = urljoin(url, target)
            if _origin(target) != _origin(url):
                return response  # recorded as not delivered: we do not follow it
            url = target
        return response


def _origin(url: str) -> tuple[str, str | None, int | None]:
    parts = urlsplit(url)
    return parts.scheme, parts.hostname, parts.port
