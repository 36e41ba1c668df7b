"""A failed custom action's reason: stored beside the event for the reviewer, never in
the tracker JSON the API returns (which stays Rasa's)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

import pytest
from django.utils.html import escape

from serving.holder import assistant_from_model, assistant_set
from tests.admin.conftest import CHANGELIST
from tests.engine.processor_support import formbot_model, free_port
from trackers.models import Conversation, Event

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("open_auth")]


@pytest.fixture
def action_server_down(settings, tmp_path) -> Iterator[None]:
    """formbot served, its action endpoint a port nothing listens on."""
    endpoints = tmp_path / "endpoints.yml"
    endpoints.write_text(f"action_endpoint:\n  url: http://127.0.0.1:{free_port()}/webhook\n")
    settings.CONVAPI_ENDPOINTS = str(endpoints)
    assistant_set(assistant_from_model(formbot_model()))
    yield
    assistant_set(None)


def failed_turn(client, sender: str) -> Conversation:
    """A message, then ``action_set_name`` executed while the action server is down."""
    said = client.post_json("/webhooks/rest/webhook", {"sender": sender, "message": "/greet"})
    assert said.status_code == 200, said.content
    ran = client.post_json(f"/conversations/{sender}/execute", {"name": "action_set_name"})
    assert ran.status_code == 200, ran.content
    return Conversation.objects.get(sender_id=sender)


@pytest.mark.usefixtures("action_server_down")
def test_it_stores_why_a_custom_action_failed_beside_the_event(client):
    conversation = failed_turn(client, "down")
    failed = conversation.events.get(action_name="action_set_name")
    assert "action server" in failed.failure.lower()
    assert "failure" not in failed.data
    others = conversation.events.exclude(pk=failed.pk)
    assert list(others.exclude(failure="").values_list("seq", flat=True)) == []


@pytest.mark.usefixtures("action_server_down")
def test_it_keeps_the_reason_out_of_the_tracker_json(client):
    conversation = failed_turn(client, "hidden")
    reason = conversation.events.get(action_name="action_set_name").failure
    tracker = client.get("/conversations/hidden/tracker?include_events=ALL")
    assert tracker.status_code == 200
    body = tracker.json()
    executed = [e for e in body["events"] if e.get("name") == "action_set_name"]
    assert len(executed) == 1 and "failure" not in executed[0]
    assert reason not in json.dumps(body) and "failure" not in json.dumps(body)


@pytest.mark.usefixtures("action_server_down")
def test_it_marks_the_failed_action_red_with_its_reason(client, reviewer):
    conversation = failed_turn(client, "red")
    reason = Event.objects.get(conversation=conversation, action_name="action_set_name").failure
    page = reviewer.get(f"{CHANGELIST}{conversation.pk}/change/").content.decode()
    failed = re.search(r'<div class="t-event action failed[^"]*"[^>]*>(.*?)</div>', page, re.S)
    assert failed is not None and "action_set_name</b>" in failed[1]
    assert f'<span class="failure-reason">failed: {escape(reason)}</span>' in failed[1]
    assert page.count('class="failure-reason"') == 1
