"""The ``conversation_id`` path converter: every conversation route checks its id here.

Ids may contain slashes (``.+``); the suffix routes are listed first so ``a/b/tracker``
means the id ``a/b``. An id the database cannot hold is refused while the URL resolves,
with the same 400 body a view would send (``RejectedPath`` goes to ``handler400``).
"""

from __future__ import annotations

from django.urls import register_converter

from convapi.errors import RejectedPath
from engine.errors import ServiceError, bad_request

MAX_CONVERSATION_ID_LENGTH = 255


def conversation_id_error(conversation_id: str) -> ServiceError | None:
    """Why an id cannot name a conversation, or None when it can."""
    if len(conversation_id) > MAX_CONVERSATION_ID_LENGTH:
        return bad_request(
            f"Conversation ids are at most {MAX_CONVERSATION_ID_LENGTH} characters long.",
            parameter="conversation_id",
            location="path",
        )
    if "\x00" in conversation_id:
        # PostgreSQL cannot store or even compare text holding NUL.
        return bad_request(
            "Conversation ids may not contain NUL.", parameter="conversation_id", location="path"
        )
    return None


class ConversationIdConverter:
    regex = ".+"

    def to_python(self, value: str) -> str:
        error = conversation_id_error(value)
        if error is not None:
            raise RejectedPath(error)
        return value

    def to_url(self, value: str) -> str:
        return value


register_converter(ConversationIdConverter, "conversation_id")
