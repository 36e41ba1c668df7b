"""convapi's own records: idempotency keys of retried POSTs (API.md section 13)."""

from __future__ import annotations

from django.db import models


class IdempotentRequest(models.Model):
    """The first request made with an ``Idempotency-Key``, and the response it got."""

    scope = models.CharField(max_length=64, help_text="hash of the caller's credentials and path")
    key = models.CharField(max_length=255)
    body_hash = models.CharField(max_length=64)
    created = models.DateTimeField(auto_now_add=True)
    # Set while the first request runs; a crashed one is taken over once this passes.
    running_until = models.DateTimeField(null=True, blank=True)
    status = models.PositiveSmallIntegerField(null=True, blank=True)
    content_type = models.CharField(max_length=255, blank=True)
    content = models.BinaryField(blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["scope", "key"], name="idempotency_unique_key")
        ]
        indexes = [models.Index(fields=["created"], name="idempotency_created_idx")]

    def __str__(self) -> str:
        return self.key
