"""``DELETE /conversations/{id}``: erase a conversation (GDPR). Not a Rasa route.

Rasa's auth applies unchanged: the token or an admin-role JWT may erase any
conversation, a user-role JWT only the one whose id is its username.
"""

from __future__ import annotations

from rest_framework.request import Request
from rest_framework.response import Response

from convapi.auth import auth_config, bearer_token, decode_jwt
from convapi.views.base import GuardedView, checked_conversation_id
from engine.errors import conversation_not_found
from trackers import review


class ConversationView(GuardedView):
    def delete(self, request: Request, conversation_id: str) -> Response:
        record = review.conversation_erase(
            sender_id=checked_conversation_id(conversation_id),
            deleted_by=api_caller(request),
            via="api",
        )
        if record is None:
            raise conversation_not_found()
        return Response(status=204)


def api_caller(request: Request) -> str:
    """Who the deletion log names: the JWT's user, else how the request got in."""
    config = auth_config()
    token = bearer_token(request.headers.get("Authorization", ""))
    payload = decode_jwt(token, config) if token and config.jwt_enabled else None
    if payload is not None:
        user = payload.get("user") if isinstance(payload.get("user"), dict) else {}
        return f"jwt:{user.get('username')} ({user.get('role')})"
    return "api:token" if config.token else "api:open"
