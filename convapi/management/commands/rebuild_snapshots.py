"""``manage.py rebuild_snapshots``: replay every conversation's event log into its snapshot.

The snapshot (``Conversation.state``) is a cache of the log; this rebuilds it, each
conversation under its lock, and reports those whose stored snapshot differed. It needs
the served model's slot defaults, which shape every snapshot.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from serving.holder import current_assistant
from trackers.snapshots import snapshots_rebuild


class Command(BaseCommand):
    help = "Rebuild the tracker snapshots from the event log; report those that differed."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--batch-size", type=int, default=500, help="conversations listed at a time"
        )
        parser.add_argument(
            "--show", type=int, default=20, help="how many differing sender ids to print"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["batch_size"] < 1:
            raise CommandError("--batch-size: use 1 or more")
        assistant = current_assistant()
        if assistant is None:
            raise CommandError(
                "No model is loaded: snapshots depend on its slots. Set CONVAPI_MODEL or "
                "choose a model (PUT /model), then run this again."
            )
        report = snapshots_rebuild(
            slot_defaults=assistant.domain.slot_defaults(),
            batch_size=options["batch_size"],
            ids_limit=max(options["show"], 0),
        )
        self.stdout.write(f"conversations checked: {report.checked}")
        self.stdout.write(f"snapshots that differed (rebuilt): {report.differed}")
        for sender_id in report.differed_ids:
            self.stdout.write(f"  {sender_id}")
        if report.differed > len(report.differed_ids):
            self.stdout.write(f"  ... and {report.differed - len(report.differed_ids)} more")
        if report.busy:
            self.stdout.write(f"busy (skipped, run again): {report.busy}")
