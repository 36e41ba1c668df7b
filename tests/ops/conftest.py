"""Operating fixtures: a loopback action server that shows headers, metric readers, and
convapi as a real gunicorn server on the test database."""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from django.db import connection
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

from serving.holder import assistant_from_model, assistant_set
from tests.api.conftest import (  # noqa: F401 - fixtures, registered by import
    _no_model_from_settings,
    client,
    no_model,
    open_auth,
    token_auth,
    trained_initbot,
)
from tests.engine.processor_support import formbot_model
from tests.jobs.conftest import (  # noqa: F401 - fixtures, registered by import
    jobs_env,
    receiver,
)
from trackers import store

HOLD_SECONDS = 120  # a held call is released by the test long before this


@dataclass
class ActionCall:
    action: str
    sender_id: str
    headers: dict[str, str]
    events: list[dict] = field(default_factory=list)  # the tracker's, as sent
    token: str | None = None  # the ``token`` of the query


@dataclass
class LoopbackActionServer:
    """Answers every action with no events; ``failing`` ones with a 500; ``holding`` ones
    only once ``released`` is set. Records each call with its headers."""

    url: str = ""
    calls: list[ActionCall] = field(default_factory=list)
    failing: set[str] = field(default_factory=set)
    holding: set[str] = field(default_factory=set)
    released: threading.Event = field(default_factory=threading.Event)

    def calls_of(self, action: str) -> list[ActionCall]:
        return [call for call in self.calls if call.action == action]


@pytest.fixture
def action_server() -> Iterator[LoopbackActionServer]:
    state = LoopbackActionServer()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's naming
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)))
            action = body.get("next_action", "")
            events = (body.get("tracker") or {}).get("events") or []
            sender = body.get("sender_id", "")
            token = parse_qs(urlsplit(self.path).query).get("token", [None])[0]
            state.calls.append(ActionCall(action, sender, dict(self.headers), events, token))
            if action in state.holding:
                state.released.wait(HOLD_SECONDS)
            status = 500 if action in state.failing else 200
            answer = json.dumps({"events": [], "responses": []}).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}/webhook"
    yield state
    state.released.set()
    server.shutdown()


@pytest.fixture
def formbot_with_actions(settings, tmp_path, action_server):
    """formbot served here, its custom actions on the loopback action server; nothing
    this process wrote before is kept for it (``trackers.store``)."""
    settings.CONVAPI_AUTH_TOKEN = ""
    settings.CONVAPI_JWT_SECRET = ""
    settings.CONVAPI_ENDPOINTS = str(endpoints_file(tmp_path, action_server.url))
    assistant_set(assistant_from_model(formbot_model()))
    store.written_forget()
    yield action_server
    assistant_set(None)


def endpoints_file(folder: Path, url: str) -> Path:
    path = folder / "endpoints.yml"
    path.write_text(f"action_endpoint:\n  url: {url}\n  timeout: {HOLD_SECONDS + 30}\n")
    return path


def sample(name: str, **labels: str) -> float:
    """This process's value of a sample (0 before anything was counted)."""
    return REGISTRY.get_sample_value(name, labels) or 0.0


class Samples:
    """A scraped page's samples, by name and labels."""

    def __init__(self, text: str) -> None:
        self.values = {
            (s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(text)
            for s in family.samples
        }

    def __call__(self, name: str, **labels: str) -> float:
        return self.values.get((name, frozenset(labels.items())), 0.0)


def server_database_url() -> str:
    """The URL a server process uses to reach this test's database."""
    name = connection.settings_dict["NAME"]
    if connection.vendor == "sqlite":
        return f"sqlite:///{name}"
    return os.environ["DATABASE_URL"].rsplit("/", 1)[0] + "/" + name
