"""The REST input channel (API.md section 5): never authenticated, like Rasa's."""

from __future__ import annotations

import json
from collections.abc import Iterator

from django.http import StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from convapi import schema
from convapi.converters import conversation_id_error
from convapi.params import json_body
from convapi.serializers import StreamQuerySerializer, WebhookSerializer, validated
from convapi.views.base import PublicView
from serving.holder import current_assistant
from trackers import turns


class RestHealthView(PublicView):
    def get(self, request: Request) -> Response:
        return Response({"status": "ok"})


class RestWebhookView(PublicView):
    """``POST /webhooks/rest/webhook``: one user message in, the bot's messages out."""

    @extend_schema(
        request=schema.json(WebhookSerializer),
        parameters=[StreamQuerySerializer],
        responses={
            200: {"type": "array", "items": {"type": "object"}},
            (200, "text/event-stream"): OpenApiTypes.STR,
            **schema.error_responses(400),
        },
    )
    def post(self, request: Request):
        body = validated(WebhookSerializer, json_body(request))
        assistant = current_assistant()
        messages = []
        if assistant is not None and assistant.model is not None:
            error = conversation_id_error(body["sender"])
            if error is not None:
                raise error
            messages = turns.webhook_message(
                sender_id=body["sender"],
                text=body["message"],
                metadata=body["metadata"],
                input_channel=body["input_channel"],
                assistant=assistant,
            )
        if validated(StreamQuerySerializer, request.query_params, location="query")["stream"]:
            return StreamingHttpResponse(_lines(messages), content_type="text/event-stream")
        return Response(messages)


def _lines(messages: list[dict]) -> Iterator[str]:
    for message in messages:
        yield json.dumps(message) + "\n"
