"""The server's own routes (API.md sections 1, 4.1): hello, version, status, the id list."""

from __future__ import annotations

from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

import engine
from convapi.schema import error_responses
from convapi.views.base import GuardedView, PublicView
from serving.holder import require_assistant
from serving.work import active_training_jobs
from trackers import services


class RootView(PublicView):
    @extend_schema(responses={(200, "text/plain"): OpenApiTypes.STR})
    def get(self, request: Request) -> HttpResponse:
        return HttpResponse(f"Hello from Rasa: {engine.__version__}", content_type="text/plain")


class VersionView(PublicView):
    def get(self, request: Request) -> Response:
        return Response(
            {
                "version": engine.__version__,
                "minimum_compatible_version": engine.MINIMUM_COMPATIBLE_VERSION,
            }
        )


class StatusView(GuardedView):
    @extend_schema(responses={200: OpenApiTypes.OBJECT, **error_responses(401, 403, 409)})
    def get(self, request: Request) -> Response:
        assistant = require_assistant()
        return Response(
            {
                "model_file": assistant.file_name,
                "model_id": assistant.model_id,
                "num_active_training_jobs": active_training_jobs(),
            }
        )


class ConversationListView(GuardedView):
    @extend_schema(responses={200: {"type": "array", "items": {"type": "string"}}})
    def get(self, request: Request) -> Response:
        return Response(services.conversation_ids())
