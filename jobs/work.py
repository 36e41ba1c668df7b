"""What each kind of job does, given its row: train, test intents, test stories.

The work is the same service the synchronous routes used (convapi.modelops); this module
only turns a job's stored parameters into its arguments and reports progress.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from django.utils import timezone

from convapi import modelops
from convapi.assistant import current_assistant
from convapi.errors import no_model_loaded
from jobs.models import Job

PROGRESS_EVERY_SECONDS = 0.5

Outcome = tuple[dict[str, Any], str]  # (result, result_file)


def job_work(job: Job) -> Outcome:
    """Do the job's work; raises ApiError for what the client got wrong."""
    return _WORK[job.kind](job)


def _train(job: Job) -> Outcome:
    params = job.params
    output = params.get("output_dir")
    path = modelops.model_train(
        document=job.body,
        output_dir=Path(output) if output else None,
        force=bool(params.get("force_training", False)),
        augmentation=int(params.get("augmentation", 50)),
        progress=progress_reporter(job),
    )
    result = {"filename": path.name, "size": path.stat().st_size}
    return result, str(path)


def _test_intents(job: Job) -> Outcome:
    params = job.params
    folds = int(params.get("cross_validation_folds") or 0)
    report = modelops.nlu_test(
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
    report = modelops.stories_test(
        text=job.body, e2e=bool(job.params.get("e2e", False)), assistant=assistant
    )
    return report, ""


_WORK: dict[str, Callable[[Job], Outcome]] = {
    Job.Kind.TRAIN: _train,
    Job.Kind.TEST_INTENTS: _test_intents,
    Job.Kind.TEST_STORIES: _test_stories,
}


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
