"""Lost workers and duplicate deliveries: no job stays "running" forever, none runs twice."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from jobs.models import Job
from jobs.services import job_run, jobs_reap
from tests.jobs.conftest import training_document, wait_for

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("jobs_env")]


def stale_running_job(runs: int) -> Job:
    long_ago = timezone.now() - timedelta(minutes=5)
    return Job.objects.create(
        kind="test_intents",
        status="running",
        runs=runs,
        started=long_ago,
        heartbeat=long_ago,
        params={"is_yaml": True, "cross_validation_folds": 2},
        body=training_document(),
    )


def finished(job: Job) -> Job:
    return wait_for(
        lambda: Job.objects.filter(pk=job.pk, status__in=["succeeded", "failed"]).first(),
        what="the job to finish",
    )


def test_it_runs_again_a_job_whose_worker_stopped_beating(jobs_env):
    job = stale_running_job(runs=1)
    if jobs_env is None:
        jobs_reap()  # eager: the reaper queues it and it runs right here
    job = finished(job)  # with a worker, its beat task finds it
    assert job.status == "succeeded"
    assert job.runs == 2


def test_it_fails_a_job_that_lost_its_worker_too_often(jobs_env):
    job = stale_running_job(runs=2)
    if jobs_env is None:
        jobs_reap()
    job = finished(job)
    assert job.status == "failed"
    assert job.error["code"] == 500
    assert "worker running this job stopped" in job.error["message"]


def test_it_does_nothing_when_a_finished_job_runs_again(receiver):
    job = Job.objects.create(kind="train", status="succeeded", result={"filename": "x.tar.gz"})
    job_run(job_id=str(job.pk))
    job.refresh_from_db()
    assert job.status == "succeeded"
    assert job.runs == 0


@pytest.mark.slow
def test_it_recovers_a_training_when_the_worker_is_killed(client, jobs_env):
    if jobs_env is None:
        pytest.skip("needs a real worker process (CELERY_BROKER_URL)")
    response = client.post(
        "/model/train?async=true&force_training=true",
        training_document("clinc150"),  # seconds of training: long enough to be killed
        content_type="application/x-yaml",
    )
    job = Job.objects.get(pk=response.json()["id"])
    wait_for(
        lambda: Job.objects.filter(pk=job.pk, status="running", progress__gt=0).exists(),
        what="training to start",
    )
    jobs_env.kill()  # SIGKILL: the worker, its pool and its beat vanish mid-training
    assert Job.objects.get(pk=job.pk).status == "running"
    jobs_env.start()
    job = finished(job)
    assert job.status == "succeeded"
    assert job.runs == 2
    assert job.result["filename"].endswith(".tar.gz")
