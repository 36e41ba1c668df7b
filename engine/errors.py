"""The engine's error types.

Every error a user can cause (a broken bot, a bad archive, malformed events) is an
``EngineError`` with a message that says what to fix; the HTTP layer maps them to
the Rasa error body, the commands print them without a traceback.
"""

from __future__ import annotations

from typing import Any


class EngineError(Exception):
    """Base class for every error the engine raises on purpose."""


class BotError(EngineError):
    """A mistake in a bot's files: names the file, the key and what is wrong."""

    def __init__(self, message: str, *, file: str | None = None, key: str | None = None) -> None:
        self.file = file
        self.key = key
        parts = [f"file '{file}'" if file else "", f"key '{key}'" if key else ""]
        where = ", ".join(part for part in parts if part)
        super().__init__(f"{where}: {message}" if where else message)


class InvalidDomainError(BotError):
    """The domain is malformed or inconsistent with the rest of the bot."""


class ConfigError(BotError):
    """``config.yml`` names an unknown component or gives it bad options."""


class EventsValidationError(EngineError):
    """Posted events do not match the events schema."""


class ModelLoadError(EngineError):
    """A model archive is corrupt, too old, or not a model at all."""


class ServiceError(Exception):
    """A request the server refuses or cannot complete, in Rasa's error vocabulary.

    The services below the HTTP edge (conversations, serving, jobs) raise it; the edge's one
    exception handler renders it as the error body of API.md 2.1, and a job records
    ``body()`` as its failure. Build it with the named constructors below, so each kind of
    failure has one status, one reason and one wording.
    """

    def __init__(
        self,
        status: int,
        reason: str,
        message: str,
        details: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.reason = reason
        self.message = message
        self.details = details or {}
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        return error_body(self.status, self.reason, self.message, self.details)


def error_body(
    status: int, reason: str, message: str, details: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Rasa's seven-key error body; ``help`` is always null (convapi has no help pages)."""
    from engine import __version__

    return {
        "version": __version__,
        "status": "failure",
        "message": message,
        "reason": reason,
        "details": details or {},
        "help": None,
        "code": status,
    }


# --- named constructors: every error body the server sends is built by one of these ----


def bad_request(message: str, parameter: str | None = None, location: str = "body") -> ServiceError:
    details = {"parameter": parameter, "in": location} if parameter is not None else {}
    return ServiceError(400, "BadRequest", message, details)


def events_invalid(problem: object) -> ServiceError:
    return bad_request(f"Failed to validate the events format. {problem}", parameter="")


def invalid_domain(problem: object) -> ServiceError:
    return ServiceError(400, "InvalidDomainError", f"The provided domain is invalid: {problem}")


def training_failed(message: str) -> ServiceError:
    return ServiceError(400, "TrainingError", message)


def testing_failed(message: str) -> ServiceError:
    return ServiceError(400, "TestingError", message)


def loading_failed(problem: object) -> ServiceError:
    return ServiceError(400, "LoadingError", f"An unexpected error occurred. Error: {problem}")


def model_not_loadable(name: str) -> ServiceError:
    """Rasa's answer to ``PUT /model`` naming an archive (or model server) it cannot load."""
    return bad_request(
        f"Agent with name '{name}' could not be loaded.", parameter="model", location="query"
    )


def not_authenticated() -> ServiceError:
    return ServiceError(401, "NotAuthenticated", "User is not authenticated.")


def not_authorized(message: str = "User has insufficient permissions.") -> ServiceError:
    return ServiceError(403, "NotAuthorized", message)


def not_found(message: str) -> ServiceError:
    return ServiceError(404, "NotFound", message)


def conversation_not_found() -> ServiceError:
    # Rasa's exact reason (with a space) and message; clients assert on them.
    return ServiceError(404, "Not found", "Conversation ID not found.")


def not_acceptable(message: str) -> ServiceError:
    return ServiceError(406, "NotAcceptable", message)


def conflict(message: str, retry_after: int | None = None) -> ServiceError:
    headers = {"Retry-After": str(retry_after)} if retry_after else None
    return ServiceError(409, "Conflict", message, headers=headers)


def no_model_loaded() -> ServiceError:
    return conflict(
        "No agent loaded. To continue processing, a model of a trained agent needs to be loaded."
    )


def conversation_busy() -> ServiceError:
    """Another turn held the conversation past the lock timeout; nothing was stored."""
    return conflict(
        "Another request is still working on this conversation. Retry shortly.", retry_after=1
    )


def precondition_failed(message: str) -> ServiceError:
    return ServiceError(412, "PreconditionFailed", message)


def payload_too_large(setting: str, limit: int) -> ServiceError:
    """A body over a size limit; the message names the setting that raises it."""
    return ServiceError(
        413,
        "PayloadTooLarge",
        f"The request body is larger than {limit} bytes, the limit set by {setting}.",
        details={"limit": setting},
    )


def unprocessable(message: str) -> ServiceError:
    return ServiceError(422, "UnprocessableEntity", message)


def too_many_requests(message: str, retry_after: int) -> ServiceError:
    return ServiceError(429, "TooManyRequests", message, headers={"Retry-After": str(retry_after)})


def unexpected_error(message: str = "An unexpected error occurred.") -> ServiceError:
    return ServiceError(500, "UnexpectedError", message)


def work_failed(reason: str, message: str) -> ServiceError:
    """A job's work broke on our side (not the client's input): recorded with its kind's reason."""
    return ServiceError(500, reason, message)


def work_over_limit(reason: str, message: str) -> ServiceError:
    """A job stopped by one of its limits (memory, CPU time): more work than the server allows."""
    return ServiceError(400, reason, message)


def error_from_body(body: dict[str, Any]) -> ServiceError:
    """An error recorded earlier as its body (a failed job's), to raise again."""
    return ServiceError(
        int(body.get("code", 500)),
        str(body.get("reason", "UnexpectedError")),
        str(body.get("message", "The job failed.")),
        body.get("details") or {},
    )


def database_unavailable() -> ServiceError:
    return ServiceError(
        503,
        "ServiceUnavailable",
        "The database is not reachable. Nothing was stored; retry shortly.",
        headers={"Retry-After": "5"},
    )


def lock_store_unavailable() -> ServiceError:
    """Conversations cannot be locked, so no turn runs: refused before anything is stored."""
    return ServiceError(
        503,
        "ServiceUnavailable",
        "The lock store is not reachable, so the conversation could not be locked. "
        "Nothing was stored; retry shortly.",
        details={"component": "lock_store"},
        headers={"Retry-After": "5"},
    )


def model_store_unavailable(problem: object) -> ServiceError:
    """The configured model storage failed: nothing was stored or swapped."""
    return ServiceError(
        503,
        "ServiceUnavailable",
        f"The model store is not reachable ({problem}). Nothing changed; retry shortly.",
        details={"component": "model_store"},
        headers={"Retry-After": "5"},
    )


def broker_unavailable() -> ServiceError:
    """The job queue is down: the job is refused, not silently left queued."""
    return ServiceError(
        503,
        "ServiceUnavailable",
        "The job queue (broker) is not reachable, so the job was not started. Retry shortly.",
        details={"component": "broker"},
        headers={"Retry-After": "5"},
    )
