"""Conversation turn routes (API.md 4.6-4.10, 12): messages, predict, execute, trigger, story."""

from __future__ import annotations

from typing import Any

from django.http import HttpResponse
from rest_framework.request import Request
from rest_framework.response import Response

from convapi.params import (
    bool_param,
    checked_parse_data,
    float_param,
    json_body,
    verbosity_param,
)
from convapi.views.base import GuardedView, checked_conversation_id
from engine.errors import bad_request
from serving.holder import require_assistant
from trackers import turns


def object_body(request: Request) -> dict[str, Any]:
    body = json_body(request)
    if not isinstance(body, dict) or not body:
        raise bad_request("The request body must be a non-empty JSON object.", parameter="")
    return body


def string_field(body: dict[str, Any], name: str, *, required: bool = True) -> str | None:
    value = body.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, str) or (required and not value):
        raise bad_request(f"'{name}' must be a non-empty string.", parameter=name)
    return value


def optional_number(body: dict[str, Any], name: str) -> float | None:
    value = body.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
        raise bad_request(f"'{name}' must be a number between 0 and 1.", parameter=name)
    return float(value)


class MessagesView(GuardedView):
    """``POST /conversations/{id}/messages``: log a user message, predict nothing."""

    def post(self, request: Request, conversation_id: str) -> Response:
        assistant = require_assistant()
        body = object_body(request)
        if body.get("sender") != "user":
            raise bad_request(
                "Currently, only user messages can be passed to this endpoint. "
                "Messages of sender 'user' are supported.",
                parameter="sender",
            )
        parse_data = body.get("parse_data")
        if parse_data is not None and not isinstance(parse_data, dict):
            raise bad_request("'parse_data' must be an object.", parameter="parse_data")
        text = string_field(body, "text", required=parse_data is None) or ""
        checked_parse_data(text, parse_data)
        turn = turns.conversation_log_message(
            sender_id=checked_conversation_id(conversation_id),
            text=text,
            parse_data=parse_data,
            verbosity=verbosity_param(request),
            assistant=assistant,
        )
        return Response(turn.state)


class PredictView(GuardedView):
    """``POST /conversations/{id}/predict``."""

    def post(self, request: Request, conversation_id: str) -> Response:
        assistant = require_assistant()
        return Response(turns.conversation_predict(sender_id=conversation_id, assistant=assistant))


class ExecuteView(GuardedView):
    """``POST /conversations/{id}/execute`` (deprecated in Rasa, still served)."""

    def post(self, request: Request, conversation_id: str) -> Response:
        assistant = require_assistant()
        body = json_body(request)
        if not isinstance(body, dict):
            raise bad_request("Name of the action not provided in request body.", parameter="name")
        name = string_field(body, "name")
        turn = turns.conversation_execute(
            sender_id=conversation_id,
            action_name=name,
            policy=string_field(body, "policy", required=False),
            confidence=optional_number(body, "confidence"),
            verbosity=verbosity_param(request),
            assistant=assistant,
        )
        return Response({"tracker": turn.state, "messages": turn.messages})


class TriggerIntentView(GuardedView):
    """``POST /conversations/{id}/trigger_intent``."""

    def post(self, request: Request, conversation_id: str) -> Response:
        assistant = require_assistant()
        body = json_body(request)
        if not isinstance(body, dict):
            raise bad_request("Name of the intent not provided in request body.", parameter="name")
        name = string_field(body, "name")
        entities = body.get("entities")
        if entities is not None and not _valid_entities(entities):
            raise bad_request(
                "'entities' must be a list of entity objects or an object of names and values.",
                parameter="entities",
            )
        turn = turns.conversation_trigger_intent(
            sender_id=checked_conversation_id(conversation_id),
            intent=name,
            entities=entities,
            assistant=assistant,
            verbosity=verbosity_param(request),
        )
        return Response({"tracker": turn.state, "messages": turn.messages})


def _valid_entities(entities: Any) -> bool:
    if isinstance(entities, dict):
        return all(isinstance(key, str) for key in entities)
    return isinstance(entities, list) and all(
        isinstance(item, dict) and isinstance(item.get("entity"), str) for item in entities
    )


class StoryView(GuardedView):
    """``GET /conversations/{id}/story``: YAML test stories, text/plain."""

    def get(self, request: Request, conversation_id: str) -> HttpResponse:
        require_assistant()
        story = turns.conversation_story(
            sender_id=conversation_id,
            all_sessions=bool_param(request, "all_sessions", False),
            until=float_param(request, "until"),
        )
        return HttpResponse(story, content_type="text/plain")


class RespondView(GuardedView):
    """Rasa Core 0.x ``/conversations/{id}/respond``: the bot's answer to ``query``."""

    def get(self, request: Request, conversation_id: str) -> Response:
        text = request.query_params.get("query", request.query_params.get("q"))
        return self._respond(conversation_id, text)

    def post(self, request: Request, conversation_id: str) -> Response:
        body = json_body(request)
        text = None
        if isinstance(body, dict):
            text = body.get("query", body.get("q"))
        if text is None:
            text = request.query_params.get("query", request.query_params.get("q"))
        return self._respond(conversation_id, text)

    def _respond(self, conversation_id: str, text: Any) -> Response:
        assistant = require_assistant()
        if not isinstance(text, str):
            raise bad_request("Missing the message parameter.", parameter="query", location="query")
        turn = turns.conversation_message(
            sender_id=checked_conversation_id(conversation_id), text=text, assistant=assistant
        )
        return Response(turn.messages)
