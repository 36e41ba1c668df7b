"""Fault tests: convapi as a real gunicorn process, a private PostgreSQL, servers that fail.

Nothing here touches the machine's shared PostgreSQL or Redis: each test starts what it
breaks (a PostgreSQL cluster in a temporary folder on a free port, a port where no Redis
listens) and points a convapi server process at it through its environment.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.conftest import ROOT

# Variables of the test run that must not leak into a server process we configure
# (CONVAPI_TEST_BROKER_KEYPREFIX: the run's own keys on the shared Redis, tests/conftest.py).
_SCRUBBED = (
    "DATABASE_URL",
    "CELERY_BROKER_URL",
    "CONVAPI_ENDPOINTS",
    "CONVAPI_MODEL",
    "CONVAPI_TEST_BROKER_KEYPREFIX",
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(predicate: Callable[[], Any], *, timeout: float = 20, what: str = "") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout} s waiting for {what or predicate}")


def assert_error_format(response: requests.Response, status: int) -> dict:
    """Rasa's seven-key error body (API.md 2.1) with ``code`` the HTTP status."""
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"version", "status", "message", "reason", "details", "help", "code"}
    assert body["status"] == "failure"
    assert body["code"] == status
    return body


class ConvapiServer:
    """``gunicorn config.wsgi`` in its own process group, configured only by ``env``."""

    def __init__(
        self, env: dict[str, str], log: Path, *, workers: int = 2, threads: int = 2
    ) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = log
        self.workers = workers
        self.threads = threads
        base = {k: v for k, v in os.environ.items() if k not in _SCRUBBED}
        self.env = {
            **base,
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "CONVAPI_AUTH_TOKEN": "",
            "CONVAPI_JWT_SECRET": "",
            "CONVAPI_LOG_LEVEL": "INFO",
            **env,
        }
        self.process: subprocess.Popen | None = None

    def migrate(self) -> None:
        subprocess.run(
            [sys.executable, "manage.py", "migrate", "-v0", "--no-input"],
            cwd=ROOT,
            env=self.env,
            check=True,
            timeout=120,
        )

    def start(self) -> None:
        command = [
            sys.executable, "-m", "gunicorn", "config.wsgi",
            "--bind", f"127.0.0.1:{self.port}", "--workers", str(self.workers),
            "--threads", str(self.threads), "--timeout", "60", "--graceful-timeout", "2",
        ]  # fmt: skip
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                command, cwd=ROOT, env=self.env, stdout=out, stderr=out, start_new_session=True
            )
        wait_for(self._answers, timeout=30, what=f"convapi on {self.url}")

    def _answers(self) -> bool:
        if self.process is not None and self.process.poll() is not None:
            raise AssertionError(f"convapi exited:\n{self.log_text()[-3000:]}")
        try:
            return requests.get(self.url + "/", timeout=1).ok
        except requests.RequestException:
            return False

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=15)

    def log_text(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace") if self.log.exists() else ""

    def post(self, path: str, body: Any, **kwargs: Any) -> requests.Response:
        return requests.post(
            self.url + path, json=body, timeout=kwargs.pop("timeout", 30), **kwargs
        )

    def post_raw(self, path: str, body: str, **kwargs: Any) -> requests.Response:
        return requests.post(self.url + path, data=body.encode(), timeout=30, **kwargs)

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        return requests.get(self.url + path, timeout=kwargs.pop("timeout", 30), **kwargs)


@pytest.fixture
def convapi_server(tmp_path) -> Iterator[Callable[..., ConvapiServer]]:
    """Start convapi server processes (migrated first); all are stopped after the test."""
    started: list[ConvapiServer] = []

    def start(env: dict[str, str], *, workers: int = 2, threads: int = 2) -> ConvapiServer:
        log = tmp_path / f"convapi-{len(started)}.log"
        server = ConvapiServer(env, log, workers=workers, threads=threads)
        started.append(server)
        server.migrate()
        server.start()
        return server

    yield start
    for server in started:
        server.stop()


def _pg_binary(name: str) -> str | None:
    found = sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"))
    return str(found[-1]) if found else shutil.which(name)


class PrivatePostgres:
    """A throw-away PostgreSQL cluster (trust auth, loopback, a free port) this test owns."""

    def __init__(self, folder: Path, initdb: str, pg_ctl: str) -> None:
        self.folder = folder
        self.data = folder / "data"
        self.logfile = folder / "postgres.log"
        self.pg_ctl = pg_ctl
        self.port = free_port()
        self.url = f"postgres://postgres@127.0.0.1:{self.port}/postgres"
        self._run([initdb, "-D", str(self.data), "-A", "trust", "-U", "postgres", "--no-sync"])

    def _run(self, command: list[str]) -> None:
        if os.geteuid() == 0:  # initdb and postgres refuse to run as root
            command = ["runuser", "-u", "postgres", "--", *command]
        subprocess.run(command, check=True, timeout=60, capture_output=True)

    def start(self) -> None:
        # fsync off is safe here: the OS never crashes under the test. synchronous_commit
        # must stay on, or an immediate stop would lose turns that were answered 200.
        options = (
            f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 "
            "-c fsync=off -c full_page_writes=off"
        )
        self._run([self.pg_ctl, "-D", str(self.data), "-o", options, "-l", str(self.logfile),
                   "-w", "-t", "30", "start"])  # fmt: skip

    def stop(self, mode: str = "immediate") -> None:
        self._run([self.pg_ctl, "-D", str(self.data), "-m", mode, "-w", "-t", "30", "stop"])

    def running(self) -> bool:
        return (self.data / "postmaster.pid").exists()

    def connect(self) -> Any:
        import psycopg

        return psycopg.connect(
            host="127.0.0.1", port=self.port, user="postgres", dbname="postgres", autocommit=True
        )


@pytest.fixture
def private_postgres() -> Iterator[PrivatePostgres]:
    """A running private PostgreSQL; skipped when the server binaries are not installed."""
    initdb, pg_ctl = _pg_binary("initdb"), _pg_binary("pg_ctl")
    if initdb is None or pg_ctl is None:
        pytest.skip("PostgreSQL's initdb/pg_ctl are not installed: no private cluster to stop")
    if os.geteuid() == 0 and (shutil.which("runuser") is None or not _has_user("postgres")):
        pytest.skip("running as root without a 'postgres' OS user (initdb refuses root)")
    folder = Path(tempfile.mkdtemp(prefix="convapi-faults-pg-"))
    if os.geteuid() == 0:
        shutil.chown(folder, user="postgres", group="postgres")
    cluster = PrivatePostgres(folder, initdb, pg_ctl)
    cluster.start()
    try:
        yield cluster
    finally:
        if cluster.running():
            cluster.stop()
        shutil.rmtree(folder, ignore_errors=True)


def _has_user(name: str) -> bool:
    import pwd

    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True
