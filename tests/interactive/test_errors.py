"""Every failure an author can meet becomes a ServerError with a sentence, never a traceback."""

from __future__ import annotations

import socket

import pytest

from interactive.client import (
    Client,
    NoCoreModel,
    NoModelLoaded,
    NotAuthenticated,
    ServerUnavailable,
)
from serving.holder import assistant_from_domain_file, assistant_set
from tests.conftest import BOTS, admin_jwt, user_jwt

pytestmark = pytest.mark.django_db(transaction=True)


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_it_says_when_the_server_is_down():
    client = Client(f"http://127.0.0.1:{_closed_port()}")
    with pytest.raises(ServerUnavailable, match="Cannot reach the server"):
        client.status()


def test_it_gives_up_waiting_after_bounded_retries(monkeypatch):
    """Exactly ``attempts`` requests with ``delay`` between them, then the error: counted,
    not timed, so a slow machine cannot fail it and an unbounded loop cannot pass it."""
    import interactive.client

    client = Client(f"http://127.0.0.1:{_closed_port()}")
    calls: list[str] = []
    real_status = client.status

    def counted_status():
        calls.append("status")
        return real_status()

    monkeypatch.setattr(client, "status", counted_status)
    monkeypatch.setattr(interactive.client.time, "sleep", lambda s: calls.append(f"sleep {s}"))
    with pytest.raises(ServerUnavailable, match="Cannot reach the server"):
        client.wait_until_running(attempts=3, delay=0.05)
    assert calls == ["status", "sleep 0.05", "status", "sleep 0.05", "status"]


def test_it_says_when_the_token_is_wrong(live_server, served, settings):
    settings.CONVAPI_AUTH_TOKEN = "rasa"
    with pytest.raises(NotAuthenticated, match="401"):
        Client(live_server.url, token="wrong").status()
    assert Client(live_server.url, token="rasa").status()["model_id"]


def test_it_authenticates_with_a_jwt(live_server, served, settings):
    settings.CONVAPI_JWT_SECRET = "core"
    settings.CONVAPI_JWT_METHOD = "HS256"
    assert Client(live_server.url, jwt=admin_jwt()).status()["model_id"]
    with pytest.raises(NotAuthenticated, match="403"):
        Client(live_server.url, jwt=user_jwt("someone")).status()


def test_it_says_when_no_model_is_loaded(live_server, served):
    assistant_set(None)
    with pytest.raises(NoModelLoaded, match="no model loaded"):
        Client(live_server.url).status()


def test_it_says_when_the_model_has_no_core(live_server, served, initbot_model):
    from engine.model import Model
    from serving.holder import assistant_from_model

    nlu_only = Model(
        path=initbot_model.path,
        metadata=initbot_model.metadata,
        domain=initbot_model.domain,
        nlu=initbot_model.nlu,
        policies=None,
    )
    assistant_set(assistant_from_model(nlu_only))
    client = Client(live_server.url)
    client.send_message("nc", "/greet")
    with pytest.raises(NoCoreModel, match="no dialogue"):
        client.request_prediction("nc")


def test_it_says_when_only_a_domain_is_loaded(live_server, served):
    assistant_set(assistant_from_domain_file(BOTS / "initbot" / "domain.yml"))
    client = Client(live_server.url)
    client.send_message("d1", "hi", parse_data={"intent": {"name": "greet"}, "entities": []})
    with pytest.raises(NoModelLoaded):
        client.request_prediction("d1")
