"""Jobs test fixtures: a loopback callback receiver and, with a broker, a REAL Celery worker.

With ``CELERY_BROKER_URL`` set (the PostgreSQL run) the session starts a REAL worker per
queue on the test database, as the README runs them (``-Q training`` and ``-Q realtime``
with beat); without it tasks run eagerly in the test process. Tests here use
``transaction=True`` so that rows are committed (workers see them, and
``transaction.on_commit`` fires).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from serving.holder import assistant_set
from tests.api.conftest import ApiClient
from tests.conftest import BOTS, FAST_JOB_SETTINGS, ROOT


def wait_for(predicate: Callable[[], Any], *, timeout: float = 60, what: str = "") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout} s waiting for {what or predicate}")


def training_document(bot: str = "initbot") -> str:
    """The bot's files as one document; read as YAML 1.2, like the server (``yes`` is a name)."""
    import yaml

    from engine.config import read_yaml_file

    parts: dict[str, Any] = {}
    folder = BOTS / bot
    for path in [folder / "config.yml", folder / "domain.yml", *sorted(folder.glob("data/*.yml"))]:
        parts.update(read_yaml_file(path))
    return yaml.safe_dump(parts)


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Receiver:
    """A loopback HTTP server that records every POST; can fail the first few."""

    url: str
    received: list[Received] = field(default_factory=list)
    # One entry per coming request: "drop" (close without answering) or a status code.
    failures: list[str | int] = field(default_factory=list)

    def wait(self, count: int = 1, timeout: float = 60) -> list[Received]:
        wait_for(lambda: len(self.received) >= count, timeout=timeout, what="a callback")
        return self.received


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's naming
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            outcome = state.failures.pop(0) if state.failures else 200
            if outcome == "drop":
                self.close_connection = True
                self.connection.shutdown(2)
                return
            if isinstance(outcome, str):  # a URL: redirect there
                self.send_response(307)
                self.send_header("Location", outcome)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            if outcome == 200:
                state.received.append(Received(self.path, dict(self.headers), body))
            self.send_response(int(outcome))
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    yield state
    server.shutdown()


class WorkerProcess:
    """``celery worker`` in its own process group, so a test can SIGKILL all of it.

    By default it consumes every queue and runs beat (``-B``); ``queues`` narrows it.
    """

    def __init__(
        self,
        env: dict[str, str],
        log: Path,
        *,
        queues: str = "",
        concurrency: int = 2,
        beat: bool = True,
    ) -> None:
        self.env = env
        self.log = log
        self.queues = queues
        self.concurrency = concurrency
        self.beat = beat
        self.process: subprocess.Popen | None = None

    def start(self, *, purge: bool = False) -> None:
        offset = self.log.stat().st_size if self.log.exists() else 0
        command = [
            sys.executable, "-m", "celery", "-A", "tests.jobs.worker_app", "worker",
            "--pool=prefork", f"--concurrency={self.concurrency}", "--loglevel=INFO",
        ]  # fmt: skip
        if self.queues:
            command += ["--queues", self.queues]
        if self.beat:
            command += ["--beat", "--schedule", str(self.log.with_suffix(".beat"))]
        if purge:
            command.append("--purge")
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                command, cwd=ROOT, env=self.env, stdout=out, stderr=out, start_new_session=True
            )
        wait_for(lambda: b"ready." in self.log.read_bytes()[offset:], timeout=60, what="worker")

    def kill(self) -> None:
        """SIGKILL the whole worker (main process, pool children, beat): nothing cleans up."""
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()


class QueueWorkers:
    """One worker per queue, started, killed and stopped together."""

    def __init__(self, workers: list[WorkerProcess]) -> None:
        self.workers = workers

    def start(self, *, purge: bool = False) -> None:
        for worker in self.workers:
            worker.start(purge=purge)

    def kill(self) -> None:
        for worker in self.workers:
            worker.kill()

    def stop(self) -> None:
        for worker in self.workers:
            worker.stop()


@pytest.fixture
def jobs_env(settings, celery_worker_process, tmp_path) -> QueueWorkers | None:
    """Open auth, fast job settings, models in a temporary folder, no model loaded here."""
    settings.CONVAPI_AUTH_TOKEN = ""
    settings.CONVAPI_JWT_SECRET = ""
    settings.CONVAPI_MODEL = str(tmp_path / "models")
    for name, value in FAST_JOB_SETTINGS.items():
        setattr(settings, name, value)
    assistant_set(None)
    yield celery_worker_process
    assistant_set(None)


@pytest.fixture
def client() -> ApiClient:
    return ApiClient()
