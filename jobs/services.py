"""Jobs: submit, run (claimed, heartbeat, final state), wait, and recover from lost workers.

A job row is claimed with a conditional UPDATE before any work, so a task delivered
twice does the work once; a job whose worker died (no heartbeat for
CONVAPI_JOB_STALE_SECONDS) is taken over and re-run, at most CONVAPI_JOB_MAX_RUNS runs,
then failed with the reason. Nothing stays "running" forever.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.db import close_old_connections, connection, transaction
from django.db.models import F
from django.utils import timezone
from kombu.exceptions import OperationalError as BrokerUnreachable

from engine.errors import ServiceError, broker_unavailable, work_failed, work_over_limit
from jobs.kinds import job_kind
from jobs.limits import LimitExceeded, limited_call
from jobs.metrics import job_finished
from jobs.models import Job

logger = logging.getLogger(__name__)


class JobBusy(Exception):
    """Another run of this job is alive (its heartbeat is fresh): try again later."""


def job_submit(*, kind: str, params: dict[str, Any], body: str, callback_url: str = "") -> Job:
    """Store the job and hand it to a worker once the row is committed.

    With the broker down the job is refused (503) and its row marked failed with that
    reason: nothing would ever pick up a queued row whose message was never sent.
    """
    job = Job.objects.create(
        kind=kind,
        params=params,
        body=body,
        callback_url=callback_url,
        callback_status=Job.Callback.PENDING if callback_url else Job.Callback.NONE,
    )
    try:
        job_enqueue(job_id=str(job.pk))
    except BrokerUnreachable as exc:
        logger.error("Job %s refused: the broker is not reachable: %s", job.pk, exc)
        refusal = broker_unavailable()
        Job.objects.filter(pk=job.pk, status=Job.Status.QUEUED).update(
            status=Job.Status.FAILED,
            finished=timezone.now(),
            error=refusal.body(),
            callback_status=Job.Callback.NONE,
        )
        job_finished(kind=kind, outcome="refused", seconds=None)
        raise refusal from exc
    return job


def deliveries_submit(*, kind: str, results: list[dict[str, Any]], callback_url: str) -> list[Job]:
    """Deliver each of ``results`` to ``callback_url``, in order, as a job's callback is:
    a finished job row each, its attempts logged, retried with the same backoff."""
    now = timezone.now()
    with transaction.atomic():
        jobs = Job.objects.bulk_create(
            Job(
                kind=kind,
                status=Job.Status.SUCCEEDED,
                progress=1.0,
                started=now,
                finished=now,
                result=result,
                callback_url=callback_url,
                callback_status=Job.Callback.PENDING,
            )
            for result in results
        )
        _callbacks_on_commit(jobs)
    return jobs


def job_refused(
    *, kind: str, params: dict[str, Any], error: dict[str, Any], callback_url: str
) -> Job:
    """A job whose request was refused before it ran, recorded as failed with the error body
    its callback receives: Rasa answers a request naming a ``callback_url`` before it looks
    at the body, and reports what is wrong with it to the callback."""
    with transaction.atomic():
        job = Job.objects.create(
            kind=kind,
            params=params,
            status=Job.Status.FAILED,
            finished=timezone.now(),
            error=error,
            callback_url=callback_url,
            callback_status=Job.Callback.PENDING,
        )
        _callbacks_on_commit([job])
    job_finished(kind=kind, outcome="refused", seconds=None)
    logger.info("Job %s (%s) refused: %s", job.pk, kind, error.get("message"))
    return job


def _callbacks_on_commit(jobs: list[Job]) -> None:
    if not jobs:
        return
    from jobs.tasks import deliver_callbacks

    job_ids = [str(job.pk) for job in jobs]
    # The rows are stored: a broker that refuses the task is logged, not raised.
    transaction.on_commit(lambda: deliver_callbacks.delay(job_ids), robust=True)


def job_enqueue(*, job_id: str) -> None:
    from jobs.tasks import run_job

    transaction.on_commit(lambda: run_job.delay(job_id))


def job_wait(*, job: Job, timeout: float) -> Job:
    """Wait for a job to finish (the request of a client that did not ask for async).

    Without a broker the job already ran, eagerly, when its row was committed.
    """
    deadline = time.monotonic() + timeout
    job.refresh_from_db()
    while not job.done and time.monotonic() < deadline:
        time.sleep(0.2)
        job.refresh_from_db()
    return job


def job_run(*, job_id: str) -> None:
    """Claim the job, do its work, record the outcome; a no-op when already done."""
    job = _job_claim(job_id)
    if job is None:
        return
    try:
        with _heartbeat(job_id):
            # In a child process under the job limits (jobs/limits.py): a runaway job
            # fails here with its reason, and this process (a web worker when eager) lives.
            outcome = limited_call(
                lambda: _job_work(job),
                memory_mb=settings.CONVAPI_JOB_MEMORY_MB,
                cpu_seconds=settings.CONVAPI_JOB_CPU_SECONDS,
                wall_seconds=settings.CONVAPI_JOB_TIME_LIMIT,
            )
    except SoftTimeLimitExceeded:
        limit = settings.CONVAPI_JOB_TIME_LIMIT
        _job_finish(job, error=_failure(job, f"The job ran longer than its limit of {limit} s."))
    except LimitExceeded as exc:
        logger.warning("Job %s stopped: %s", job_id, exc)
        _job_finish(job, error=work_over_limit(_failure_reason(job), str(exc)).body())
    except Exception as exc:  # noqa: BLE001 - recorded on the job, never lost
        logger.exception("Job %s failed", job_id)
        _job_finish(job, error=_failure(job, f"An unexpected error occurred. Error: {exc}"))
    else:
        _job_finish(job, **outcome)


def _job_work(job: Job) -> dict[str, Any]:
    """The kind's work, as ``_job_finish``'s arguments (run in the limited child process)."""
    try:
        result, result_file = job_kind(job.kind).work(job)
    except ServiceError as exc:
        return {"error": exc.body()}
    return {"result": result, "result_file": result_file}


def _failure(job: Job, message: str) -> dict[str, Any]:
    return work_failed(_failure_reason(job), message).body()


def _failure_reason(job: Job) -> str:
    try:
        return job_kind(job.kind).failure_reason
    except LookupError:
        return "UnexpectedError"


def _job_claim(job_id: str) -> Job | None:
    """The job, now ours to run; None if there is nothing to do. JobBusy if it runs elsewhere."""
    now = timezone.now()
    claimed = Job.objects.filter(pk=job_id, status=Job.Status.QUEUED).update(
        status=Job.Status.RUNNING, started=now, heartbeat=now, runs=F("runs") + 1
    )
    job = Job.objects.filter(pk=job_id).first()
    if claimed or job is None or job.done:
        return job if claimed else None
    # Running: either alive elsewhere (a duplicate delivery) or its worker died.
    if job.heartbeat and job.heartbeat > now - _stale_after():
        raise JobBusy(job_id)
    return _job_take_over(job, now)


def _job_take_over(job: Job, now: Any) -> Job | None:
    if job.runs >= settings.CONVAPI_JOB_MAX_RUNS:
        _job_fail_lost(job)
        return None
    taken = Job.objects.filter(pk=job.pk, status=Job.Status.RUNNING, runs=job.runs).update(
        started=now, heartbeat=now, progress=0.0, runs=F("runs") + 1
    )
    if not taken:
        return None  # another worker took it over first
    logger.warning("Job %s lost its worker; running it again (run %s)", job.pk, job.runs + 1)
    job.refresh_from_db()
    return job


def _job_fail_lost(job: Job) -> None:
    message = (
        f"The worker running this job stopped (killed or lost) {job.runs} time(s); "
        "the job was not retried again."
    )
    _job_finish(job, error=_failure(job, message), only_if_runs=job.runs)


def _job_finish(
    job: Job,
    *,
    result: dict[str, Any] | None = None,
    result_file: str = "",
    error: dict[str, Any] | None = None,
    only_if_runs: int | None = None,
) -> None:
    """Record the final state and, in the same transaction, queue the callback."""
    status = Job.Status.FAILED if error is not None else Job.Status.SUCCEEDED
    rows = Job.objects.filter(pk=job.pk, status=Job.Status.RUNNING)
    if only_if_runs is not None:
        rows = rows.filter(runs=only_if_runs)
    finished = timezone.now()
    with transaction.atomic():
        updated = rows.update(
            status=status,
            finished=finished,
            progress=1.0 if error is None else F("progress"),
            result=result,
            result_file=result_file,
            error=error,
        )
        if updated and job.callback_url:
            from jobs.tasks import deliver_callbacks

            job_ids = [str(job.pk)]
            transaction.on_commit(lambda: deliver_callbacks.delay(job_ids))
    if updated:
        seconds = (finished - job.started).total_seconds() if job.started else None
        job_finished(kind=job.kind, outcome=status, seconds=seconds)
        logger.info("Job %s (%s) %s after %.1f s", job.pk, job.kind, status, seconds or 0.0)


def jobs_reap() -> int:
    """Hand jobs whose worker died back to the queue (or fail them); how many were found."""
    stale = Job.objects.filter(
        status=Job.Status.RUNNING, heartbeat__lt=timezone.now() - _stale_after()
    )
    found = 0
    for job in stale:
        found += 1
        if job.runs >= settings.CONVAPI_JOB_MAX_RUNS:
            _job_fail_lost(job)
            continue
        requeued = Job.objects.filter(
            pk=job.pk, status=Job.Status.RUNNING, runs=job.runs, heartbeat=job.heartbeat
        ).update(status=Job.Status.QUEUED, progress=0.0)
        if requeued:
            logger.warning("Job %s lost its worker; queued again", job.pk)
            job_enqueue(job_id=str(job.pk))
    return found


def _stale_after() -> timedelta:
    return timedelta(seconds=settings.CONVAPI_JOB_STALE_SECONDS)


@contextmanager
def _heartbeat(job_id: str) -> Iterator[None]:
    """Refresh the job's heartbeat from a thread while the work runs."""
    stop = threading.Event()
    thread = threading.Thread(target=_beat, args=(job_id, stop), daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=5)


def _beat(job_id: str, stop: threading.Event) -> None:
    try:
        while not stop.wait(settings.CONVAPI_JOB_HEARTBEAT_SECONDS):
            Job.objects.filter(pk=job_id, status=Job.Status.RUNNING).update(
                heartbeat=timezone.now()
            )
    finally:
        close_old_connections()
        connection.close()
