"""The action server client under concurrent turns: each thread calls through a session of
its own (requests does not promise a shared session is thread-safe), all calls in flight at
once, each answered."""

from __future__ import annotations

import threading

from engine.actions.action_server import HttpActionServer
from engine.endpoints import ActionEndpoint
from tests.jobs.conftest import wait_for

HELD = "action_held"
THREADS = 8


def test_concurrent_calls_each_go_through_their_threads_own_session(action_server):
    action_server.holding.add(HELD)
    client = HttpActionServer(ActionEndpoint(url=action_server.url))
    sessions: dict[int, object] = {}
    answers: list[dict] = []

    def turn(number: int) -> None:
        answers.append(client.call({"next_action": HELD, "sender_id": f"user-{number}"}))
        sessions[number] = client.session
        # A second call of the same thread reuses its session (and its open connection).
        client.call({"next_action": "action_after", "sender_id": f"user-{number}"})
        assert client.session is sessions[number]

    threads = [threading.Thread(target=turn, args=(n,)) for n in range(THREADS)]
    for thread in threads:
        thread.start()
    # Every call is in flight at once before any is answered.
    wait_for(lambda: len(action_server.calls_of(HELD)) == THREADS, what="all calls in flight")
    action_server.released.set()
    for thread in threads:
        thread.join(timeout=60)
    assert answers == [{"events": [], "responses": []}] * THREADS
    assert len({id(session) for session in sessions.values()}) == THREADS
    senders = {call.sender_id for call in action_server.calls_of("action_after")}
    assert senders == {f"user-{n}" for n in range(THREADS)}
    assert client.session not in sessions.values()  # this thread's own, made on first use


def test_the_environments_proxy_settings_are_read_once(action_server, monkeypatch):
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    monkeypatch.setenv("HTTP_PROXY", "http://proxy.invalid:3128")
    client = HttpActionServer(ActionEndpoint(url=action_server.url))
    monkeypatch.delenv("NO_PROXY")  # read at construction: a later change is not seen
    assert client.call({"next_action": "action_direct", "sender_id": "ann"}) == {
        "events": [],
        "responses": [],
    }
    assert client.session.trust_env is False
