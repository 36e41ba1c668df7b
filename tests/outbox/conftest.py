"""Event broker fixtures: an endpoints file naming a broker, turns, and the relay as a real
``manage.py relay_events`` process on the test database."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.api.conftest import (  # noqa: F401 - fixtures shared with the API tests
    ApiClient,
    _no_model_from_settings,
    client,
    database_url_of_this_run,
    open_auth,
    trained_initbot,
)
from tests.conftest import ROOT
from trackers.models import Event

RABBITMQ = {"url": "127.0.0.1", "port": 5672, "username": "guest", "password": "guest"}


def endpoints_file(folder: Path, broker: dict) -> Path:
    path = folder / "endpoints.yml"
    path.write_text(json.dumps({"event_broker": broker}))  # JSON is YAML
    return path


@pytest.fixture
def broker_endpoints(settings, tmp_path) -> Callable[[dict], Path]:
    """Point CONVAPI_ENDPOINTS at a file naming ``broker`` (a fresh path: read afresh)."""

    def configure(broker: dict) -> Path:
        path = endpoints_file(tmp_path, broker)
        settings.CONVAPI_ENDPOINTS = str(path)
        return path

    return configure


def say(api: ApiClient, sender: str, text: str) -> list[dict]:
    response = api.post_json("/webhooks/rest/webhook", {"sender": sender, "message": text})
    assert response.status_code == 200, response.content
    return response.json()


def stored_messages(sender_id: str) -> list[dict]:
    """The conversation's events as the broker must get them: with sender_id, in seq order."""
    rows = Event.objects.filter(conversation__sender_id=sender_id).order_by("seq")
    return [{"sender_id": sender_id, **data} for data in rows.values_list("data", flat=True)]


def wait_until(condition: Callable[[], bool], *, seconds: float = 60, what: str = "") -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {seconds} s: {what}")
        time.sleep(0.1)


def relay_command(endpoints: Path, *args: str) -> tuple[list[str], dict[str, str]]:
    env = {
        **os.environ,
        "DATABASE_URL": database_url_of_this_run(),
        "CONVAPI_ENDPOINTS": str(endpoints),
        "CONVAPI_LOG_LEVEL": "INFO",
    }
    command = [sys.executable, str(ROOT / "manage.py"), "relay_events", *args]
    return command, env


@pytest.fixture
def relay_process(tmp_path) -> Iterator[Callable[..., subprocess.Popen]]:
    """Start ``manage.py relay_events`` processes; each is stopped with SIGTERM after the
    test (and must exit cleanly)."""
    processes: list[subprocess.Popen] = []

    def start(endpoints: Path, *args: str) -> subprocess.Popen:
        command, env = relay_command(endpoints, "--poll-seconds", "0.1", *args)
        log = open(tmp_path / f"relay-{len(processes)}.log", "w+b")  # noqa: SIM115 - kept open
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=log)
        process.log = log  # type: ignore[attr-defined]
        processes.append(process)
        return process

    yield start
    for process in processes:
        if process.poll() is None:
            process.terminate()
            process.wait(timeout=30)
        process.log.close()  # type: ignore[attr-defined]


def relay_log(process: subprocess.Popen) -> str:
    log = process.log  # type: ignore[attr-defined]
    log.flush()
    log.seek(0)
    return log.read().decode(errors="replace")
