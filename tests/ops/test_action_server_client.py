"""The action server client under concurrent turns: every thread calls through the one
urllib3 pool (documented as thread-safe), all calls in flight at once, each answered with
its own answer."""

from __future__ import annotations

import threading

import pytest

from engine.actions.action_server import ActionServerError, HttpActionServer
from engine.endpoints import ActionEndpoint
from tests.jobs.conftest import wait_for

HELD = "action_held"
THREADS = 8


def test_concurrent_calls_share_the_client_and_each_gets_its_answer(action_server):
    action_server.holding.add(HELD)
    client = HttpActionServer(ActionEndpoint(url=action_server.url, token="s3cret"))
    answers: dict[int, dict] = {}

    def turn(number: int) -> None:
        answers[number] = client.call({"next_action": HELD, "sender_id": f"user-{number}"})
        client.call({"next_action": "action_after", "sender_id": f"user-{number}"})

    threads = [threading.Thread(target=turn, args=(n,)) for n in range(THREADS)]
    for thread in threads:
        thread.start()
    # Every call is in flight at once before any is answered.
    wait_for(lambda: len(action_server.calls_of(HELD)) == THREADS, what="all calls in flight")
    action_server.released.set()
    for thread in threads:
        thread.join(timeout=60)
    assert answers == {n: {"events": [], "responses": []} for n in range(THREADS)}
    senders = {call.sender_id for call in action_server.calls_of("action_after")}
    assert senders == {f"user-{n}" for n in range(THREADS)}
    assert {call.token for call in action_server.calls} == {"s3cret"}


def test_the_environments_proxy_settings_are_read_once(action_server, monkeypatch):
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    monkeypatch.setenv("HTTP_PROXY", "http://proxy.invalid:3128")
    client = HttpActionServer(ActionEndpoint(url=action_server.url))
    monkeypatch.delenv("NO_PROXY")  # read at construction: a later change is not seen
    assert client.call({"next_action": "action_direct", "sender_id": "ann"}) == {
        "events": [],
        "responses": [],
    }
    assert action_server.calls_of("action_direct")[0].sender_id == "ann"


def test_a_proxy_the_environment_names_is_used(action_server, monkeypatch):
    """HTTP_PROXY without NO_PROXY: the call goes to the proxy (here: none listening)."""
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    client = HttpActionServer(ActionEndpoint(url=action_server.url))
    with pytest.raises(ActionServerError, match="cannot be reached"):
        client.call({"next_action": "action_proxied", "sender_id": "ann"})
    assert action_server.calls_of("action_proxied") == []
