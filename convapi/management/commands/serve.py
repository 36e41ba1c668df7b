"""``manage.py serve``: migrate, collect static files, train the bot if no model exists yet,
and serve the API and the admin; with an ``event_broker`` in CONVAPI_ENDPOINTS, start the
relay that publishes events (``manage.py relay_events``) as a child that ends with the server.

This is the newcomer's one command: with nothing configured it serves on SQLite at
127.0.0.1:5005 with gunicorn, as ``rasa run --enable-api`` would. Its server options
default from the same ``GUNICORN_*`` variables ``gunicorn.conf.py`` reads. When
``credentials.yml`` opens the socket.io channel it serves ``config.asgi`` with the asgi
worker class (the channel and the API on one port), else ``config.wsgi`` with gthread.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

from convapi.credentials import CREDENTIALS_WARNED, Credentials, configured_credentials
from convapi.gunicorn_settings import (
    GTHREAD_THREADS,
    GunicornSettings,
    gunicorn_settings_from_env,
)
from engine.errors import ConfigError, EngineError, ServiceError
from engine.project import load_project
from engine.training import train
from serving.archives import archive_newest
from serving.holder import ENDPOINTS_WARNED, configured_endpoints, model_path
from serving.model_server import model_server_pull_at_start
from serving.served import served_model_choose_first
from serving.services import model_store_file

DEMO_BOT = Path(settings.BASE_DIR).parent / "shared" / "reference" / "bots" / "initbot"


def _default_worker_class(credentials: Credentials) -> str:
    """asgi when the socketio channel is open: gthread workers cannot serve it."""
    return "asgi" if credentials.socketio is not None else "gthread"


def _default(variable: str, fallback: str) -> str:
    """Help text naming an option's default, the variable it comes from and its own default."""
    return f"(default: %(default)s, from {variable}; without it {fallback})"


class Command(BaseCommand):
    help = (
        "Apply migrations, collect static files, train the bot when no model exists, "
        "and serve the API and the admin with gunicorn."
    )

    def add_arguments(self, parser) -> None:
        try:
            server = gunicorn_settings_from_env(
                worker_class=_default_worker_class(configured_credentials())
            )
        except ValueError as exc:
            parser.error(str(exc))
        parser.add_argument(
            "--bot",
            default=os.environ.get("CONVAPI_BOT", str(DEMO_BOT)),
            help="the bot to train when no model exists "
            + _default("CONVAPI_BOT", "the demo initbot"),
        )
        parser.add_argument(
            "--bind",
            default=server.bind,
            help="HOST:PORT or unix:PATH to listen on "
            + _default("GUNICORN_BIND", "127.0.0.1:5005"),
        )
        parser.add_argument(
            "--workers",
            type=int,
            default=server.workers,
            help="worker processes " + _default("GUNICORN_WORKERS", "the number of CPUs"),
        )
        parser.add_argument(
            "--threads",
            type=int,
            default=server.threads,
            help="requests in flight per worker "
            + _default("GUNICORN_THREADS", f"{GTHREAD_THREADS}, or 1 for sync workers"),
        )
        parser.add_argument(
            "--worker-class",
            default=os.environ.get("GUNICORN_WORKER_CLASS") or None,
            # Left unset, it follows --credentials: shown as the default credentials make it.
            help="gthread, sync or asgi (uvicorn: the socket.io channel on the same port) "
            f"(default: {server.worker_class}, from GUNICORN_WORKER_CLASS; without it asgi "
            "when the credentials open the socketio channel, else gthread)",
        )
        parser.add_argument(
            "--credentials",
            default=settings.CONVAPI_CREDENTIALS,
            help="Rasa's credentials.yml: the input channels to open "
            + _default("CONVAPI_CREDENTIALS", "the project's credentials.yml"),
        )
        parser.add_argument(
            "--timeout",
            type=int,
            default=server.timeout,
            help="seconds a silent worker lives before it is restarted "
            + _default("GUNICORN_TIMEOUT", "CONVAPI_JOB_WAIT_SECONDS + 60"),
        )
        parser.add_argument(
            "--graceful-timeout",
            type=int,
            default=server.graceful_timeout,
            help="seconds a stopping worker may finish its requests "
            + _default("GUNICORN_GRACEFUL_TIMEOUT", "30"),
        )
        parser.add_argument(
            "--no-train", action="store_true", help="never train, serve as is (default: train)"
        )

    def handle(self, *args, **options) -> None:
        credentials = self._credentials(options["credentials"])
        try:
            server = GunicornSettings(
                bind=options["bind"],
                workers=options["workers"],
                threads=options["threads"],
                worker_class=options["worker_class"] or _default_worker_class(credentials),
                timeout=options["timeout"],
                graceful_timeout=options["graceful_timeout"],
            )
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        if credentials.socketio is not None and server.worker_class != "asgi":
            raise CommandError(
                f"The socketio channel ({settings.CONVAPI_CREDENTIALS}) needs the asgi worker "
                f"class: {server.worker_class} workers serve no socket.io"
            )
        try:
            # Read first: a bad file stops here, and ignored sections are named once.
            endpoints = configured_endpoints()
        except ConfigError as exc:
            raise CommandError(str(exc)) from None
        os.environ[ENDPOINTS_WARNED] = "1"  # said here: not again by gunicorn or the relay
        call_command("migrate", interactive=False, verbosity=0)
        # WhiteNoise serves the admin's and the API docs' files from STATIC_ROOT.
        call_command("collectstatic", interactive=False, verbosity=0)
        if model_server_pull_at_start():
            self.stdout.write("Loaded the model from the model server in CONVAPI_ENDPOINTS.")
        elif not options["no_train"]:
            self._train_if_missing(Path(options["bot"]))
        argv = [
            sys.executable, "-m", "gunicorn", server.app,
            "--config", str(settings.BASE_DIR / "gunicorn.conf.py"),
            "--bind", server.bind,
            "--workers", str(server.workers),
            "--threads", str(server.threads),
            "--worker-class", server.gunicorn_worker_class,
            "--timeout", str(server.timeout),
            "--graceful-timeout", str(server.graceful_timeout),
            "--access-logfile", "-",
        ]  # fmt: skip
        self.stdout.write(f"Serving on {server.url}")
        self.stdout.write(
            f"The admin is at {server.url}/admin/; create its first user with: "
            f"{sys.executable} manage.py createsuperuser"
        )
        if endpoints.event_broker is not None:
            self._start_relay(endpoints.event_broker.type)
        sys.stdout.flush()
        # gunicorn.conf.py reads them again: an option given here must not be undone there.
        os.environ["GUNICORN_WORKER_CLASS"] = server.worker_class
        os.environ["GUNICORN_THREADS"] = str(server.threads)  # config.asgi's pool
        os.environ["CONVAPI_CREDENTIALS"] = settings.CONVAPI_CREDENTIALS
        os.environ[CREDENTIALS_WARNED] = "1"  # said here: not again by gunicorn's master
        os.execv(sys.executable, argv)

    def _credentials(self, path: str) -> Credentials:
        """The channels ``path`` opens, for this process and the server it becomes."""
        if path != settings.CONVAPI_CREDENTIALS:
            path = str(Path(path).resolve())
            settings.CONVAPI_CREDENTIALS = path
        try:
            return configured_credentials()
        except ConfigError as exc:
            raise CommandError(str(exc)) from None

    def _start_relay(self, broker_type: str) -> None:
        """The relay as a child: gunicorn replaces this process (same pid), and the relay
        exits when that pid is no longer its parent (and on Ctrl-C, with the group)."""
        manage = Path(settings.BASE_DIR) / "manage.py"
        subprocess.Popen(
            [sys.executable, str(manage), "relay_events", "--parent-pid", str(os.getpid())]
        )
        self.stdout.write(f"Publishing events to the {broker_type} event broker (relay_events)")

    def _train_if_missing(self, bot: Path) -> None:
        """Train ``bot`` into the model store, and serve it, when neither CONVAPI_MODEL nor
        the store holds a model: every host then loads it from the store."""
        if model_path(settings.CONVAPI_MODEL) is not None:
            return  # each process stores it and serves it unless another was chosen
        if Path(settings.CONVAPI_MODEL).suffix == ".gz":
            raise CommandError(f"CONVAPI_MODEL={settings.CONVAPI_MODEL} does not exist.")
        stored = archive_newest()
        if stored is not None:
            served_model_choose_first(sha256=stored.sha256)
            return
        self.stdout.write(f"No model in the model store: training {bot} ...")
        with tempfile.TemporaryDirectory(prefix="convapi-serve-") as folder:
            try:
                result = train(load_project(bot), output_dir=folder)
                archive = model_store_file(
                    path=result.path,
                    name=result.path.name,
                    metadata={"model_id": result.model_id, "fingerprint": result.fingerprint},
                )
            except (EngineError, ServiceError) as exc:
                raise CommandError(str(exc)) from None
        served_model_choose_first(sha256=archive.sha256)
        self.stdout.write(f"Trained {archive.name} in {result.seconds:.1f} s (in the model store)")
