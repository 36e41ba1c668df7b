"""What every view shares: the auth split and conversation id checks."""

from __future__ import annotations

from rest_framework.views import APIView

from convapi.auth import RasaAuth
from engine.errors import bad_request

MAX_CONVERSATION_ID_LENGTH = 255


class PublicView(APIView):
    """Never authenticated (``GET /``, ``/version``, the channel webhooks)."""

    permission_classes: list = []


class GuardedView(APIView):
    """Token or JWT as API.md section 3 says; the conversation id scopes user JWTs."""

    permission_classes = [RasaAuth]


def checked_conversation_id(conversation_id: str) -> str:
    if len(conversation_id) > MAX_CONVERSATION_ID_LENGTH:
        raise bad_request(
            f"Conversation ids are at most {MAX_CONVERSATION_ID_LENGTH} characters long.",
            parameter="conversation_id",
            location="path",
        )
    if "\x00" in conversation_id:
        # PostgreSQL cannot store or even compare text holding NUL.
        raise bad_request(
            "Conversation ids may not contain NUL.", parameter="conversation_id", location="path"
        )
    return conversation_id
