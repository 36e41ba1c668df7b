"""The REST input channel (API.md section 5): never authenticated, like Rasa's."""

from __future__ import annotations

import json
from collections.abc import Iterator

from django.http import StreamingHttpResponse
from rest_framework.request import Request
from rest_framework.response import Response

from convapi.params import bool_param, json_body
from convapi.views.base import PublicView, checked_conversation_id
from engine.errors import bad_request
from serving.holder import current_assistant
from trackers import turns

REST_CHANNEL = "rest"
DEFAULT_SENDER = "default"


class RestHealthView(PublicView):
    def get(self, request: Request) -> Response:
        return Response({"status": "ok"})


class RestWebhookView(PublicView):
    """``POST /webhooks/rest/webhook``: one user message in, the bot's messages out."""

    def post(self, request: Request):
        body = json_body(request)
        if not isinstance(body, dict):
            raise bad_request("The body must be a JSON object with 'sender' and 'message'.")
        message = body.get("message")
        if not isinstance(message, str):
            raise bad_request("'message' must be a string.", parameter="message")
        sender = body.get("sender", DEFAULT_SENDER)
        if not isinstance(sender, str) or not sender:
            raise bad_request("'sender' must be a non-empty string.", parameter="sender")
        metadata = body.get("metadata")
        if metadata is not None and not isinstance(metadata, dict):
            raise bad_request("'metadata' must be an object.", parameter="metadata")
        channel = body.get("input_channel") or REST_CHANNEL
        if not isinstance(channel, str):
            raise bad_request("'input_channel' must be a string.", parameter="input_channel")
        assistant = current_assistant()
        messages = []
        if assistant is not None and assistant.model is not None:
            messages = turns.webhook_message(
                sender_id=checked_conversation_id(sender),
                text=message,
                metadata=metadata,
                input_channel=channel,
                assistant=assistant,
            )
        if bool_param(request, "stream", False):
            return StreamingHttpResponse(_lines(messages), content_type="text/event-stream")
        return Response(messages)


def _lines(messages: list[dict]) -> Iterator[str]:
    for message in messages:
        yield json.dumps(message) + "\n"
