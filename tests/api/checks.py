"""Assertions shared by the API tests: Rasa's error body, and "nothing was stored"."""

from __future__ import annotations

from typing import Any

ERROR_KEYS = {"version", "status", "message", "reason", "details", "help", "code"}


def assert_rasa_error(
    response: Any,
    status: int,
    reason: str | None = None,
    *,
    details: dict | None = None,
) -> dict:
    """Rasa's seven-key error body (API.md 2.1), ``code`` equal to the HTTP status."""
    assert response.status_code == status, response.content[:500]
    assert response["Content-Type"].startswith("application/json"), response["Content-Type"]
    body = response.json()
    assert set(body) == ERROR_KEYS, body
    assert body["status"] == "failure"
    assert body["code"] == status
    assert isinstance(body["version"], str) and body["version"]
    assert isinstance(body["message"], str) and body["message"]
    assert isinstance(body["reason"], str) and body["reason"]
    assert isinstance(body["details"], dict)
    assert body["help"] is None or isinstance(body["help"], str)
    if reason is not None:
        assert body["reason"] == reason, body
    if details is not None:
        assert body["details"] == details, body
    return body


def stored_state() -> tuple:
    """Every stored conversation and event, compared before and after a refused request."""
    from trackers.models import Conversation, Event

    conversations = tuple(
        Conversation.objects.order_by("pk").values_list("pk", "sender_id", "event_count", "state")
    )
    events = tuple(
        Event.objects.order_by("pk").values_list("pk", "conversation_id", "seq", "type_name")
    )
    return conversations, events
