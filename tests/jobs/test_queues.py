"""Two Celery queues: long work on "training", what must run on time on "realtime"."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

import convapi.tasks
import jobs.tasks
import serving.tasks
import trackers.tasks
from config.celery import app
from engine.events import ReminderScheduled
from engine.model import load_model
from jobs.models import Job
from jobs.services import job_submit
from serving.holder import assistant_from_model, assistant_set
from tests.jobs.conftest import training_document, wait_for
from tests.jobs.worker_app import HELD_TRAINING
from trackers.models import Reminder
from trackers.reminders import reminders_schedule

# Imported, so that each app's tasks are registered as a worker's autodiscovery does.
TASK_MODULES = (convapi.tasks, jobs.tasks, serving.tasks, trackers.tasks)
TASK_QUEUES = {
    "jobs.tasks.run_job": "training",
    "convapi.tasks.prune": "training",
    "trackers.tasks.fire_reminder": "realtime",
    "trackers.tasks.fire_due_reminders": "realtime",
    "jobs.tasks.deliver_callbacks": "realtime",
    "jobs.tasks.reap_stale_jobs": "realtime",
    "serving.tasks.pull_model_server": "realtime",
}


def test_it_routes_long_work_and_on_time_work_to_their_own_queues():
    routed = {name: app.amqp.router.route({}, name)["queue"].name for name in TASK_QUEUES}
    assert routed == TASK_QUEUES
    assert set(TASK_QUEUES) <= set(app.tasks), "every routed task exists"


def test_a_worker_without_queues_named_consumes_both():
    assert sorted(queue.name for queue in app.conf.task_queues) == ["realtime", "training"]


def test_every_periodic_task_is_a_registered_task():
    assert {entry["task"] for entry in app.conf.beat_schedule.values()} <= set(app.tasks)


@pytest.mark.django_db(transaction=True)
def test_a_due_reminder_fires_while_two_trainings_fill_their_worker(
    client, jobs_env, initbot_archive
):
    if jobs_env is None:
        pytest.skip("needs real worker processes (CELERY_BROKER_URL)")
    assistant_set(assistant_from_model(load_model(initbot_archive)))
    trainings = [
        job_submit(kind=HELD_TRAINING, params={"force_training": True}, body=training_document())
        for _ in range(2)
    ]
    held = Job.objects.filter(pk__in=[job.pk for job in trainings])
    # Both run at once: the training worker (concurrency 2) has no slot left.
    wait_for(lambda: held.filter(status="running").count() == 2, what="both trainings to run")

    reminder = ReminderScheduled("greet", datetime.now(tz=UTC), name="on-time")
    url = "/conversations/ann/tracker/events"
    assert client.post_json(url, reminder.as_dict()).status_code == 200
    reminders_schedule(sender_id="ann", events=[reminder])
    fired = wait_for(
        lambda: Reminder.objects.filter(name="on-time", status="fired").first(),
        what="the reminder to fire",
    )
    assert fired.outcome == "triggered intent 'greet'"
    events = client.get("/conversations/ann/tracker?include_events=ALL").json()["events"]
    assert [e["text"] for e in events if e["event"] == "bot"] == ["Hey! How are you?"]
    # Held until released below, the trainings were running all along.
    assert list(held.values_list("status", flat=True)) == ["running", "running"]

    held.update(params={"release": True})
    wait_for(lambda: not held.exclude(status__in=["succeeded", "failed"]).exists(), what="done")
    for job in held:
        assert job.status == "succeeded", job.error
        assert job.result["filename"].endswith(".tar.gz")
