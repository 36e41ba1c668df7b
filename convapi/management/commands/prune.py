"""``manage.py prune``: delete what convapi keeps no longer (the retention settings).

The same pruning as the periodic task (``convapi.tasks.prune``): expired idempotency
keys; finished jobs with their callback attempts, and finished reminders, older than
``CONVAPI_JOB_RETENTION_DAYS``; login attempts and logs older than
``CONVAPI_LOGIN_RETENTION_DAYS``; and, only when ``CONVAPI_CONVERSATION_RETENTION_DAYS``
is set, conversations inactive for longer, each erased as a GDPR request would be.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from convapi.retention import BATCH_SIZE, retention_prune


class Command(BaseCommand):
    help = "Delete rows past their retention (jobs, reminders, keys, logins, conversations)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--batch-size",
            type=int,
            default=BATCH_SIZE,
            help=f"rows deleted per transaction (default {BATCH_SIZE})",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["batch_size"] < 1:
            raise CommandError("--batch-size: use 1 or more")
        counts = retention_prune(batch_size=options["batch_size"])
        for name, count in counts.items():
            self.stdout.write(f"{name}: {count}")
        if "conversations erased" not in counts:
            self.stdout.write("conversations: all kept (CONVAPI_CONVERSATION_RETENTION_DAYS unset)")
