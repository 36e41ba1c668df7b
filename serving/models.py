"""Which model every process serves, and the model archives every host can fetch."""

from __future__ import annotations

from django.db import models
from django.utils import timezone


class ModelArchive(models.Model):
    """One stored model archive, named by the sha256 of its bytes (so stored once).

    Its bytes are ``ModelArchiveChunk`` rows (``storage`` empty), or one object named
    ``location`` in the Django storage ``storage`` (an alias of ``STORAGES``). The row is
    written only after every byte is, so a listed archive is always complete.
    """

    sha256 = models.CharField(max_length=64, primary_key=True)
    name = models.CharField(max_length=255)
    size = models.BigIntegerField()
    model_id = models.CharField(max_length=64, blank=True)
    # The training data's fingerprint: a training of unchanged data reuses the archive.
    fingerprint = models.CharField(max_length=128, blank=True)
    storage = models.CharField(max_length=64, blank=True)
    location = models.CharField(max_length=1024, blank=True)
    created = models.DateTimeField(default=timezone.now, db_index=True)

    def __str__(self) -> str:
        return f"{self.name} ({self.sha256[:12]})"


class ModelArchiveChunk(models.Model):
    """A slice of an archive's bytes (about 1 MiB), read and written one at a time."""

    archive = models.ForeignKey(ModelArchive, on_delete=models.CASCADE, related_name="chunks")
    number = models.PositiveIntegerField()
    data = models.BinaryField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["archive", "number"], name="one_chunk_per_number")
        ]

    def __str__(self) -> str:
        return f"{self.archive_id} #{self.number}"


class ServedModel(models.Model):
    """The model every process should serve (one row); ``version`` grows with each change.

    Each web or worker process remembers the choice it loaded, compares it with this row
    on every request that needs the model, and loads the chosen archive when they differ,
    so ``PUT /model`` on one worker reaches all of them before it answers anyone else.
    """

    archive = models.ForeignKey(ModelArchive, null=True, blank=True, on_delete=models.PROTECT)
    version = models.PositiveIntegerField(default=0)
    # New on every choice: what processes compare. Unlike the version, it never comes back
    # (a table emptied and refilled restarts the version, never this).
    choice = models.CharField(max_length=32, blank=True)
    updated = models.DateTimeField(auto_now=True)
    # The model server a beat task polls (API.md section 10), with the ETag last seen.
    model_server = models.JSONField(null=True, blank=True)
    next_pull = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"v{self.version}: {self.archive_id or '(no model)'}"
