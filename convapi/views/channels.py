"""The REST and callback input channels (API.md sections 5 and 14.3): never authenticated,
like Rasa's, so rate limited per client when ``CONVAPI_CHANNEL_RATE`` is set. A channel
``credentials.yml`` does not open answers 404 on its routes."""

from __future__ import annotations

import json
from collections.abc import Iterator

from django.http import HttpResponse, StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from convapi import schema
from convapi.converters import conversation_id_error
from convapi.credentials import channel_open
from convapi.params import json_body
from convapi.serializers import StreamQuerySerializer, WebhookSerializer, validated
from convapi.throttling import ChannelRateThrottle
from convapi.views.base import PublicView
from engine.errors import not_found
from serving.holder import current_assistant
from trackers import turns


class ChannelView(PublicView):
    """A channel route: open to anyone, so limited per client (convapi/throttling.py)."""

    channel = "rest"
    throttle_classes = [ChannelRateThrottle]

    def initial(self, request: Request, *args, **kwargs) -> None:
        if not channel_open(self.channel):
            raise not_found(f"The {self.channel} channel is not enabled in credentials.yml.")
        super().initial(request, *args, **kwargs)


class ChannelHealthView(ChannelView):
    """``GET /webhooks/<channel>/``."""

    @extend_schema(responses={200: {"type": "object"}, **schema.error_responses(404)})
    def get(self, request: Request) -> Response:
        return Response({"status": "ok"})


class RestHealthView(ChannelHealthView):
    channel = "rest"


class CallbackHealthView(ChannelHealthView):
    channel = "callback"


class CallbackWebhookView(ChannelView):
    """``POST /webhooks/callback/webhook``: answers ``success``; the bot's messages are
    POSTed to the channel's URL, each as a callback is (attempt log, retries)."""

    channel = "callback"

    @extend_schema(
        request=schema.json(WebhookSerializer),
        responses={(200, "text/plain"): OpenApiTypes.STR, **schema.error_responses(400, 404)},
    )
    def post(self, request: Request) -> HttpResponse:
        body = validated(WebhookSerializer, json_body(request))
        assistant = current_assistant()
        if assistant is not None and assistant.model is not None:
            error = conversation_id_error(body["sender"])
            if error is not None:
                raise error
            turns.callback_message(
                sender_id=body["sender"],
                text=body["message"],
                metadata=body["metadata"],
                assistant=assistant,
            )
        return HttpResponse("success", content_type="text/plain")


class RestWebhookView(ChannelView):
    """``POST /webhooks/rest/webhook``: one user message in, the bot's messages out."""

    @extend_schema(
        request=schema.json(WebhookSerializer),
        parameters=[StreamQuerySerializer],
        responses={
            200: {"type": "array", "items": {"type": "object"}},
            (200, "text/event-stream"): OpenApiTypes.STR,
            **schema.error_responses(400, 404),
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
