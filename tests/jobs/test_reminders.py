"""Reminders: stored, fired at their time through a locked turn, or not at all.

No test waits on the wall clock: a reminder either is due when it is set (and the test
awaits its outcome), or is set far ahead and made due by moving its stored time, then
fired by the same service the task calls.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connections, transaction

from engine.events import ReminderCancelled, ReminderScheduled, Restarted, UserUttered
from engine.model import load_model
from serving.holder import assistant_from_model, assistant_set
from tests.jobs.conftest import wait_for
from trackers import store
from trackers.locks import conversation_locked
from trackers.models import Reminder
from trackers.reminders import reminder_fire, reminders_overdue, reminders_schedule

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("jobs_env")]

LATER = 3600.0  # far enough ahead that no timer or worker fires it during the test


@pytest.fixture(autouse=True)
def initbot_served(jobs_env, initbot_archive) -> None:
    assistant_set(assistant_from_model(load_model(initbot_archive)))


def set_reminder(
    client, sender: str, *, name: str = "ping", seconds: float = LATER, kill: bool = True
) -> Reminder:
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
    return Reminder.objects.get(sender_id=sender, name=name)


def fire_now(row: Reminder) -> Reminder:
    """Make the stored reminder due (the clock moved on) and fire it as its task would."""
    Reminder.objects.filter(pk=row.pk).update(trigger_at=datetime.now(tz=UTC))
    reminder_fire(reminder_id=row.pk)
    return Reminder.objects.get(pk=row.pk)


def settled(name: str) -> Reminder:
    return wait_for(
        lambda: (
            Reminder.objects.filter(name=name).exclude(status__in=["scheduled", "firing"]).first()
        ),
        what="the reminder to settle",
    )


def events_of(client, sender: str) -> list[dict]:
    return client.get(f"/conversations/{sender}/tracker?include_events=ALL").json()["events"]


def triggered_greet(events: list[dict]) -> bool:
    return any(
        e["event"] == "user" and e["parse_data"]["intent"].get("name") == "greet" for e in events
    )


def test_it_fires_a_due_reminder_through_the_external_intent_path(client):
    set_reminder(client, "ann", seconds=0)
    reminder = settled("ping")
    assert reminder.status == "fired", reminder.outcome
    assert reminder.outcome == "triggered intent 'greet'"
    events = events_of(client, "ann")
    assert triggered_greet(events)
    assert [e["text"] for e in events if e["event"] == "bot"] == ["Hey! How are you?"]


def test_it_does_not_fire_a_cancelled_reminder(client):
    row = set_reminder(client, "bob")
    reminders_schedule(sender_id="bob", events=[ReminderCancelled(name="ping")])
    assert Reminder.objects.get().status == "cancelled"
    before = events_of(client, "bob")
    reminder = fire_now(row)
    assert (reminder.status, reminder.outcome) == ("cancelled", "cancelled")
    assert events_of(client, "bob") == before


def test_the_periodic_sweep_fires_a_reminder_whose_task_was_lost(client):
    """What happens once Redis is back after a turn set a reminder while it was down."""
    row = set_reminder(client, "ida")
    Reminder.objects.filter(pk=row.pk).update(
        trigger_at=datetime.now(tz=UTC) - timedelta(minutes=5)
    )
    assert reminders_overdue() == 1
    reminder = settled("ping")
    assert (reminder.status, reminder.outcome) == ("fired", "triggered intent 'greet'")
    assert triggered_greet(events_of(client, "ida"))


def test_it_cancels_reminders_on_restart(client):
    set_reminder(client, "cy", name="a")
    set_reminder(client, "cy", name="b")
    reminders_schedule(sender_id="cy", events=[Restarted()])
    assert set(Reminder.objects.values_list("status", flat=True)) == {"cancelled"}


def test_it_drops_a_reminder_when_the_user_spoke_since(client):
    row = set_reminder(client, "dee")
    user = {"event": "user", "text": "hello", "parse_data": {"intent": {"name": "greet"}}}
    client.post_json("/conversations/dee/tracker/events", user)
    before = len(events_of(client, "dee"))
    reminder = fire_now(row)
    assert (reminder.status, reminder.outcome) == ("outdated", "the user spoke after it was set")
    assert len(events_of(client, "dee")) == before


def test_it_keeps_a_reminder_without_kill_on_user_msg(client):
    row = set_reminder(client, "eve", kill=False)
    user = {"event": "user", "text": "hello", "parse_data": {"intent": {"name": "greet"}}}
    client.post_json("/conversations/eve/tracker/events", user)
    assert fire_now(row).status == "fired"
    assert [e["text"] for e in events_of(client, "eve") if e["event"] == "bot"] == [
        "Hey! How are you?"
    ]


def test_it_drops_a_reminder_from_before_a_restart_in_the_log(client):
    row = set_reminder(client, "fay")
    client.post_json("/conversations/fay/tracker/events", {"event": "restart"})
    reminder = fire_now(row)
    assert (reminder.status, reminder.outcome) == (
        "outdated",
        "cancelled by a restart or a new session",
    )
    assert not triggered_greet(events_of(client, "fay"))


def test_erasing_a_conversation_erases_its_reminders(client):
    """A reminder names its sender: the GDPR erase takes it too, and its task finds nothing."""
    row = set_reminder(client, "gus")
    assert client.delete("/conversations/gus").status_code == 204
    assert not Reminder.objects.filter(sender_id="gus").exists()
    assert reminder_fire(reminder_id=row.pk) == "nothing to do"


def test_a_user_message_committed_while_the_reminder_waits_for_the_lock_wins(client):
    """The race of a check made outside the lock: a user message that commits after the
    reminder was picked up but before its turn ran would have let it fire. The reminder
    is judged inside its locked turn now, so it sees that message."""
    row = set_reminder(client, "hal")
    Reminder.objects.filter(pk=row.pk).update(trigger_at=datetime.now(tz=UTC))
    outcome: list[str] = []

    def reminder_turn() -> None:
        try:
            outcome.append(reminder_fire(reminder_id=row.pk))
        finally:
            connections.close_all()

    with conversation_locked("hal"):
        firer = threading.Thread(target=reminder_turn)
        firer.start()
        # The reminder is picked up (awaited, not slept on); its turn now waits for the lock.
        wait_for(
            lambda: Reminder.objects.get(pk=row.pk).status == Reminder.Status.FIRING,
            what="the reminder to be picked up",
        )
        conversation = store.conversation_get(sender_id="hal")
        tracker = store.tracker_restore(conversation, None)
        with transaction.atomic():
            store.events_append(conversation, tracker, [UserUttered("hello")], None)
    firer.join(timeout=60)
    assert outcome == ["the user spoke after it was set"]
    reminder = Reminder.objects.get(pk=row.pk)
    assert reminder.status == "outdated"
    assert not triggered_greet(events_of(client, "hal"))


def test_it_stops_waiting_timers_and_keeps_their_rows(client, jobs_env):
    if jobs_env is not None:
        pytest.skip("with a broker the reminder waits in Redis, not on a timer here")
    from trackers.reminders import reminder_timers_cancel

    set_reminder(client, "later", name="later")
    assert reminder_timers_cancel() == 1
    assert reminder_timers_cancel() == 0
    assert Reminder.objects.get(name="later").status == "scheduled"  # the row is not lost
