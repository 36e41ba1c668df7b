"""``manage.py relay_events``: publish the outbox to the ``event_broker`` of CONVAPI_ENDPOINTS.

A long-running process (production runs it beside the web server; ``manage.py serve``
starts one as its child). SIGTERM or SIGINT stops it after the message in flight, the
rows not yet confirmed staying in the outbox. ``--once`` publishes what is there and exits.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from engine.errors import ConfigError
from serving.holder import configured_event_broker
from trackers.brokers import publisher_for
from trackers.relay import MAX_BACKOFF_SECONDS, POLL_SECONDS, BrokerOutage, Relay

logger = logging.getLogger(__name__)


class Command(BaseCommand):
    help = "Publish outbox events to the event broker of CONVAPI_ENDPOINTS, in order."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--once", action="store_true", help="publish what is there, then exit")
        parser.add_argument(
            "--poll-seconds",
            type=float,
            default=POLL_SECONDS,
            help=f"pause when the outbox is empty (default {POLL_SECONDS})",
        )
        parser.add_argument(
            "--max-backoff",
            type=float,
            default=MAX_BACKOFF_SECONDS,
            help=f"longest wait between retries while the broker is down "
            f"(default {MAX_BACKOFF_SECONDS:.0f})",
        )
        parser.add_argument(
            "--parent-pid",
            type=int,
            default=None,
            help="exit when this process (``serve``'s gunicorn) is gone",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            broker = configured_event_broker()
        except ConfigError as exc:
            raise CommandError(str(exc)) from None
        if broker is None:
            raise CommandError("CONVAPI_ENDPOINTS names no event_broker: nothing to relay.")
        stop = threading.Event()
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: stop.set())
        if options["parent_pid"]:
            _stop_with_parent(options["parent_pid"], stop)
        relay = Relay(
            publisher_for(broker),
            stop=stop,
            poll_seconds=options["poll_seconds"],
            max_backoff=options["max_backoff"],
        )
        logger.info("Relaying outbox events to the %s event broker", broker.type)
        try:
            counts = relay.run(once=options["once"])
        except BrokerOutage as exc:
            raise CommandError(f"The event broker is unavailable: {exc}") from None
        self.stdout.write(f"published: {counts.published}, set aside: {counts.set_aside}")


def _stop_with_parent(parent_pid: int, stop: threading.Event) -> None:
    """Orphaned (the parent exited without stopping us), we are re-parented: stop too."""

    def watch() -> None:
        while not stop.wait(1.0):
            if os.getppid() != parent_pid:
                stop.set()

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()
