"""Reminders posted or produced by turns are scheduled (API.md 4.4 execute_side_effects)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from trackers.models import Reminder

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("open_auth", "trained_initbot")]


def reminder_event(name: str) -> dict:
    when = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    return {"event": "reminder", "intent": "greet", "date_time": when, "name": name}


def test_it_schedules_posted_reminders_only_with_execute_side_effects(client):
    url = "/conversations/rem/tracker/events"
    client.post_json(url, reminder_event("quiet"))
    assert not Reminder.objects.exists()
    client.post_json(url + "?execute_side_effects=true", reminder_event("loud"))
    assert list(Reminder.objects.values_list("name", "status")) == [("loud", "scheduled")]


def test_it_cancels_reminders_on_cancel_and_restart(client):
    url = "/conversations/rem2/tracker/events?execute_side_effects=true"
    client.post_json(url, [reminder_event("a"), reminder_event("b")])
    client.post_json(url, {"event": "cancel_reminder", "name": "a"})
    statuses = dict(Reminder.objects.values_list("name", "status"))
    assert statuses == {"a": "cancelled", "b": "scheduled"}
    client.post_json("/webhooks/rest/webhook", {"sender": "rem2", "message": "/restart"})
    assert Reminder.objects.get(name="b").status == "cancelled"
