"""Routes of the Rasa HTTP API.

Conversation ids may contain slashes: the ``conversation_id`` converter matches ``.+``
(and refuses ids the database cannot hold, for every conversation route). The regex
backtracks to strip each fixed suffix from the right, as Sanic's ``path`` converter does,
so ``a/b/tracker`` is the tracker of ``a/b``; the bare ``conversations/<id>`` route
comes last, after every suffix route.
"""

from __future__ import annotations

from django.urls import path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework.negotiation import DefaultContentNegotiation

from convapi import converters, tokens  # noqa: F401 - converters registers "conversation_id"
from convapi.views import channels, health, jobs, metrics, model, server
from convapi.views.conversations import ConversationViewSet

CONVERSATION = "conversations/<conversation_id:conversation_id>"


def conversation(suffix: str, actions: dict[str, str], name: str):
    return path(CONVERSATION + suffix, ConversationViewSet.as_view(actions), name=name)


urlpatterns = [
    path("", server.RootView.as_view(), name="root"),
    path("version", server.VersionView.as_view(), name="version"),
    path("status", server.StatusView.as_view(), name="status"),
    path("conversations", server.ConversationListView.as_view(), name="conversations"),
    conversation(
        "/tracker/events", {"post": "append_events", "put": "replace_events"}, name="events"
    ),
    # PUT .../tracker is Rasa Core 0.x's name for replacing the events.
    conversation("/tracker", {"get": "tracker", "put": "replace_events"}, name="tracker"),
    conversation("/messages", {"post": "messages"}, name="messages"),
    conversation("/predict", {"post": "predict"}, name="predict"),
    conversation("/execute", {"post": "execute"}, name="execute"),
    conversation("/trigger_intent", {"post": "trigger_intent"}, name="trigger"),
    conversation("/story", {"get": "story"}, name="story"),
    conversation("/respond", {"get": "respond_to_query", "post": "respond"}, name="respond"),
    path("health", health.HealthView.as_view(), name="health"),
    path("health/live", health.LiveView.as_view(), name="health-live"),
    path("health/ready", health.ReadyView.as_view(), name="health-ready"),
    path("metrics", metrics.MetricsView.as_view(), name="metrics"),
    path("auth/token", tokens.TokenView.as_view(), name="auth-token"),
    path("auth/refresh", tokens.RefreshView.as_view(), name="auth-refresh"),
    # The schema view negotiates its format (YAML by default, JSON on request).
    path(
        "api/schema",
        SpectacularAPIView.as_view(content_negotiation_class=DefaultContentNegotiation),
        name="api-schema",
    ),
    path("api/docs", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("webhooks/rest/", channels.RestHealthView.as_view(), name="rest-health"),
    path("webhooks/rest/webhook", channels.RestWebhookView.as_view(), name="rest-webhook"),
    path("webhooks/callback/", channels.CallbackHealthView.as_view(), name="callback-health"),
    path(
        "webhooks/callback/webhook",
        channels.CallbackWebhookView.as_view(),
        name="callback-webhook",
    ),
    path("model/parse", model.ParseView.as_view(), name="model-parse"),
    path("model/predict", model.ModelPredictView.as_view(), name="model-predict"),
    path("model/train", model.TrainView.as_view(), name="model-train"),
    path("model/test/stories", model.TestStoriesView.as_view(), name="model-test-stories"),
    path("model/test/intents", model.TestIntentsView.as_view(), name="model-test-intents"),
    path("model", model.ModelView.as_view(), name="model"),
    path("domain", model.DomainView.as_view(), name="domain"),
    path("parse", model.LegacyParseView.as_view(), name="legacy-parse"),
    path("jobs", jobs.JobListView.as_view(), name="jobs"),
    path("jobs/<str:job_id>", jobs.JobDetailView.as_view(), name="job"),
    path("models", jobs.ModelListView.as_view(), name="models"),
    # Any id, slashes included ("a/b"): last, so the suffix routes above match first.
    conversation("", {"delete": "erase"}, name="conversation"),
]
