"""Serving's kinds of job: train, test intents, test stories, registered with ``jobs``.

The work is the model services' (serving.services); this module only turns a job's
stored parameters into their arguments and reports progress.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from django.utils import timezone

from engine.errors import no_model_loaded
from jobs.kinds import JobKind, Outcome, job_kind_register
from jobs.models import Job
from jobs.selectors import job_count_running
from serving import services
from serving.archives import archive_fetch
from serving.holder import current_assistant

PROGRESS_EVERY_SECONDS = 0.5

TRAIN = "train"
TEST_STORIES = "test_stories"
TEST_INTENTS = "test_intents"


def active_training_jobs() -> int:
    """Trainings running anywhere (every worker of every host), counted from their rows."""
    return job_count_running(kind=TRAIN)


def _train(job: Job) -> Outcome:
    params = job.params
    archive = services.model_train(
        document=job.body,
        force=bool(params.get("force_training", False)),
        augmentation=int(params.get("augmentation", 50)),
        progress=progress_reporter(job),
    )
    result = {"filename": archive.name, "size": archive.size, "sha256": archive.sha256}
    # The store is what every host reads (the client's answer, GET /models); the cached
    # copy on this host is what the callback sends.
    return result, str(archive_fetch(archive))


def _trained_archive_here(job: Job) -> Path:
    """The trained archive in this host's cache, fetched from the store if it ran elsewhere."""
    return services.model_archive_file(sha256=job.result["sha256"])


def _test_intents(job: Job) -> Outcome:
    params = job.params
    folds = int(params.get("cross_validation_folds") or 0)
    report = services.nlu_test(
        text=job.body,
        is_yaml=bool(params.get("is_yaml", True)),
        model_path=params.get("model"),
        folds=folds if folds > 1 else None,
        assistant=current_assistant(),
    )
    return report, ""


def _test_stories(job: Job) -> Outcome:
    assistant = current_assistant()
    if assistant is None:
        raise no_model_loaded()
    report = services.stories_test(
        text=job.body, e2e=bool(job.params.get("e2e", False)), assistant=assistant
    )
    return report, ""


def register_job_kinds() -> None:
    """Called from ``ServingConfig.ready()``; work raises ServiceError for the client's mistakes."""
    job_kind_register(
        JobKind(
            TRAIN,
            _train,
            failure_reason="TrainingError",
            local_result_file=_trained_archive_here,
        )
    )
    job_kind_register(JobKind(TEST_INTENTS, _test_intents, failure_reason="TestingError"))
    job_kind_register(JobKind(TEST_STORIES, _test_stories, failure_reason="TestingError"))


def progress_reporter(job: Job) -> Callable[[str, float], None]:
    """A training progress callback that writes to the row at most twice a second."""
    last = [0.0]

    def report(name: str, fraction: float) -> None:
        now = time.monotonic()
        if now - last[0] < PROGRESS_EVERY_SECONDS and fraction < 1.0:
            return
        last[0] = now
        Job.objects.filter(pk=job.pk, status=Job.Status.RUNNING).update(
            progress=max(0.0, min(1.0, fraction)), heartbeat=timezone.now()
        )

    return report
