"""Thin views for the tracker half of the Rasa HTTP API (API.md sections 1, 4.1-4.5, 12).

Each view checks auth (the permission class), then the loaded model, then reads its
input and calls one service. Errors leave as ``ServiceError`` through the one handler.
"""

from __future__ import annotations

import functools

from django.http import HttpResponse
from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

import engine
from convapi.params import bool_param, events_body, float_param, verbosity_param
from convapi.views.base import GuardedView, PublicView, checked_conversation_id
from serving.holder import require_assistant
from serving.work import active_training_jobs
from trackers import services
from trackers.reminders import reminders_schedule


class RootView(PublicView):
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
    def get(self, request: Request) -> Response:
        assistant = require_assistant()
        return Response(
            {
                "model_file": assistant.file_name,
                "model_id": assistant.model_id,
                "num_active_training_jobs": active_training_jobs(),
            }
        )


class TrackerView(GuardedView):
    def get(self, request: Request, conversation_id: str) -> Response:
        assistant = require_assistant()
        tracked = services.tracker_fetch(
            sender_id=checked_conversation_id(conversation_id),
            verbosity=verbosity_param(request),
            until=float_param(request, "until"),
            context=assistant.tracker_context(),
        )
        return tracker_response(tracked)

    def put(self, request: Request, conversation_id: str) -> Response:
        """Rasa Core 0.x ``PUT /conversations/{id}/tracker``: replace the tracker."""
        return replace_tracker(request, conversation_id)


def schedule_reminders(sender_id: str, events: list) -> None:
    """``execute_side_effects=true``: the posted reminders are scheduled (and cancelled)."""
    reminders_schedule(sender_id=sender_id, events=events)


def tracker_response(tracked: services.TrackerResponse) -> Response:
    """The state, with the conversation version as ``ETag`` (a header Rasa clients ignore)."""
    return Response(tracked.state, headers={"ETag": tracked.etag})


def replace_tracker(request: Request, conversation_id: str) -> Response:
    assistant = require_assistant()
    events = events_body(request)
    tracked = services.tracker_events_replace(
        sender_id=checked_conversation_id(conversation_id),
        events=events,
        verbosity=verbosity_param(request),
        context=assistant.tracker_context(),
        if_match=request.headers.get("If-Match"),
    )
    return tracker_response(tracked)


class TrackerEventsView(GuardedView):
    def post(self, request: Request, conversation_id: str) -> Response:
        assistant = require_assistant()
        events = events_body(request)
        sender_id = checked_conversation_id(conversation_id)
        tracked = services.tracker_events_append(
            sender_id=sender_id,
            events=events,
            verbosity=verbosity_param(request),
            context=assistant.tracker_context(),
            if_match=request.headers.get("If-Match"),
            side_effects=(
                functools.partial(schedule_reminders, sender_id)
                if bool_param(request, "execute_side_effects", False)
                else None
            ),
        )
        return tracker_response(tracked)

    def put(self, request: Request, conversation_id: str) -> Response:
        return replace_tracker(request, conversation_id)


class ConversationListView(GuardedView):
    @extend_schema(responses={200: {"type": "array", "items": {"type": "string"}}})
    def get(self, request: Request) -> Response:
        return Response(services.conversation_ids())
