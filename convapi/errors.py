"""The one error shape of the API (API.md section 2.1).

Services raise ``ApiError``; the DRF exception handler and Django's 400/403/404/500
handlers below render every failure, expected or not, as the same seven-key JSON body.
"""

from __future__ import annotations

import logging
from typing import Any

from django.core.exceptions import SuspiciousOperation
from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse, JsonResponse
from rest_framework import exceptions as drf_exceptions
from rest_framework.response import Response

import engine
from trackers.services import ConversationMoved

logger = logging.getLogger(__name__)


class ApiError(Exception):
    """An error the API reports to the client in Rasa's error format."""

    def __init__(
        self,
        status: int,
        reason: str,
        message: str,
        details: dict[str, Any] | None = None,
        help_url: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.reason = reason
        self.message = message
        self.details = details or {}
        self.help_url = help_url
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        return error_body(self.status, self.reason, self.message, self.details, self.help_url)


def error_body(
    status: int,
    reason: str,
    message: str,
    details: dict[str, Any] | None = None,
    help_url: str | None = None,
) -> dict[str, Any]:
    return {
        "version": engine.__version__,
        "status": "failure",
        "message": message,
        "reason": reason,
        "details": details or {},
        "help": help_url,
        "code": status,
    }


def bad_request(message: str, parameter: str | None = None, location: str = "body") -> ApiError:
    details = {"parameter": parameter, "in": location} if parameter is not None else {}
    return ApiError(400, "BadRequest", message, details)


def conversation_not_found() -> ApiError:
    # Rasa's exact reason (with a space) and message; clients assert on them.
    return ApiError(404, "Not found", "Conversation ID not found.")


def no_model_loaded() -> ApiError:
    return ApiError(
        409,
        "Conflict",
        "No agent loaded. To continue processing, a model of a trained agent needs to be loaded.",
    )


def database_unavailable() -> ApiError:
    return ApiError(
        503,
        "ServiceUnavailable",
        "The database is not reachable. Nothing was stored; retry shortly.",
        headers={"Retry-After": "5"},
    )


def broker_unavailable() -> ApiError:
    """The job queue (Redis) is down: the job is refused, not silently left queued."""
    return ApiError(
        503,
        "ServiceUnavailable",
        "The job queue (broker) is not reachable, so the job was not started. Retry shortly.",
        details={"component": "broker"},
        headers={"Retry-After": "5"},
    )


def is_lock_timeout(exc: Exception) -> bool:
    """PostgreSQL's lock_timeout (SQLSTATE 55P03) or SQLite's busy timeout."""
    cause = exc.__cause__
    return getattr(cause, "sqlstate", None) == "55P03" or "database is locked" in str(exc)


_DRF_REASONS = {
    400: "BadRequest",
    401: "NotAuthenticated",
    403: "NotAuthorized",
    404: "NotFound",
    405: "MethodNotAllowed",
    406: "NotAcceptable",
    415: "UnsupportedMediaType",
    412: "PreconditionFailed",
    429: "TooManyRequests",
}


def _as_api_error(exc: Exception) -> ApiError | None:
    if isinstance(exc, ApiError):
        return exc
    if isinstance(exc, drf_exceptions.APIException):
        status = exc.status_code
        detail = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
        return ApiError(status, _DRF_REASONS.get(status, "BadRequest"), detail)
    if isinstance(exc, ConversationMoved):
        return ApiError(412, "PreconditionFailed", f"If-Match does not match: {exc}")
    if isinstance(exc, OperationalError) and is_lock_timeout(exc):
        return ApiError(
            409,
            "Conflict",
            "Another request is still working on this conversation. Retry shortly.",
            headers={"Retry-After": "1"},
        )
    if isinstance(exc, OperationalError | InterfaceError):
        return database_unavailable()
    if isinstance(exc, RecursionError):
        # A parser (DRF's JSON parser on /auth/*) gave up on a deeply nested body.
        return bad_request("The request body is nested too deeply to read.", parameter="")
    if isinstance(exc, SuspiciousOperation):
        # Includes RequestDataTooBig: the body is over CONVAPI_MAX_BODY_BYTES.
        return bad_request(f"The request was refused: {exc}", parameter="", location="body")
    return None


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response:
    """DRF's hook: every exception a view raises leaves through here."""
    error = _as_api_error(exc)
    if error is None:
        view = context.get("view")
        logger.exception("Unexpected error in %s", type(view).__name__ if view else "a view")
        error = ApiError(500, "UnexpectedError", "An unexpected error occurred.")
    return Response(error.body(), status=error.status, headers=error.headers)


def json_error_response(error: ApiError) -> JsonResponse:
    response = JsonResponse(error.body(), status=error.status)
    for name, value in error.headers.items():
        response[name] = value
    return response


def handler400(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    return json_error_response(bad_request("Bad request."))


def handler403(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    return json_error_response(ApiError(403, "NotAuthorized", "Forbidden."))


def handler404(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    return json_error_response(
        ApiError(404, "NotFound", f"No route for {request.method} {request.path}.")
    )


def handler500(request: HttpRequest) -> JsonResponse:
    return json_error_response(ApiError(500, "UnexpectedError", "An unexpected error occurred."))


def lockout_response(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
    """django-axes' answer once a login is locked out: JSON for the API, text for the admin."""
    message = "Too many failed logins. Try again later."
    if request.path.startswith("/admin"):
        return HttpResponse(message, status=429, content_type="text/plain")
    return json_error_response(
        ApiError(429, "TooManyRequests", message, headers={"Retry-After": "900"})
    )
