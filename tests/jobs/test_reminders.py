"""Reminders: stored, fired at their time through the external-intent path, or not at all."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest

from convapi.assistant import assistant_from_model, assistant_set
from engine.events import ReminderCancelled, ReminderScheduled, Restarted
from engine.model import load_model
from jobs.models import Reminder
from jobs.reminders import reminders_schedule
from tests.jobs.conftest import wait_for

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("jobs_env")]


@pytest.fixture(autouse=True)
def initbot_served(jobs_env, initbot_archive) -> None:
    assistant_set(assistant_from_model(load_model(initbot_archive)))


def set_reminder(
    client, sender: str, *, name: str = "ping", seconds: float = 1.0, kill: bool = True
) -> None:
    reminder = ReminderScheduled(
        "greet",
        datetime.now(tz=UTC) + timedelta(seconds=seconds),
        name=name,
        kill_on_user_message=kill,
    )
    url = f"/conversations/{sender}/tracker/events"
    assert client.post_json(url, reminder.as_dict()).status_code == 200
    # What the turn does with the reminders its actions returned.
    reminders_schedule(sender_id=sender, events=[reminder])


def settled(name: str) -> Reminder:
    return wait_for(
        lambda: (
            Reminder.objects.filter(name=name).exclude(status__in=["scheduled", "firing"]).first()
        ),
        what="the reminder to settle",
    )


def events_of(client, sender: str) -> list[dict]:
    return client.get(f"/conversations/{sender}/tracker?include_events=ALL").json()["events"]


def test_it_fires_a_reminder_through_the_external_intent_path(client):
    set_reminder(client, "ann")
    assert Reminder.objects.get().status == "scheduled"
    reminder = settled("ping")
    assert reminder.status == "fired", reminder.outcome
    texts = [e.get("text") for e in events_of(client, "ann")]
    assert "EXTERNAL: greet" in texts or any(
        e["event"] == "user" and e["parse_data"]["intent"]["name"] == "greet"
        for e in events_of(client, "ann")
    )
    assert any(e["event"] == "bot" for e in events_of(client, "ann"))


def test_it_does_not_fire_a_cancelled_reminder(client):
    set_reminder(client, "bob", seconds=1.0)
    reminders_schedule(sender_id="bob", events=[ReminderCancelled(name="ping")])
    assert Reminder.objects.get().status == "cancelled"
    before = len(events_of(client, "bob"))
    time.sleep(1.5)
    assert Reminder.objects.get().status == "cancelled"
    assert len(events_of(client, "bob")) == before


def test_it_cancels_reminders_on_restart(client):
    set_reminder(client, "cy", name="a", seconds=30)
    set_reminder(client, "cy", name="b", seconds=30)
    reminders_schedule(sender_id="cy", events=[Restarted()])
    assert set(Reminder.objects.values_list("status", flat=True)) == {"cancelled"}


def test_it_drops_a_reminder_when_the_user_spoke_since(client):
    set_reminder(client, "dee", seconds=1.5)
    user = {"event": "user", "text": "hello", "parse_data": {"intent": {"name": "greet"}}}
    client.post_json("/conversations/dee/tracker/events", user)
    reminder = settled("ping")
    assert reminder.status == "outdated"
    assert "user spoke" in reminder.outcome


def test_it_keeps_a_reminder_without_kill_on_user_msg(client):
    set_reminder(client, "eve", seconds=1.5, kill=False)
    user = {"event": "user", "text": "hello", "parse_data": {"intent": {"name": "greet"}}}
    client.post_json("/conversations/eve/tracker/events", user)
    assert settled("ping").status == "fired"


def test_it_drops_a_reminder_from_before_a_restart_in_the_log(client):
    set_reminder(client, "fay", seconds=1.5)
    client.post_json("/conversations/fay/tracker/events", {"event": "restart"})
    reminder = settled("ping")
    assert reminder.status == "outdated"
    assert "restart" in reminder.outcome


def test_it_stops_waiting_timers_and_keeps_their_rows(client, jobs_env):
    if jobs_env is not None:
        pytest.skip("with a broker the reminder waits in Redis, not on a timer here")
    from jobs.reminders import reminder_timers_cancel

    set_reminder(client, "later", name="later", seconds=3600)
    assert reminder_timers_cancel() == 1
    assert reminder_timers_cancel() == 0
    assert Reminder.objects.get(name="later").status == "scheduled"  # the row is not lost
