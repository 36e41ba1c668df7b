"""Admin test fixtures: staff clients with chosen permissions and a conversation factory."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission, User

from tests.api.conftest import (  # noqa: F401 - fixtures shared with the API tests
    ApiClient,
    _no_model_from_settings,
    initbot,
    open_auth,
    token_auth,
    trained_initbot,
)
from trackers.models import Conversation

PASSWORD = "pw-123456"
CHANGELIST = "/admin/trackers/conversation/"


def user_event(text: str, intent: str | None, confidence: float = 1.0, **extra) -> dict:
    parse = {"intent": {"name": intent, "confidence": confidence} if intent else {}}
    parse["entities"] = extra.pop("entities", [])
    return {"event": "user", "text": text, "parse_data": parse, **extra}


def action_event(name: str) -> dict:
    return {"event": "action", "name": name, "policy": "RulePolicy", "confidence": 1.0}


def bot_event(text: str, **data) -> dict:
    return {"event": "bot", "text": text, "data": data}


def chat(client, sender_id: str, *turns: tuple, channel: str | None = None) -> Conversation:
    """Store turns of (text, intent, confidence, action, bot text) as a real client would."""
    events = []
    for text, intent, confidence, action, bot_text in turns:
        extra = {"input_channel": channel} if channel else {}
        events += [user_event(text, intent, confidence, **extra), action_event(action)]
        if bot_text:
            events.append(bot_event(bot_text))
        events.append(action_event("action_listen"))
    response = client.post_json(f"/conversations/{sender_id}/tracker/events", events)
    assert response.status_code == 200, response.content
    return Conversation.objects.get(sender_id=sender_id)


def greeting(client, sender_id: str, text: str = "hello there", **kwargs) -> Conversation:
    return chat(
        client, sender_id, (text, "greet", 0.95, "utter_greet", "Hey! How are you?"), **kwargs
    )


def staff_user(username: str, *codenames: str) -> User:
    user = User.objects.create_user(username, f"{username}@example.com", PASSWORD, is_staff=True)
    user.user_permissions.set(Permission.objects.filter(codename__in=codenames))
    return user


@pytest.fixture
def client() -> ApiClient:
    return ApiClient()


@pytest.fixture
def reviewer(client):
    """A superuser's client: may read, correct and delete."""
    # force_login: the login form's lockout backend (django-axes) is not under test here.
    client.force_login(User.objects.create_superuser("reviewer", "r@example.com", PASSWORD))
    return client


@pytest.fixture
def reader(client):
    """Staff with view permissions only: reads, never writes."""
    client.force_login(staff_user("reader", "view_conversation", "view_tag", "view_correction"))
    return client
