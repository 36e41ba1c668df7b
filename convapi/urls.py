"""Routes of the Rasa HTTP API.

Conversation ids may contain slashes, so each conversation route matches the id as
everything before its fixed suffix; the regex backtracks to strip the suffix from the
right, as Sanic's ``path`` converter does.
"""

from __future__ import annotations

from django.urls import path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework.negotiation import DefaultContentNegotiation

from convapi import tokens
from convapi.views import channels, health, model, turns
from convapi.views import trackers as views

CONVERSATION = r"^conversations/(?P<conversation_id>.+)"

urlpatterns = [
    path("", views.RootView.as_view(), name="root"),
    path("version", views.VersionView.as_view(), name="version"),
    path("status", views.StatusView.as_view(), name="status"),
    path("conversations", views.ConversationListView.as_view(), name="conversations"),
    re_path(CONVERSATION + r"/tracker/events$", views.TrackerEventsView.as_view(), name="events"),
    re_path(CONVERSATION + r"/tracker$", views.TrackerView.as_view(), name="tracker"),
    re_path(CONVERSATION + r"/messages$", turns.MessagesView.as_view(), name="messages"),
    re_path(CONVERSATION + r"/predict$", turns.PredictView.as_view(), name="predict"),
    re_path(CONVERSATION + r"/execute$", turns.ExecuteView.as_view(), name="execute"),
    re_path(CONVERSATION + r"/trigger_intent$", turns.TriggerIntentView.as_view(), name="trigger"),
    re_path(CONVERSATION + r"/story$", turns.StoryView.as_view(), name="story"),
    re_path(CONVERSATION + r"/respond$", turns.RespondView.as_view(), name="respond"),
    path("health", health.HealthView.as_view(), name="health"),
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
]

urlpatterns += [
    path("model/parse", model.ParseView.as_view(), name="model-parse"),
    path("model/predict", model.ModelPredictView.as_view(), name="model-predict"),
    path("model/train", model.TrainView.as_view(), name="model-train"),
    path("model/test/stories", model.TestStoriesView.as_view(), name="model-test-stories"),
    path("model/test/intents", model.TestIntentsView.as_view(), name="model-test-intents"),
    path("model", model.ModelView.as_view(), name="model"),
    path("domain", model.DomainView.as_view(), name="domain"),
    path("parse", model.LegacyParseView.as_view(), name="legacy-parse"),
]

from convapi.views import jobs  # noqa: E402 - the jobs routes, kept in one block

urlpatterns += [
    path("jobs", jobs.JobListView.as_view(), name="jobs"),
    path("jobs/<str:job_id>", jobs.JobDetailView.as_view(), name="job"),
    path("models", jobs.ModelListView.as_view(), name="models"),
]

from convapi.views import review  # noqa: E402 - the reviewer's erase route, kept last

# Any id, slashes included ("a/b"): it comes last, so the suffix routes above
# (".../tracker", ".../story", ...) match first and keep their own views.
urlpatterns += [
    re_path(CONVERSATION + r"$", review.ConversationView.as_view(), name="conversation"),
]
