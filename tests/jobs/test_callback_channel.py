"""The callback channel (API.md 14.3) and pushed bot messages: a turn's messages are POSTed
to the channel's URL, one job row each with its attempts, in order, retried like a job's
callback; a reminder or ``/trigger_intent`` with ``output_channel`` pushes to the channel
the user last wrote from; REST, which cannot push, keeps them in the answer."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from engine.events import ReminderScheduled
from engine.model import load_model
from jobs.models import Job
from serving.holder import assistant_from_model, assistant_set
from tests.jobs.conftest import wait_for
from trackers.models import Event, Reminder
from trackers.reminders import reminder_fire, reminders_schedule

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("jobs_env")]

GREETING = "Hey! How are you?"


@pytest.fixture(autouse=True)
def initbot_served(jobs_env, initbot_archive) -> None:
    assistant_set(assistant_from_model(load_model(initbot_archive)))


@pytest.fixture
def callback_channel(settings, tmp_path, receiver):
    """credentials.yml opening the REST and callback channels, the callback to ``receiver``."""
    path = tmp_path / "credentials.yml"
    path.write_text(f"rest:\ncallback:\n  url: {receiver.url}\n")
    settings.CONVAPI_CREDENTIALS = str(path)
    return receiver


def delivered_jobs(count: int) -> list[Job]:
    def settled() -> list[Job]:
        jobs = list(Job.objects.filter(kind="channel_message").order_by("created"))
        done = [job for job in jobs if job.callback_status != Job.Callback.PENDING]
        return jobs if len(jobs) >= count and len(done) == len(jobs) else []

    return wait_for(settled, what="the channel's messages to settle")


def test_it_answers_success_and_posts_the_bots_messages_to_the_url(client, callback_channel):
    response = client.post_json("/webhooks/callback/webhook", {"sender": "cb-ann", "message": "hi"})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    assert response.content == b"success"
    received = callback_channel.wait(1)
    assert [r.json() for r in received] == [{"recipient_id": "cb-ann", "text": GREETING}]
    assert received[0].headers["Content-Type"] == "application/json"
    (job,) = delivered_jobs(1)
    assert job.callback_status == "delivered"
    assert job.result == {"recipient_id": "cb-ann", "text": GREETING}
    assert [a.delivered for a in job.callback_attempts.all()] == [True]
    user = Event.objects.get(conversation__sender_id="cb-ann", type_name="user")
    assert user.data["input_channel"] == "callback"
    assert client.get("/webhooks/callback/").json() == {"status": "ok"}


def test_the_channel_needs_no_api_token(client, callback_channel, settings):
    settings.CONVAPI_AUTH_TOKEN = "secret"
    response = client.post_json("/webhooks/callback/webhook", {"sender": "cb-tok", "message": "hi"})
    assert response.content == b"success"
    assert callback_channel.wait(1)[0].json() == {"recipient_id": "cb-tok", "text": GREETING}
    assert client.get("/conversations/cb-tok/tracker").status_code == 401  # the API still is


def test_it_retries_a_receiver_that_is_down_and_logs_each_attempt(client, callback_channel):
    callback_channel.failures = ["drop", 503]
    client.post_json("/webhooks/callback/webhook", {"sender": "cb-bob", "message": "hello"})
    assert [r.json()["text"] for r in callback_channel.wait(1)] == [GREETING]
    (job,) = delivered_jobs(1)
    attempts = list(job.callback_attempts.order_by("number"))
    assert [(a.number, a.delivered, a.status_code) for a in attempts] == [
        (1, False, None),
        (2, False, 503),
        (3, True, 200),
    ]


def test_a_receiver_that_refuses_leaves_the_turn_stored(client, callback_channel):
    callback_channel.failures = [400]
    response = client.post_json("/webhooks/callback/webhook", {"sender": "cb-cy", "message": "hi"})
    assert response.content == b"success"
    (job,) = delivered_jobs(1)
    assert job.callback_status == "undeliverable"
    assert [a.status_code for a in job.callback_attempts.all()] == [400]
    bot = Event.objects.filter(conversation__sender_id="cb-cy", type_name="bot")
    assert [row.data["text"] for row in bot] == [GREETING]


def test_bad_input_is_a_400_in_rasas_format_and_posts_nothing(client, callback_channel):
    response = client.post(
        "/webhooks/callback/webhook", "{not json", content_type="application/json"
    )
    assert response.status_code == 400
    assert response.json()["status"] == "failure" and response.json()["code"] == 400
    response = client.post_json("/webhooks/callback/webhook", {"sender": "cb-d", "message": 7})
    assert response.status_code == 400
    assert response.json()["message"] == "'message' must be a string."
    assert not Job.objects.exists()
    assert not Event.objects.exists()


def test_channels_not_in_credentials_answer_404(client, settings, tmp_path):
    path = tmp_path / "credentials.yml"
    path.write_text("socketio:\n")
    settings.CONVAPI_CREDENTIALS = str(path)
    for url in ("/webhooks/callback/webhook", "/webhooks/rest/webhook"):
        response = client.post_json(url, {"sender": "x", "message": "hi"})
        assert response.status_code == 404, url
        assert response.json()["code"] == 404
    assert client.get("/webhooks/rest/").status_code == 404
    assert not Event.objects.exists()


def test_trigger_intent_pushes_to_the_latest_channel_and_answers_too(client, callback_channel):
    client.post_json("/webhooks/callback/webhook", {"sender": "cb-eve", "message": "hi"})
    callback_channel.wait(1)
    response = client.post_json(
        "/conversations/cb-eve/trigger_intent?output_channel=latest", {"name": "mood_unhappy"}
    )
    assert response.status_code == 200
    # The callback output collects what it sends: the messages are answered as well, and
    # POSTed one by one in the order the bot said them (a cheer-up is several).
    answered = response.json()["messages"]
    assert len(answered) > 1
    assert all(message["recipient_id"] == "cb-eve" for message in answered)
    pushed = [r.json() for r in callback_channel.wait(1 + len(answered))]
    assert pushed == [{"recipient_id": "cb-eve", "text": GREETING}, *answered]
    assert Job.objects.filter(kind="channel_message").count() == 1 + len(answered)


def test_trigger_intent_without_a_pushing_channel_answers_only(client, callback_channel):
    client.post_json("/webhooks/rest/webhook", {"sender": "cb-fay", "message": "hi"})
    for channel in ("latest", "rest", "nonesuch", None):
        query = f"?output_channel={channel}" if channel else ""
        response = client.post_json(
            f"/conversations/cb-fay/trigger_intent{query}", {"name": "greet"}
        )
        answered = response.json()["messages"]
        assert answered and all(m["recipient_id"] == "cb-fay" for m in answered), channel
    assert callback_channel.received == []
    assert not Job.objects.exists()


def due_reminder(client, sender: str) -> Reminder:
    reminder = ReminderScheduled(
        "greet", datetime.now(tz=UTC) + timedelta(hours=1), name="nudge", kill_on_user_message=False
    )
    url = f"/conversations/{sender}/tracker/events"
    assert client.post_json(url, reminder.as_dict()).status_code == 200
    reminders_schedule(sender_id=sender, events=[reminder])
    row = Reminder.objects.get(sender_id=sender)
    Reminder.objects.filter(pk=row.pk).update(trigger_at=datetime.now(tz=UTC))
    return row


def test_a_fired_reminder_is_pushed_to_the_callback_channel(client, callback_channel):
    client.post_json("/webhooks/callback/webhook", {"sender": "cb-gus", "message": "hi"})
    callback_channel.wait(1)
    row = due_reminder(client, "cb-gus")
    assert reminder_fire(reminder_id=row.pk) == "triggered intent 'greet'"
    # One message a stored bot event (the greeting's, then the reminder's): wait for all of
    # them, a worker delivers them after the turn.
    stored = Event.objects.filter(conversation__sender_id="cb-gus", type_name="bot")
    pushed = [r.json() for r in callback_channel.wait(len(stored))]
    assert [m["text"] for m in pushed if "text" in m] == [e.data["text"] for e in stored]
    assert all(m["recipient_id"] == "cb-gus" for m in pushed)


def test_a_fired_reminder_over_rest_stays_in_the_tracker(client, callback_channel):
    client.post_json("/webhooks/rest/webhook", {"sender": "cb-hal", "message": "hi"})
    row = due_reminder(client, "cb-hal")
    assert reminder_fire(reminder_id=row.pk) == "triggered intent 'greet'"
    bot = Event.objects.filter(conversation__sender_id="cb-hal", type_name="bot")
    assert len(bot) > 1 and bot[0].data["text"] == GREETING  # the reminder's answer is stored
    assert callback_channel.received == []
    assert not Job.objects.exists()
