"""Reads of jobs, for the API, the admin and /status."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from django.db.models import QuerySet

from jobs.models import Job


def job_count_running(*, kind: str) -> int:
    """Jobs of this kind running anywhere (every worker of every host)."""
    return Job.objects.filter(kind=kind, status=Job.Status.RUNNING).count()


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


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def _seconds(job: Job) -> float | None:
    if job.started is None:
        return None
    return round(((job.finished or datetime.now(tz=UTC)) - job.started).total_seconds(), 3)
