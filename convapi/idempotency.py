"""``Idempotency-Key`` on the routes that append to a conversation (API.md section 13).

A retry with the same key and body gets the first response again and stores nothing new;
while the first request still runs, a retry waits for it (then answers 409 with
``Retry-After``); the same key with another body is 422. Keys are scoped to the caller's
credentials and the path, and expire after ``CONVAPI_IDEMPOTENCY_TTL_SECONDS``.
"""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Callable
from datetime import datetime, timedelta

from django.conf import settings
from django.db import DatabaseError, IntegrityError, transaction
from django.http import HttpRequest, HttpResponse
from django.utils import timezone

from convapi.errors import json_error_response
from convapi.models import IdempotentRequest
from engine.errors import bad_request, conflict, database_unavailable, unprocessable
from jobs.retention import rows_delete_in_batches

HEADER = "Idempotency-Key"
ROUTES = re.compile(
    r"^/(conversations/.+/(tracker/events|messages|respond)|webhooks/rest/webhook)$"
)
RUNNING_LEASE = timedelta(minutes=5)
POLL_SECONDS = 0.05


def _digest(*parts: str | bytes) -> str:
    hasher = hashlib.sha256()
    for part in parts:
        hasher.update(part.encode() if isinstance(part, str) else part)
        hasher.update(b"\0")
    return hasher.hexdigest()


def _scope(request: HttpRequest) -> str:
    credentials = request.GET.get("token", "") + "|" + request.headers.get("Authorization", "")
    return _digest(credentials, request.path)


def _replay(record: IdempotentRequest) -> HttpResponse:
    response = HttpResponse(
        bytes(record.content), status=record.status, content_type=record.content_type
    )
    response["Idempotent-Replayed"] = "true"
    return response


def _expired_before() -> datetime:
    """Keys first used before this are forgotten: a request with one runs anew."""
    return timezone.now() - timedelta(seconds=settings.CONVAPI_IDEMPOTENCY_TTL_SECONDS)


def idempotent_requests_prune(*, batch_size: int) -> int:
    """Delete the expired keys and their stored responses (retention); how many."""
    expired = IdempotentRequest.objects.filter(created__lt=_expired_before())
    return rows_delete_in_batches(expired, batch_size=batch_size)[IdempotentRequest._meta.label]


def _claim(scope: str, key: str, body_hash: str) -> IdempotentRequest | None:
    """Take the key for this request; None if another request holds or used it."""
    now = timezone.now()
    IdempotentRequest.objects.filter(scope=scope, key=key, created__lt=_expired_before()).delete()
    # A request that died while running leaves its lease behind: take it over.
    IdempotentRequest.objects.filter(
        scope=scope, key=key, status__isnull=True, running_until__lt=now
    ).delete()
    try:
        with transaction.atomic():
            return IdempotentRequest.objects.create(
                scope=scope, key=key, body_hash=body_hash, running_until=now + RUNNING_LEASE
            )
    except IntegrityError:
        return None


def _wait_for_first(scope: str, key: str, body_hash: str) -> HttpResponse:
    deadline = time.monotonic() + settings.CONVAPI_IDEMPOTENCY_WAIT_SECONDS
    while True:
        record = IdempotentRequest.objects.filter(scope=scope, key=key).first()
        if record is not None and record.body_hash != body_hash:
            return json_error_response(
                unprocessable(f"The {HEADER} was already used with another request body.")
            )
        if record is not None and record.status is not None:
            return _replay(record)
        if record is None or time.monotonic() > deadline:
            return json_error_response(
                conflict(
                    f"A request with this {HEADER} is still being processed. Retry later.",
                    retry_after=1,
                )
            )
        time.sleep(POLL_SECONDS)


def _finish(record: IdempotentRequest, response: HttpResponse) -> None:
    if response.streaming or response.status_code >= 500 or response.status_code == 429:
        # Nothing to replay: a retry should run again (after a 429's Retry-After too).
        record.delete()
        return
    record.status = response.status_code
    record.content_type = response.get("Content-Type", "")
    record.content = response.content
    record.running_until = None
    record.save(update_fields=["status", "content_type", "content", "running_until"])


class IdempotencyMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        key = request.headers.get(HEADER)
        if not key or request.method != "POST" or not ROUTES.match(request.path):
            return self.get_response(request)
        if len(key) > 255:
            return json_error_response(bad_request(f"The {HEADER} is longer than 255 characters."))
        try:
            body_hash = _digest(request.body)
        except Exception:  # noqa: BLE001 - an unreadable body is the view's error to report
            return self.get_response(request)
        scope = _scope(request)
        try:
            record = _claim(scope, key, body_hash)
            if record is None:
                return _wait_for_first(scope, key, body_hash)
        except DatabaseError:
            return json_error_response(database_unavailable())
        try:
            response = self.get_response(request)
        except BaseException:
            record.delete()
            raise
        _finish(record, response)
        return response
