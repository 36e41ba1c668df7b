"""Long work and what it left behind: jobs and their callback attempts.

Every row here is written by a service or a task that claims it with a conditional UPDATE,
so a task delivered twice (acks_late, a worker killed and its message redelivered) does
its work at most once.
"""

from __future__ import annotations

import uuid

from django.db import models


class Job(models.Model):
    class Status(models.TextChoices):
        QUEUED = "queued"
        RUNNING = "running"
        SUCCEEDED = "succeeded"
        FAILED = "failed"

    class Callback(models.TextChoices):
        NONE = "", "no callback"
        PENDING = "pending"
        DELIVERED = "delivered"
        UNDELIVERABLE = "undeliverable"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    # A kind of work registered with ``jobs.kinds`` by the app that owns it.
    kind = models.CharField(max_length=20)
    status = models.CharField(
        max_length=10, choices=Status.choices, default=Status.QUEUED, db_index=True
    )
    progress = models.FloatField(default=0.0)
    created = models.DateTimeField(auto_now_add=True, db_index=True)
    started = models.DateTimeField(null=True, blank=True)
    finished = models.DateTimeField(null=True, blank=True)
    # Refreshed while the job runs; a running job whose heartbeat stops is re-run or failed.
    heartbeat = models.DateTimeField(null=True, blank=True)
    runs = models.PositiveSmallIntegerField(default=0)
    # The query parameters that shaped the work, and the request body it works on.
    params = models.JSONField(default=dict, blank=True)
    body = models.TextField(blank=True)
    # A report (tests) or a description of the archive (training), or Rasa's error body.
    result = models.JSONField(null=True, blank=True)
    result_file = models.CharField(max_length=1024, blank=True)
    error = models.JSONField(null=True, blank=True)
    callback_url = models.URLField(max_length=2048, blank=True)
    callback_status = models.CharField(
        max_length=15, choices=Callback.choices, default=Callback.NONE, blank=True
    )

    class Meta:
        ordering = ["-created"]
        indexes = [models.Index(fields=["kind", "status"], name="job_kind_status_idx")]

    def __str__(self) -> str:
        return f"{self.kind} {self.id} ({self.status})"

    @property
    def done(self) -> bool:
        return self.status in (self.Status.SUCCEEDED, self.Status.FAILED)


class CallbackAttempt(models.Model):
    """One POST of a job's result to its callback URL: what came back and how long it took."""

    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="callback_attempts")
    number = models.PositiveSmallIntegerField()
    created = models.DateTimeField(auto_now_add=True)
    duration_ms = models.PositiveIntegerField(default=0)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    error = models.TextField(blank=True)
    delivered = models.BooleanField(default=False)

    class Meta:
        ordering = ["job", "number"]
        constraints = [
            models.UniqueConstraint(fields=["job", "number"], name="callback_attempt_unique")
        ]

    def __str__(self) -> str:
        return f"attempt {self.number} of {self.job_id}"
