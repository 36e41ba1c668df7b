"""``manage.py serve``: migrate, train the bot if no model exists yet, and serve the API.

This is the newcomer's one command: with nothing configured it serves on SQLite at
127.0.0.1:5005 with gunicorn, as ``rasa run --enable-api`` would.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

from engine.errors import EngineError
from engine.project import load_project
from engine.training import train
from serving.holder import model_path
from serving.model_server import model_server_pull_at_start

DEMO_BOT = Path(settings.BASE_DIR).parent / "shared" / "reference" / "bots" / "initbot"


class Command(BaseCommand):
    help = "Apply migrations, train the bot when no model exists, and serve the API."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--bot", default=os.environ.get("CONVAPI_BOT", str(DEMO_BOT)))
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=5005)
        parser.add_argument("--workers", type=int, default=1)
        parser.add_argument("--threads", type=int, default=4)
        parser.add_argument("--no-train", action="store_true", help="never train, serve as is")

    def handle(self, *args, **options) -> None:
        call_command("migrate", interactive=False, verbosity=0)
        if model_server_pull_at_start():
            self.stdout.write("Loaded the model from the model server in CONVAPI_ENDPOINTS.")
        elif not options["no_train"]:
            self._train_if_missing(Path(options["bot"]))
        argv = [
            sys.executable, "-m", "gunicorn", "config.wsgi",
            "--config", str(settings.BASE_DIR / "gunicorn.conf.py"),
            "--bind", f"{options['host']}:{options['port']}",
            "--workers", str(options["workers"]),
            "--threads", str(options["threads"]),
            "--timeout", "3600",
            "--access-logfile", "-",
        ]  # fmt: skip
        self.stdout.write(f"Serving on http://{options['host']}:{options['port']}")
        sys.stdout.flush()
        os.execv(sys.executable, argv)

    def _train_if_missing(self, bot: Path) -> None:
        if model_path(settings.CONVAPI_MODEL) is not None:
            return
        target = Path(settings.CONVAPI_MODEL)
        if target.suffix == ".gz":
            raise CommandError(f"CONVAPI_MODEL={target} does not exist.")
        self.stdout.write(f"No model in {target}: training {bot} ...")
        try:
            result = train(load_project(bot), output_dir=target)
        except EngineError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(f"Trained {result.path} in {result.seconds:.1f} s")
