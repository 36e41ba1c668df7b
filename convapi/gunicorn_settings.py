"""The web server's settings (gunicorn), from environment variables.

``gunicorn.conf.py`` and ``manage.py serve`` both read them here, so a plain
``gunicorn config.wsgi`` run from the project folder and ``serve`` start the same server.
A value gunicorn could not use is refused with the variable's name, before anything starts.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from convapi.env import env_int, env_str

# gthread keeps many requests in flight per process (a thread each): what a turn waiting on
# an action server needs. sync serves one request at a time per worker. asgi (uvicorn's
# worker, config.asgi) adds the socket.io channel on the same port; Django runs on a pool
# of GUNICORN_THREADS threads per worker, as under gthread.
WORKER_CLASSES = ("gthread", "sync", "asgi")
GTHREAD_THREADS = 8
ASGI_WORKER = "convapi.gunicorn_worker.AsgiWorker"


@dataclass(frozen=True)
class GunicornSettings:
    bind: str
    workers: int
    threads: int
    worker_class: str
    timeout: int
    graceful_timeout: int

    def __post_init__(self) -> None:
        host, _, port = self.bind.rpartition(":")
        if not self.bind.startswith("unix:") and not (host and port.isdigit()):
            raise ValueError(f"GUNICORN_BIND={self.bind!r}: use HOST:PORT or unix:PATH")
        if self.worker_class not in WORKER_CLASSES:
            raise ValueError(
                f"GUNICORN_WORKER_CLASS={self.worker_class!r}: use gthread, sync or asgi"
            )
        # gunicorn would silently turn sync workers with threads into gthread ones.
        if self.worker_class == "sync" and self.threads != 1:
            raise ValueError(
                f"GUNICORN_THREADS={self.threads} with sync workers: use 1, or gthread workers"
            )
        for name in ("workers", "threads", "timeout", "graceful_timeout"):
            if getattr(self, name) < 1:
                variable = f"GUNICORN_{name.upper()}"
                raise ValueError(f"{variable}={getattr(self, name)}: use a number of at least 1")

    @property
    def app(self) -> str:
        """The entry point its workers serve: ``config.asgi`` for uvicorn's worker."""
        return "config.asgi" if self.worker_class == "asgi" else "config.wsgi"

    @property
    def gunicorn_worker_class(self) -> str:
        """The worker class as gunicorn names it."""
        return ASGI_WORKER if self.worker_class == "asgi" else self.worker_class

    @property
    def url(self) -> str:
        """Where a browser on this host reaches the server."""
        if self.bind.startswith("unix:"):
            return self.bind
        host, _, port = self.bind.rpartition(":")
        if host in ("", "0.0.0.0", "[::]"):
            host = "localhost"
        return f"http://{host}:{port}"


def gunicorn_settings_from_env(*, worker_class: str = "gthread") -> GunicornSettings:
    """The settings with production defaults (``worker_class`` unless GUNICORN_WORKER_CLASS
    names one); ValueError naming the variable when one is bad."""
    worker_class = env_str("GUNICORN_WORKER_CLASS", worker_class)
    return GunicornSettings(
        bind=env_str("GUNICORN_BIND", "127.0.0.1:5005"),
        workers=env_int("GUNICORN_WORKERS", os.cpu_count() or 1),
        threads=env_int("GUNICORN_THREADS", 1 if worker_class == "sync" else GTHREAD_THREADS),
        worker_class=worker_class,
        timeout=env_int("GUNICORN_TIMEOUT", default_timeout()),
        graceful_timeout=env_int("GUNICORN_GRACEFUL_TIMEOUT", 30),
    )


def default_timeout() -> int:
    """Longer than a synchronous request may wait for its job (``/model/train`` waits up to
    ``CONVAPI_JOB_WAIT_SECONDS``): a sync worker silent for ``timeout`` is killed."""
    try:
        waited = float(env_str("CONVAPI_JOB_WAIT_SECONDS") or 3600)
    except ValueError:
        waited = 3600  # config/settings.py refuses the value at start, naming it
    return int(waited) + 60


def pool_threads() -> int:
    """The threads each ASGI worker runs Django and the socket.io turns on."""
    threads = env_int("GUNICORN_THREADS", GTHREAD_THREADS)
    if threads < 1:
        raise ValueError(f"GUNICORN_THREADS={threads}: use a number of at least 1")
    return threads
