"""The one place failures become HTTP answers (API.md section 2.1).

Services raise ``engine.errors.ServiceError`` (built by its named constructors); the DRF
exception handler and Django's 400/403/404/500 handlers below render every failure,
expected or not, as the same seven-key JSON body.
"""

from __future__ import annotations

import logging
import math
from typing import Any

from django.conf import settings
from django.core.exceptions import BadRequest, RequestDataTooBig, SuspiciousOperation
from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse, JsonResponse
from rest_framework import exceptions as drf_exceptions
from rest_framework.response import Response

from engine import errors
from engine.errors import ServiceError

logger = logging.getLogger(__name__)


class RejectedPath(BadRequest):
    """A path segment a converter refused (a conversation id too long, or holding NUL).

    Django turns ``BadRequest`` raised while resolving into ``handler400``, which renders
    the carried error: the same 400 body a view would have sent.
    """

    def __init__(self, error: ServiceError) -> None:
        super().__init__(error.message)
        self.error = error


def is_lock_timeout(exc: Exception) -> bool:
    """PostgreSQL's lock_timeout (SQLSTATE 55P03) or SQLite's busy timeout."""
    cause = exc.__cause__
    return getattr(cause, "sqlstate", None) == "55P03" or "database is locked" in str(exc)


# Rasa's reasons for the statuses DRF itself raises (parse errors, auth, methods).
_DRF_REASONS = {
    400: "BadRequest",
    401: "NotAuthenticated",
    403: "NotAuthorized",
    404: "NotFound",
    405: "MethodNotAllowed",
    406: "NotAcceptable",
    412: "PreconditionFailed",
    415: "UnsupportedMediaType",
    429: "TooManyRequests",
}


def as_service_error(exc: Exception) -> ServiceError | None:
    """The error body an exception stands for; None for a bug (rendered as a 500)."""
    if isinstance(exc, ServiceError):
        return exc
    if isinstance(exc, drf_exceptions.Throttled):
        retry_after = max(1, math.ceil(exc.wait or 1))
        return errors.too_many_requests(
            f"Too many requests from this client. Retry in {retry_after} s.", retry_after
        )
    if isinstance(exc, drf_exceptions.APIException):
        detail = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
        status = exc.status_code
        return ServiceError(status, _DRF_REASONS.get(status, "BadRequest"), detail)
    if isinstance(exc, OperationalError) and is_lock_timeout(exc):
        return errors.conversation_busy()
    if isinstance(exc, OperationalError | InterfaceError):
        return errors.database_unavailable()
    if isinstance(exc, RecursionError):
        # A parser (DRF's JSON parser on /auth/*) gave up on a deeply nested body.
        return errors.bad_request("The request body is nested too deeply to read.", parameter="")
    if isinstance(exc, RequestDataTooBig):
        return body_too_large()
    if isinstance(exc, SuspiciousOperation):
        return errors.bad_request(f"The request was refused: {exc}", parameter="")
    return None


def body_too_large() -> ServiceError:
    # Django's RequestDataTooBig names its own setting; ours is CONVAPI_MAX_BODY_BYTES.
    return errors.payload_too_large("CONVAPI_MAX_BODY_BYTES", settings.DATA_UPLOAD_MAX_MEMORY_SIZE)


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response:
    """DRF's hook: every exception a view raises leaves through here."""
    error = as_service_error(exc)
    if error is None:
        view = context.get("view")
        logger.exception("Unexpected error in %s", type(view).__name__ if view else "a view")
        error = errors.unexpected_error()
    return Response(error.body(), status=error.status, headers=error.headers)


def json_error_response(error: ServiceError) -> JsonResponse:
    response = JsonResponse(error.body(), status=error.status)
    for name, value in error.headers.items():
        response[name] = value
    return response


def handler400(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    if isinstance(exception, RejectedPath):
        return json_error_response(exception.error)
    if isinstance(exception, RequestDataTooBig):  # read first by a middleware
        return json_error_response(body_too_large())
    return json_error_response(errors.bad_request("Bad request."))


def handler403(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    return json_error_response(errors.not_authorized("Forbidden."))


def handler404(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    return json_error_response(errors.not_found(f"No route for {request.method} {request.path}."))


def handler500(request: HttpRequest) -> JsonResponse:
    return json_error_response(errors.unexpected_error())


def lockout_response(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
    """django-axes' answer once a login is locked out: JSON for the API, text for the admin."""
    message = "Too many failed logins. Try again later."
    if request.path.startswith("/admin"):
        return HttpResponse(message, status=429, content_type="text/plain")
    return json_error_response(errors.too_many_requests(message, retry_after=900))
