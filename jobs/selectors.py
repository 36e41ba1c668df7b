"""Reads of jobs and stored models, for the API and /status."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from django.db.models import QuerySet

from engine.archive import read_archive_metadata
from engine.errors import ModelLoadError
from jobs.models import Job

ARCHIVE_SUFFIX = ".tar.gz"


def job_running_trainings() -> int:
    return Job.objects.filter(kind=Job.Kind.TRAIN, status=Job.Status.RUNNING).count()


def job_get(*, job_id: str) -> Job | None:
    try:
        key = uuid.UUID(job_id)
    except ValueError:
        return None
    return Job.objects.prefetch_related("callback_attempts").filter(pk=key).first()


def job_list(*, kind: str | None = None, status: str | None = None) -> QuerySet[Job]:
    jobs = Job.objects.defer("body").order_by("-created")
    if kind:
        jobs = jobs.filter(kind=kind)
    if status:
        jobs = jobs.filter(status=status)
    return jobs


def job_as_dict(job: Job, *, detail: bool = False) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": str(job.id),
        "kind": job.kind,
        "status": job.status,
        "progress": round(job.progress, 4),
        "created": _iso(job.created),
        "started": _iso(job.started),
        "finished": _iso(job.finished),
        "seconds": _seconds(job),
        "runs": job.runs,
        "params": job.params,
        "result": job.result,
        "error": job.error,
        "callback": {"url": job.callback_url, "status": job.callback_status}
        if job.callback_url
        else None,
    }
    if detail and job.callback_url:
        data["callback"]["attempts"] = [
            {
                "number": attempt.number,
                "at": _iso(attempt.created),
                "status_code": attempt.status_code,
                "error": attempt.error,
                "delivered": attempt.delivered,
                "duration_ms": attempt.duration_ms,
            }
            for attempt in job.callback_attempts.all()
        ]
    return data


def models_list(*, directory: Path, loaded_file: str | None) -> list[dict[str, Any]]:
    """The archives in the model directory, newest first, with the one being served."""
    if not directory.is_dir():
        return []
    archives = [p for p in directory.iterdir() if p.name.endswith(ARCHIVE_SUFFIX) and p.is_file()]
    archives.sort(key=lambda p: (p.stat().st_mtime, p.name), reverse=True)
    return [_model_entry(path, loaded_file) for path in archives]


def _model_entry(path: Path, loaded_file: str | None) -> dict[str, Any]:
    stat = path.stat()
    try:
        model_id = read_archive_metadata(path).get("model_id")
    except ModelLoadError:
        model_id = None  # listed anyway: the admin should see a broken archive
    return {
        "name": path.name,
        "model_id": model_id,
        "created": datetime.fromtimestamp(stat.st_mtime, tz=UTC).isoformat(),
        "size": stat.st_size,
        "loaded": path.name == loaded_file,
    }


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def _seconds(job: Job) -> float | None:
    if job.started is None:
        return None
    return round(((job.finished or datetime.now(tz=UTC)) - job.started).total_seconds(), 3)
