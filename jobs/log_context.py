"""What a log line says it belongs to: the request id and the conversation id.

Both live in context variables, set by the request middleware (``convapi/request_id.py``),
by a turn for its conversation (``trackers/turns.py``) and by a Celery task for the
request that enqueued it (``config/celery.py``). A logging filter puts them on every
record, so one slow or failing turn can be followed from the web worker to the task to
the action server, which gets the request id in ``X-Request-ID``.

Plain Python and ``python-json-logger`` only: Django's logging set-up imports this module
before any app is ready, and every package (the engine excepted) may use it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar, Token

from pythonjsonlogger.core import RESERVED_ATTRS
from pythonjsonlogger.json import JsonFormatter

REQUEST_ID_HEADER = "X-Request-ID"

_request_id: ContextVar[str] = ContextVar("convapi_request_id", default="")
_conversation_id: ContextVar[str] = ContextVar("convapi_conversation_id", default="")

PLAIN_FORMAT = "%(asctime)s %(levelname)s %(name)s%(log_context)s: %(message)s"
JSON_FIELDS = ("asctime", "levelname", "name", "message", "request_id", "conversation_id")


def current_request_id() -> str:
    return _request_id.get()


def current_conversation_id() -> str:
    return _conversation_id.get()


def log_context_bind(
    *, request_id: str | None = None, conversation_id: str | None = None
) -> list[tuple[ContextVar[str], Token[str]]]:
    """Set what is given; the tokens give the earlier values back (``log_context_restore``)."""
    tokens = []
    if request_id is not None:
        tokens.append((_request_id, _request_id.set(request_id)))
    if conversation_id is not None:
        tokens.append((_conversation_id, _conversation_id.set(conversation_id)))
    return tokens


def log_context_restore(tokens: list[tuple[ContextVar[str], Token[str]]]) -> None:
    for variable, token in reversed(tokens):
        variable.reset(token)


@contextmanager
def log_context(
    *, request_id: str | None = None, conversation_id: str | None = None
) -> Iterator[None]:
    """The given ids for the block (a gthread worker's thread serves request after request)."""
    tokens = log_context_bind(request_id=request_id, conversation_id=conversation_id)
    try:
        yield
    finally:
        log_context_restore(tokens)


def request_id_headers() -> dict[str, str]:
    """Headers for an outgoing call made on behalf of the current request (none outside one)."""
    request_id = current_request_id()
    return {REQUEST_ID_HEADER: request_id} if request_id else {}


class LogContextFilter(logging.Filter):
    """Puts ``request_id`` and ``conversation_id`` (None when unknown) on every record.

    ``log_context`` is the plain format's suffix: `` request_id=... conversation_id=...``
    for what is known, nothing otherwise.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        request_id, conversation_id = current_request_id(), current_conversation_id()
        record.request_id = request_id or None
        record.conversation_id = conversation_id or None
        parts = [f"request_id={request_id}"] if request_id else []
        if conversation_id:
            parts.append(f"conversation_id={conversation_id}")
        record.log_context = "".join(f" {part}" for part in parts)
        return True


def log_formatter(*, json_lines: bool = False) -> logging.Formatter:
    """The one formatter of the web and the worker processes: plain text, or one JSON object
    per line (``CONVAPI_LOG_FORMAT=json``) for a log collector."""
    if json_lines:
        # Every other attribute of a record is an extra field; the plain suffix is not one.
        return JsonFormatter(list(JSON_FIELDS), reserved_attrs=[*RESERVED_ATTRS, "log_context"])
    # A record that met no LogContextFilter (another handler's) still formats.
    return logging.Formatter(PLAIN_FORMAT, defaults={"log_context": ""})
