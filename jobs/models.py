"""Long work and what it left behind: jobs, callback attempts, reminders, the served model.

Every row here is written by a service or a task that claims it with a conditional UPDATE,
so a task delivered twice (acks_late, a worker killed and its message redelivered) does
its work at most once.
"""

from __future__ import annotations

import uuid

from django.db import models


class Job(models.Model):
    class Kind(models.TextChoices):
        TRAIN = "train"
        TEST_STORIES = "test_stories"
        TEST_INTENTS = "test_intents"

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
    kind = models.CharField(max_length=20, choices=Kind.choices)
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


class Reminder(models.Model):
    """A ``reminder`` event waiting for its time: stored, so a worker restart loses nothing."""

    class Status(models.TextChoices):
        SCHEDULED = "scheduled"
        FIRING = "firing"
        FIRED = "fired"
        CANCELLED = "cancelled"
        OUTDATED = "outdated"
        FAILED = "failed"

    sender_id = models.CharField(max_length=255, db_index=True)
    name = models.CharField(max_length=255)
    intent = models.CharField(max_length=255)
    entities = models.JSONField(null=True, blank=True)
    trigger_at = models.DateTimeField(db_index=True)
    kill_on_user_msg = models.BooleanField(default=True)
    status = models.CharField(
        max_length=10, choices=Status.choices, default=Status.SCHEDULED, db_index=True
    )
    created = models.DateTimeField(auto_now_add=True)
    finished = models.DateTimeField(null=True, blank=True)
    outcome = models.TextField(blank=True)

    class Meta:
        ordering = ["trigger_at"]

    def __str__(self) -> str:
        return f"{self.name} for {self.sender_id} at {self.trigger_at:%Y-%m-%d %H:%M:%S}"


class ServedModel(models.Model):
    """The model every process should serve (one row); ``version`` grows with each change.

    Each web or worker process remembers the version it loaded and reloads when the row's
    version differs, so ``PUT /model`` on one worker reaches all of them.
    """

    path = models.CharField(max_length=1024, blank=True)
    version = models.PositiveIntegerField(default=0)
    updated = models.DateTimeField(auto_now=True)
    # The model server a beat task polls (API.md section 10), with the ETag last seen.
    model_server = models.JSONField(null=True, blank=True)
    next_pull = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"v{self.version}: {self.path or '(no model)'}"
