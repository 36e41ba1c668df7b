"""API test fixtures: a loaded assistant and a client speaking JSON."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.db import connection
from django.test import Client

from bench.same_sender import start_gunicorn, stop
from serving.holder import (
    Assistant,
    assistant_from_domain_file,
    assistant_from_model,
    assistant_set,
)
from tests.conftest import BOTS, FAST_JOB_SETTINGS, JOB_LIVENESS_SETTINGS


class ApiClient(Client):
    """Django's test client with JSON bodies by default."""

    def post_json(self, path: str, body: Any, **kwargs) -> Any:
        return self.post(path, json.dumps(body), content_type="application/json", **kwargs)

    def put_json(self, path: str, body: Any, **kwargs) -> Any:
        return self.put(path, json.dumps(body), content_type="application/json", **kwargs)


@pytest.fixture(autouse=True)
def _no_model_from_settings() -> Iterator[None]:
    """Tests choose their assistant; none is loaded from CONVAPI_MODEL behind their back."""
    assistant_set(None)
    yield
    assistant_set(None)


@pytest.fixture
def client() -> ApiClient:
    return ApiClient()


def _loaded(assistant: Assistant | None) -> Iterator[Assistant | None]:
    assistant_set(assistant)
    yield assistant
    assistant_set(None)


@pytest.fixture
def initbot() -> Iterator[Assistant | None]:
    """The loaded assistant knows initbot's domain (no trained model needed)."""
    yield from _loaded(assistant_from_domain_file(BOTS / "initbot" / "domain.yml"))


@pytest.fixture
def formbot() -> Iterator[Assistant | None]:
    yield from _loaded(assistant_from_domain_file(BOTS / "formbot" / "domain.yml"))


@pytest.fixture
def no_model() -> Iterator[None]:
    yield from _loaded(None)


@pytest.fixture
def open_auth(settings) -> None:
    settings.CONVAPI_AUTH_TOKEN = ""
    settings.CONVAPI_JWT_SECRET = ""


@pytest.fixture
def token_auth(settings) -> None:
    settings.CONVAPI_AUTH_TOKEN = "rasa"
    settings.CONVAPI_JWT_SECRET = "core"
    settings.CONVAPI_JWT_METHOD = "HS256"


@pytest.fixture
def trained_initbot(initbot_model) -> Iterator[Assistant | None]:
    """The served assistant is a real trained initbot model."""
    yield from _loaded(assistant_from_model(initbot_model))


def database_url_of_this_run() -> str:
    """The URL of the database this test run uses, for the server processes."""
    name = connection.settings_dict["NAME"]
    if connection.vendor == "sqlite":
        return f"sqlite:///{name}"
    return os.environ["DATABASE_URL"].rsplit("/", 1)[0] + "/" + name


@pytest.fixture
def gunicorn_on_test_db(initbot_archive) -> Iterator[Callable[..., str]]:
    """Start ``gunicorn config.wsgi`` serving initbot on the test database; its base URL.

    ``env`` adds to or overrides the server's environment. Stopped after the test.
    """
    processes = []

    def start(*, workers: int = 3, threads: int = 1, env: dict[str, str] | None = None) -> str:
        server_env = {
            **os.environ,
            "DATABASE_URL": database_url_of_this_run(),
            "CONVAPI_MODEL": str(initbot_archive),
            "CONVAPI_AUTH_TOKEN": "",
            "CONVAPI_JWT_SECRET": "",
            "CONVAPI_LOG_LEVEL": "WARNING",
            "GUNICORN_CMD_ARGS": f"--threads {threads}",
            # Its embedded jobs heartbeat as the session's reaper expects: with the default
            # 10 s a runaway training here looked lost after 2 s, was handed to the
            # session's Celery worker and held a slot of it for the next test's 107 s.
            **{name: str(FAST_JOB_SETTINGS[name]) for name in JOB_LIVENESS_SETTINGS},
            **(env or {}),
        }
        server_env.pop("CELERY_BROKER_URL", None)
        process, base_url = start_gunicorn(server_env, workers)
        processes.append(process)
        return base_url

    yield start
    for process in processes:
        stop(process)
