"""``manage.py validate --bot DIR``: Rasa's ``rasa data validate``, with its exit codes.

One line per finding (``ERROR`` or ``WARNING``, where, what; ``DEBUG`` lines with ``-v 2``)
and a summary. Exit 1 when there is an error, or a warning with ``--fail-on-warnings``;
exit 0 otherwise. The checks are ``engine.validation``'s.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from engine.errors import EngineError
from engine.validation import DEBUG, DEFAULT_MAX_HISTORY, ERROR, ValidationReport, validate_bot


class Command(BaseCommand):
    help = "Check a bot's domain, NLU data, stories and rules (like `rasa data validate`)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--bot", required=True, help="the bot directory")
        parser.add_argument(
            "--max-history",
            type=int,
            default=DEFAULT_MAX_HISTORY,
            help="turns of history compared when looking for story conflicts (default 5)",
        )
        parser.add_argument(
            "--fail-on-warnings", action="store_true", help="exit 1 on warnings too"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["max_history"] < 1:
            raise CommandError("--max-history must be at least 1")
        try:
            report = validate_bot(options["bot"], max_history=options["max_history"])
        except EngineError as exc:
            # A file that cannot be read at all: Rasa stops there with exit 1 too.
            raise CommandError(str(exc)) from exc
        self._print(report, verbosity=options["verbosity"])
        if report.failed(fail_on_warnings=options["fail_on_warnings"]):
            raise CommandError(f"validation failed: {report.summary()}", returncode=1)

    def _print(self, report: ValidationReport, *, verbosity: int) -> None:
        for finding in report.findings:
            if finding.level == DEBUG and verbosity < 2:
                continue
            style = self.style.ERROR if finding.level == ERROR else self.style.WARNING
            self.stdout.write(style(str(finding)) if finding.level != DEBUG else str(finding))
        self.stdout.write(f"Validation finished: {report.summary()}.")
