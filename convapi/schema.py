"""OpenAPI generation for views that validate JSON by hand (no DRF serializers).

Bodies and answers are documented as free-form JSON; Rasa's own spec
(``rasa-openapi.yml``) is the detailed contract for the Rasa routes.
"""

from __future__ import annotations

from drf_spectacular.openapi import AutoSchema
from drf_spectacular.types import OpenApiTypes


class JsonAutoSchema(AutoSchema):
    def _get_serializer(self):
        serializer = getattr(self.view, "serializer_class", None)
        return serializer() if serializer else None

    def get_request_serializer(self):
        if self.method in ("POST", "PUT", "PATCH"):
            return self._get_serializer() or OpenApiTypes.OBJECT
        return None

    def get_response_serializers(self):
        return self._get_serializer() or OpenApiTypes.OBJECT
