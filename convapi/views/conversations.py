"""Every ``/conversations/{id}/...`` route (API.md 4.1-4.10, 12), as one ViewSet.

The id is checked by the path converter (``convapi.converters``) before any view runs,
the permission class applies Rasa's auth (a user-role JWT only for its own id), and each
action checks the loaded model, reads its input through the serializers of
``convapi.serializers`` (body first, then query), and calls one service. Errors leave as
``ServiceError`` through the one handler.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import viewsets
from rest_framework.request import Request
from rest_framework.response import Response

from convapi.auth import RasaAuth, auth_config, bearer_token, decode_jwt
from convapi.params import events_body, json_body
from convapi.schema import (
    CONVERSATION_ERRORS,
    CONVERSATION_ID,
    EVENT_OR_EVENTS,
    EVENTS,
    json,
)
from convapi.serializers import (
    EventsQuerySerializer,
    ExecuteSerializer,
    MessageSerializer,
    RespondSerializer,
    StoryQuerySerializer,
    TrackerQuerySerializer,
    TriggerIntentSerializer,
    TurnQuerySerializer,
    VerbosityQuerySerializer,
    respond_source,
    validated,
)
from engine.errors import conversation_not_found
from engine.events import Event
from serving.holder import require_assistant
from trackers import review, services, turns
from trackers.outputs import messages_answered
from trackers.reminders import reminders_schedule

TRACKER = {200: OpenApiTypes.OBJECT, **CONVERSATION_ERRORS}
TURN = {
    200: {
        "type": "object",
        "properties": {
            "tracker": {"type": "object"},
            "messages": {"type": "array", "items": {"type": "object"}},
        },
    },
    **CONVERSATION_ERRORS,
}
MESSAGES = {200: {"type": "array", "items": {"type": "object"}}, **CONVERSATION_ERRORS}


def conversation_schema(**kwargs):
    """``extend_schema`` with the conversation id documented as a path parameter."""
    return extend_schema(parameters=[CONVERSATION_ID, *kwargs.pop("parameters", [])], **kwargs)


class ConversationViewSet(viewsets.ViewSet):
    permission_classes = [RasaAuth]

    @conversation_schema(parameters=[TrackerQuerySerializer], responses=TRACKER)
    def tracker(self, request: Request, conversation_id: str) -> Response:
        """``GET /conversations/{id}/tracker``: the conversation's state (``ETag``: its version)."""
        assistant = require_assistant()
        query = validated(TrackerQuerySerializer, request.query_params, location="query")
        tracked = services.tracker_fetch(
            sender_id=conversation_id,
            verbosity=query["verbosity"],
            until=query["until"],
            context=assistant.tracker_context(),
        )
        return tracker_response(tracked)

    @conversation_schema(
        request=json(EVENT_OR_EVENTS), parameters=[EventsQuerySerializer], responses=TRACKER
    )
    def append_events(self, request: Request, conversation_id: str) -> Response:
        """``POST /conversations/{id}/tracker/events``: append one event or a list."""
        assistant = require_assistant()
        events = events_body(request)
        query = validated(EventsQuerySerializer, request.query_params, location="query")
        tracked = services.tracker_events_append(
            sender_id=conversation_id,
            events=events,
            verbosity=query["verbosity"],
            context=assistant.tracker_context(),
            if_match=request.headers.get("If-Match"),
            side_effects=(
                functools.partial(schedule_reminders, conversation_id)
                if query["execute_side_effects"]
                else None
            ),
        )
        return tracker_response(tracked)

    @conversation_schema(
        request=json(EVENTS), parameters=[VerbosityQuerySerializer], responses=TRACKER
    )
    def replace_events(self, request: Request, conversation_id: str) -> Response:
        """``PUT /conversations/{id}/tracker/events`` (and Rasa Core 0.x ``PUT .../tracker``):
        replace the conversation's events (``[]``: with none)."""
        assistant = require_assistant()
        events = events_body(request, empty_list=True)
        query = validated(VerbosityQuerySerializer, request.query_params, location="query")
        tracked = services.tracker_events_replace(
            sender_id=conversation_id,
            events=events,
            verbosity=query["verbosity"],
            context=assistant.tracker_context(),
            if_match=request.headers.get("If-Match"),
        )
        return tracker_response(tracked)

    @conversation_schema(
        request=json(MessageSerializer), parameters=[VerbosityQuerySerializer], responses=TRACKER
    )
    def messages(self, request: Request, conversation_id: str) -> Response:
        """``POST /conversations/{id}/messages``: log a user message, predict nothing."""
        assistant = require_assistant()
        body = validated(MessageSerializer, json_body(request))
        query = validated(VerbosityQuerySerializer, request.query_params, location="query")
        turn = turns.conversation_log_message(
            sender_id=conversation_id,
            text=body["text"],
            parse_data=body["parse_data"],
            verbosity=query["verbosity"],
            assistant=assistant,
        )
        return Response(turn.state)

    @conversation_schema(request=None, responses={200: OpenApiTypes.OBJECT, **CONVERSATION_ERRORS})
    def predict(self, request: Request, conversation_id: str) -> Response:
        """``POST /conversations/{id}/predict``: score the next actions, store nothing."""
        assistant = require_assistant()
        return Response(turns.conversation_predict(sender_id=conversation_id, assistant=assistant))

    @conversation_schema(
        request=json(ExecuteSerializer), parameters=[TurnQuerySerializer], responses=TURN
    )
    def execute(self, request: Request, conversation_id: str) -> Response:
        """``POST /conversations/{id}/execute`` (deprecated in Rasa, still served)."""
        assistant = require_assistant()
        body = validated(ExecuteSerializer, json_body(request))
        query = validated(TurnQuerySerializer, request.query_params, location="query")
        turn = turns.conversation_execute(
            sender_id=conversation_id,
            action_name=body["name"],
            policy=body["policy"],
            confidence=body["confidence"],
            verbosity=query["verbosity"],
            assistant=assistant,
        )
        return _turn_answer(
            turn, sender_id=conversation_id, output_channel=query.get("output_channel")
        )

    @conversation_schema(
        request=json(TriggerIntentSerializer),
        parameters=[TurnQuerySerializer],
        responses=TURN,
    )
    def trigger_intent(self, request: Request, conversation_id: str) -> Response:
        """``POST /conversations/{id}/trigger_intent``: inject an intent, run the bot."""
        assistant = require_assistant()
        body = validated(TriggerIntentSerializer, json_body(request))
        query = validated(TurnQuerySerializer, request.query_params, location="query")
        turn = turns.conversation_trigger_intent(
            sender_id=conversation_id,
            intent=body["name"],
            entities=body["entities"],
            assistant=assistant,
            verbosity=query["verbosity"],
        )
        return _turn_answer(
            turn, sender_id=conversation_id, output_channel=query.get("output_channel")
        )

    @conversation_schema(
        parameters=[StoryQuerySerializer],
        responses={(200, "text/plain"): OpenApiTypes.STR, **CONVERSATION_ERRORS},
    )
    def story(self, request: Request, conversation_id: str) -> HttpResponse:
        """``GET /conversations/{id}/story``: YAML test stories, text/plain."""
        require_assistant()
        query = validated(StoryQuerySerializer, request.query_params, location="query")
        story = turns.conversation_story(
            sender_id=conversation_id, all_sessions=query["all_sessions"], until=query["until"]
        )
        return HttpResponse(story, content_type="text/plain")

    @conversation_schema(parameters=[RespondSerializer], responses=MESSAGES)
    def respond_to_query(self, request: Request, conversation_id: str) -> Response:
        """Rasa Core 0.x ``GET /conversations/{id}/respond?query=``: the bot's answer."""
        assistant = require_assistant()
        text = validated(RespondSerializer, request.query_params, location="query")["text"]
        return respond(conversation_id, text, assistant)

    @conversation_schema(
        request=json(RespondSerializer), parameters=[RespondSerializer], responses=MESSAGES
    )
    def respond(self, request: Request, conversation_id: str) -> Response:
        """Rasa Core 0.x ``POST /conversations/{id}/respond``: ``query`` from the body,
        else from the query string."""
        body = json_body(request)
        assistant = require_assistant()
        source = respond_source(body, request.query_params)
        text = validated(RespondSerializer, source, location="query")["text"]
        return respond(conversation_id, text, assistant)

    @conversation_schema(responses={204: None, **CONVERSATION_ERRORS})
    def erase(self, request: Request, conversation_id: str) -> Response:
        """``DELETE /conversations/{id}``: erase a conversation (GDPR). Not a Rasa route.

        The token or an admin-role JWT may erase any conversation, a user-role JWT only
        the one whose id is its username.
        """
        record = review.conversation_erase(
            sender_id=conversation_id, deleted_by=api_caller(request), via="api"
        )
        if record is None:
            raise conversation_not_found()
        return Response(status=204)


def tracker_response(tracked: services.TrackerResponse) -> Response:
    """The state, with the conversation version as ``ETag`` (a header Rasa clients ignore)."""
    return Response(tracked.state, headers={"ETag": tracked.etag})


def schedule_reminders(sender_id: str, events: Sequence[Event]) -> None:
    """``execute_side_effects=true``: the posted reminders are scheduled (and cancelled)."""
    reminders_schedule(sender_id=sender_id, events=events)


def respond(conversation_id: str, text: str, assistant) -> Response:
    turn = turns.conversation_message(sender_id=conversation_id, text=text, assistant=assistant)
    return Response(turn.messages)


def api_caller(request: Request) -> str:
    """Who the deletion log names: the JWT's user, else how the request got in."""
    config = auth_config()
    token = bearer_token(request.headers.get("Authorization", ""))
    payload = decode_jwt(token, config) if token and config.jwt_enabled else None
    if payload is not None:
        user = payload.get("user") if isinstance(payload.get("user"), dict) else {}
        return f"jwt:{user.get('username')} ({user.get('role')})"
    return "api:token" if config.token else "api:open"


def _turn_answer(turn: turns.Turn, *, sender_id: str, output_channel: str | None) -> Response:
    """``{"tracker", "messages"}``; ``messages`` is left out when they were pushed to
    ``output_channel`` instead (Rasa's collecting output is the only one that answers)."""
    messages = messages_answered(
        sender_id=sender_id,
        output_channel=output_channel,
        latest_channel=turn.latest_channel,
        messages=turn.messages,
    )
    if messages is None:
        return Response({"tracker": turn.state})
    return Response({"tracker": turn.state, "messages": messages})
