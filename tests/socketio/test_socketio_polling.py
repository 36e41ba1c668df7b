"""The polling transport across processes: socket.io's rule is that every request of a
polling session reaches the process that holds it (sticky sessions). Two gunicorn servers
of ONE asgi worker each, behind HAProxy: with a cookie pinning each client to its server,
polling works, and a message made on the other server reaches the socket through Redis;
without it, the second request of a session lands on the other process and is refused."""

from __future__ import annotations

import shutil
import subprocess
from urllib.parse import urlparse

import pytest
import requests
import socketio
from django.db import connection

from tests.faults.conftest import free_port, wait_for
from tests.socketio.test_socketio_server import CHEER_UP, GREETING

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.slow,
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="needs PostgreSQL: two servers share the database, SQLite has one writer",
    ),
    pytest.mark.skipif(shutil.which("haproxy") is None, reason="needs haproxy"),
]

HAPROXY_CONFIG = """
defaults
    mode http
    timeout connect 5s
    timeout client 60s
    timeout server 60s
frontend sticky
    bind 127.0.0.1:{sticky}
    default_backend sticky
frontend round_robin
    bind 127.0.0.1:{round_robin}
    default_backend round_robin
backend sticky
    balance roundrobin
    cookie SERVERID insert indirect nocache
    server a {a} cookie a
    server b {b} cookie b
backend round_robin
    balance roundrobin
    server a {a}
    server b {b}
"""


@pytest.fixture
def two_servers_behind_haproxy(asgi_server, tmp_path):
    """{"a": URL, "b": URL}, and the balancer's sticky and round-robin URLs."""
    servers = {name: asgi_server(workers=1) for name in ("a", "b")}
    ports = {"sticky": free_port(), "round_robin": free_port()}
    config = tmp_path / "haproxy.cfg"
    config.write_text(
        HAPROXY_CONFIG.format(**ports, **{k: urlparse(v).netloc for k, v in servers.items()})
    )
    process = subprocess.Popen(["haproxy", "-db", "-f", str(config)])
    balancer = {name: f"http://127.0.0.1:{port}" for name, port in ports.items()}
    try:
        wait_for(lambda: _answers(balancer["sticky"]), timeout=20, what="haproxy")
        yield servers, balancer
    finally:
        process.terminate()
        process.wait(timeout=10)


def _answers(url: str) -> bool:
    try:
        return requests.get(f"{url}/version", timeout=1).ok
    except requests.RequestException:
        return False


def test_polling_through_a_sticky_balancer_converses_on_both_servers(
    two_servers_behind_haproxy, chats
):
    servers, balancer = two_servers_behind_haproxy
    pinned = set()
    for n in range(4):
        chat = chats().connect(balancer["sticky"], transport="polling")
        session_id = chat.session(f"polling-{n}")
        chat.say("hello", session_id)
        assert chat.bot(1) == [GREETING]
        server = chat.client.eio.http.cookies.get("SERVERID")
        pinned.add(server)
        # The other server makes the next messages; Redis carries them to this socket.
        other = servers["b" if server == "a" else "a"]
        answer = requests.post(
            f"{other}/conversations/{session_id}/trigger_intent?output_channel=latest",
            json={"name": "mood_unhappy"},
            timeout=30,
        )
        assert answer.status_code == 200, answer.text
        assert chat.bot(3) == CHEER_UP
    assert pinned == {"a", "b"}


def test_polling_without_sticky_sessions_is_refused_by_the_other_process(
    two_servers_behind_haproxy, chats
):
    _, balancer = two_servers_behind_haproxy
    with pytest.raises(socketio.exceptions.ConnectionError):
        chats().connect(balancer["round_robin"], transport="polling", wait_timeout=3)
