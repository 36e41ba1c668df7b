"""Every failure an author can meet becomes a ServerError with a sentence, never a traceback."""

from __future__ import annotations

import socket
import time

import pytest

from convapi.assistant import assistant_from_domain_file, assistant_set
from interactive.client import (
    Client,
    NoCoreModel,
    NoModelLoaded,
    NotAuthenticated,
    ServerUnavailable,
)
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


def test_it_gives_up_waiting_after_bounded_retries():
    client = Client(f"http://127.0.0.1:{_closed_port()}")
    started = time.monotonic()
    with pytest.raises(ServerUnavailable):
        client.wait_until_running(attempts=3, delay=0.05)
    assert time.monotonic() - started < 5


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
    from convapi.assistant import assistant_from_model
    from engine.model import Model

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
