"""OpenAPI generation: the serializers of ``convapi.serializers`` document bodies and query
parameters; every failure is documented with Rasa's error body (``ErrorSerializer``).

Views declare their bodies with ``extend_schema(request=json(...))`` (the API parses JSON
itself, so no DRF parser lists a media type). Guarded views get 401/403 documented, and
views that read a body get 400, unless they list their answers themselves. Rasa's own
spec (``rasa-openapi.yml``) stays the detailed contract of the Rasa routes' answers.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.openapi import AutoSchema
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse

from convapi.auth import RasaAuth
from convapi.serializers import ErrorSerializer

ERROR_DESCRIPTIONS = {
    400: "Bad request: the body, a query parameter or the path is not valid (details name it).",
    401: "Not authenticated: no valid token or JWT.",
    403: "Not authorized: the JWT's role may not use this route (or conversation).",
    404: "Not found: no such conversation (or intent, action, job, open channel).",
    409: "Conflict: no model loaded, or another request holds the conversation.",
}
EVENT = {
    "type": "object",
    "properties": {"event": {"type": "string"}, "timestamp": {"type": "number"}},
    "required": ["event"],
    "additionalProperties": True,
}
EVENTS = {"type": "array", "items": EVENT}
EVENT_OR_EVENTS = {"oneOf": [EVENT, EVENTS]}
CONVERSATION_ID = OpenApiParameter(
    "conversation_id",
    {"type": "string", "minLength": 1, "maxLength": 255},
    OpenApiParameter.PATH,
    description="The conversation (sender) id; it may contain slashes, never NUL.",
)


def json(schema: Any) -> dict[str, Any]:
    """A JSON request body documented by a serializer, a type or a raw schema."""
    return {"application/json": schema}


def error_responses(*statuses: int) -> dict[int, OpenApiResponse]:
    return {
        status: OpenApiResponse(ErrorSerializer, description=ERROR_DESCRIPTIONS[status])
        for status in statuses
    }


CONVERSATION_ERRORS = error_responses(400, 401, 403, 404, 409)


class JsonAutoSchema(AutoSchema):
    def _get_serializer(self):
        serializer = getattr(self.view, "serializer_class", None)
        return serializer() if serializer else None

    def get_request_serializer(self):
        # Without ``request=json(...)`` no body is documented: no DRF parser names a type.
        if self.method in ("POST", "PUT", "PATCH"):
            return self._get_serializer() or OpenApiTypes.OBJECT
        return None

    def get_response_serializers(self):
        return self._get_serializer() or OpenApiTypes.OBJECT

    def _get_response_bodies(self, direction="response"):
        bodies = super()._get_response_bodies(direction)
        for status in self._implied_errors():
            if str(status) not in bodies:
                response = error_responses(status)[status]
                bodies[str(status)] = self._get_response_for_code(
                    response, str(status), direction=direction
                )
        return dict(sorted(bodies.items()))

    def _implied_errors(self) -> list[int]:
        """What every such route may answer: 400 for a body, 401/403 when guarded."""
        statuses = []
        if self.method in ("POST", "PUT", "PATCH"):
            statuses.append(400)
        if any(permission is RasaAuth for permission in self.view.permission_classes):
            statuses += [401, 403]
        return statuses
