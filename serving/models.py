"""Which model every process serves."""

from __future__ import annotations

from django.db import models


class ServedModel(models.Model):
    """The model every process should serve (one row); ``version`` grows with each change.

    Each web or worker process remembers the choice it loaded and reloads when the row's
    choice differs, so ``PUT /model`` on one worker reaches all of them.
    """

    path = models.CharField(max_length=1024, blank=True)
    version = models.PositiveIntegerField(default=0)
    # New on every choice: what processes compare. Unlike the version, it never comes back
    # (a table emptied and refilled restarts the version, never this).
    choice = models.CharField(max_length=32, blank=True)
    updated = models.DateTimeField(auto_now=True)
    # The model server a beat task polls (API.md section 10), with the ETag last seen.
    model_server = models.JSONField(null=True, blank=True)
    next_pull = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"v{self.version}: {self.path or '(no model)'}"
