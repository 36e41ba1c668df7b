"""What each metric counts, recorded in this process by the real services.

Every value is read before and after, as a difference: the metrics are process-wide.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from engine.errors import ModelLoadError
from engine.events import ReminderScheduled
from jobs.callbacks import callback_deliver
from jobs.models import Job
from jobs.services import job_run
from serving.archives import archive_put
from serving.holder import assistant_from_archive
from tests.ops.conftest import sample
from trackers.locks import lock_store
from trackers.models import Conversation, Reminder
from trackers.reminders import reminder_fire, reminders_schedule

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("open_auth", "trained_initbot")]


def say(client, sender: str, text: str = "hello"):
    return client.post_json("/webhooks/rest/webhook", {"sender": sender, "message": text})


def test_it_counts_and_times_each_turn_by_route_and_channel(client):
    ok = {"route": "user_message", "channel": "rest", "outcome": "ok"}
    timed = {"route": "user_message", "channel": "rest"}
    turns, timings = (
        sample("convapi_turns_total", **ok),
        sample("convapi_turn_duration_seconds_count", **timed),
    )
    confidences = sample("convapi_intent_confidence_count")
    for sender in ("m-ann", "m-bob", "m-cy"):
        assert say(client, sender).json()[0]["text"] == "Hey! How are you?"
    assert sample("convapi_turns_total", **ok) - turns == 3
    assert sample("convapi_turn_duration_seconds_count", **timed) - timings == 3
    assert sample("convapi_intent_confidence_count") - confidences == 3


def test_it_labels_a_channel_it_does_not_know_as_other(client):
    labels = {"route": "user_message", "channel": "other", "outcome": "ok"}
    before = sample("convapi_turns_total", **labels)
    body = {"sender": "m-dee", "message": "hello", "input_channel": "made-up-channel"}
    assert client.post_json("/webhooks/rest/webhook", body).status_code == 200
    assert sample("convapi_turns_total", **labels) - before == 1
    assert sample("convapi_turns_total", route="user_message", channel="made-up-channel") == 0


def test_it_counts_an_nlu_fallback_with_the_classifiers_own_confidence(client, trained_initbot):
    text = "12345"
    parsed = trained_initbot.model.parse(text, "m1")
    fallback, best_guess = parsed["intent_ranking"][:2]
    assert fallback == {"name": "nlu_fallback", "confidence": 0.3}
    fallbacks, confidence = (
        sample("convapi_nlu_fallbacks_total"),
        sample("convapi_intent_confidence_sum"),
    )
    say(client, "m-eve", text)
    assert sample("convapi_nlu_fallbacks_total") - fallbacks == 1
    # The threshold the fallback reports says nothing: the classifier's best guess is kept.
    assert sample("convapi_intent_confidence_sum") - confidence == pytest.approx(
        best_guess["confidence"]
    )
    say(client, "m-eve", "hello")  # understood: not a fallback
    assert sample("convapi_nlu_fallbacks_total") - fallbacks == 1


def test_it_counts_a_lock_wait_that_timed_out_and_its_409(client, settings):
    settings.CONVAPI_LOCK_TIMEOUT_SECONDS = 0
    waits = sample("convapi_lock_wait_duration_seconds_count")
    timeouts = sample("convapi_lock_timeouts_total")
    conflicts = sample(
        "convapi_turns_total", route="user_message", channel="rest", outcome="conflict"
    )
    store = lock_store()
    token = store.acquire("m-busy", lifetime=60, wait=0)
    assert token is not None
    try:
        response = say(client, "m-busy")
    finally:
        store.release("m-busy", token)
    assert response.status_code == 409
    assert response.json()["reason"] == "Conflict"
    assert not Conversation.objects.filter(sender_id="m-busy").exists()
    assert sample("convapi_lock_wait_duration_seconds_count") - waits == 1
    assert sample("convapi_lock_timeouts_total") - timeouts == 1
    assert (
        sample("convapi_turns_total", route="user_message", channel="rest", outcome="conflict")
        - conflicts
        == 1
    )


def test_it_counts_and_times_jobs_by_kind_and_outcome(client):
    """Submitted through the API; run here (this test's transaction never commits, so no
    worker and no eager run ever sees the job)."""
    response = client.post(
        "/model/train?async=true", "intents: 5\n", content_type="application/x-yaml"
    )
    assert response.status_code == 202
    failed = {"kind": "train", "outcome": "failed"}
    succeeded = {"kind": "train", "outcome": "succeeded"}
    jobs, timings = (
        sample("convapi_jobs_total", **failed),
        sample("convapi_job_duration_seconds_count", **failed),
    )
    successes = sample("convapi_jobs_total", **succeeded)
    job_run(job_id=response.json()["id"])
    assert Job.objects.get(pk=response.json()["id"]).status == "failed"
    assert sample("convapi_jobs_total", **failed) - jobs == 1
    assert sample("convapi_job_duration_seconds_count", **failed) - timings == 1
    assert sample("convapi_jobs_total", **succeeded) == successes


def finished_job_with_callback(url: str) -> Job:
    now = timezone.now()
    return Job.objects.create(
        kind="train",
        status=Job.Status.SUCCEEDED,
        result={"ok": True},
        started=now,
        finished=now,
        callback_url=url,
        callback_status=Job.Callback.PENDING,
    )


@pytest.mark.parametrize(
    ("failures", "attempts", "outcome"),
    [([], 3, "delivered"), ([503], 3, "retrying"), ([503], 1, "undeliverable")],
)
def test_it_counts_callback_attempts_by_outcome(settings, receiver, failures, attempts, outcome):
    settings.CONVAPI_CALLBACK_ATTEMPTS = attempts
    receiver.failures = list(failures)
    job = finished_job_with_callback(receiver.url)
    before = sample("convapi_callback_attempts_total", outcome=outcome)
    callback_deliver(job_id=str(job.pk))
    assert sample("convapi_callback_attempts_total", outcome=outcome) - before == 1
    assert job.callback_attempts.count() == 1


def due_reminder(sender: str) -> Reminder:
    return Reminder.objects.create(
        sender_id=sender,
        name="nudge",
        intent="greet",
        entities=[],
        trigger_at=timezone.now() - timedelta(seconds=1),
    )


def reminder_set_by_a_turn(client, sender: str) -> Reminder:
    """The reminder event in the log and its row, as a turn's action leaves them (this
    test's transaction never commits, so no task or timer fires it behind the test's back)."""
    reminder = ReminderScheduled("greet", datetime.now(tz=UTC) - timedelta(seconds=1), name="nudge")
    url = f"/conversations/{sender}/tracker/events"
    assert client.post_json(url, reminder.as_dict()).status_code == 200
    reminders_schedule(sender_id=sender, events=[reminder])
    return Reminder.objects.get(sender_id=sender, name="nudge")


def test_it_counts_reminders_by_outcome(client):
    fired, outdated = (
        sample("convapi_reminders_total", outcome="fired"),
        sample("convapi_reminders_total", outcome="outdated"),
    )
    turns = sample("convapi_turns_total", route="reminder", channel="none", outcome="ok")
    row = reminder_set_by_a_turn(client, "m-rem")
    assert reminder_fire(reminder_id=row.pk) == "triggered intent 'greet'"
    assert reminder_fire(reminder_id=due_reminder("m-gone").pk).startswith("the conversation")
    assert sample("convapi_reminders_total", outcome="fired") - fired == 1
    assert sample("convapi_reminders_total", outcome="outdated") - outdated == 1
    assert (
        sample("convapi_turns_total", route="reminder", channel="none", outcome="ok") - turns == 1
    )


def test_it_counts_and_times_model_loads(initbot_archive, tmp_path):
    good = archive_put(path=initbot_archive, name=initbot_archive.name, metadata={})
    broken_file = tmp_path / "broken.tar.gz"
    broken_file.write_bytes(b"not an archive")
    broken = archive_put(path=broken_file, name=broken_file.name, metadata={})
    loads_ok, loads_failed = (
        sample("convapi_model_loads_total", outcome="ok"),
        sample("convapi_model_loads_total", outcome="failed"),
    )
    timings = sample("convapi_model_load_duration_seconds_count")
    assert assistant_from_archive(good).model is not None
    with pytest.raises(ModelLoadError):
        assistant_from_archive(broken)
    assert sample("convapi_model_loads_total", outcome="ok") - loads_ok == 1
    assert sample("convapi_model_loads_total", outcome="failed") - loads_failed == 1
    assert sample("convapi_model_load_duration_seconds_count") - timings == 2
