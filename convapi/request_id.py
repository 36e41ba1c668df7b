"""Every request gets an id, in each line it logs and in its answer's ``X-Request-ID``.

The id a client or a proxy sends in ``X-Request-ID`` is kept when it is a plain token
(letters, digits, ``.-_:``, at most 128), so that lines of a proxy, of convapi and of the
action server share it; anything else is replaced by a new one rather than written into
the logs. The conversation of a conversation route is known from its path; a channel's
turn names its conversation itself (``trackers/turns.py``). The Celery tasks the request
enqueues carry both (``config/celery.py``).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from jobs.log_context import REQUEST_ID_HEADER, log_context_bind, log_context_restore

ACCEPTED_REQUEST_ID = re.compile(r"[A-Za-z0-9._:\-]{1,128}")


def request_id_from(header: str | None) -> str:
    """The client's id when it is safe to log, else a new one."""
    if header and ACCEPTED_REQUEST_ID.fullmatch(header):
        return header
    return uuid.uuid4().hex


class RequestIdMiddleware:
    """First in the chain, so even a request that another middleware answers has its id."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request_id = request_id_from(request.headers.get(REQUEST_ID_HEADER))
        # Both set for this request only: a gthread worker's thread serves one after another.
        tokens = log_context_bind(request_id=request_id, conversation_id="")
        try:
            response = self.get_response(request)
        finally:
            log_context_restore(tokens)
        response[REQUEST_ID_HEADER] = request_id
        return response

    def process_view(self, request: HttpRequest, view_func, view_args, view_kwargs) -> None:
        conversation_id = view_kwargs.get("conversation_id")
        if isinstance(conversation_id, str):
            log_context_bind(conversation_id=conversation_id)  # undone with the request's
