"""socket.io channel fixtures: gunicorn with the ASGI worker on the test database, Redis
as the socket.io manager, and python-socketio clients (websocket-client for websocket)."""

from __future__ import annotations

import os
import queue
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
import socketio

from tests.api.conftest import gunicorn_on_test_db  # noqa: F401 - the shared server fixture
from tests.conftest import BOTS, ROOT

REDIS_URL = os.environ.get("CONVAPI_TEST_SOCKETIO_REDIS_URL", "redis://127.0.0.1:6379/8")
WAIT_SECONDS = 20


@pytest.fixture(scope="session")
def moodbot_archive(tmp_path_factory) -> Path:
    """moodbot: a greeting with buttons, a cheer-up with an image."""
    from engine.project import load_project
    from engine.training import train

    return train(load_project(BOTS / "moodbot"), output_dir=tmp_path_factory.mktemp("mood")).path


@pytest.fixture(scope="session")
def socketio_redis_url() -> str:
    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping()
    except redis.RedisError:
        pytest.skip(f"Redis is not running at {REDIS_URL} (the socket.io manager)")
    return REDIS_URL


@pytest.fixture
def asgi_server(
    gunicorn_on_test_db,  # noqa: F811 - the fixture imported above
    moodbot_archive,
    socketio_redis_url,
) -> Callable[..., str]:
    """Start gunicorn with the asgi worker class serving moodbot; its base URL.

    Two workers sharing rooms through Redis, the project's credentials.yml (rest, and
    socketio with session persistence) unless ``credentials`` names another file.
    """

    def start(
        *, workers: int = 2, credentials: Path | None = None, env: dict[str, str] | None = None
    ) -> str:
        return gunicorn_on_test_db(
            workers=workers,
            threads=4,
            env={
                "GUNICORN_WORKER_CLASS": "asgi",
                "CONVAPI_MODEL": str(moodbot_archive),
                "CONVAPI_CREDENTIALS": str(credentials or ROOT / "credentials.yml"),
                "CONVAPI_SOCKETIO_REDIS_URL": socketio_redis_url,
                **(env or {}),
            },
        )

    return start


class Chat:
    """A python-socketio client that queues what the server emits to it."""

    def __init__(self, **client_options: Any) -> None:
        self.client = socketio.Client(reconnection=False, **client_options)
        self.received: queue.Queue[tuple[str, Any]] = queue.Queue()
        for event in ("session_confirm", "bot_uttered"):
            self.client.on(event, lambda data, event=event: self.received.put((event, data)))

    def connect(self, url: str, *, transport: str = "websocket", **options: Any) -> Chat:
        options.setdefault("wait_timeout", WAIT_SECONDS)
        self.client.connect(url, transports=[transport], **options)
        return self

    def session(self, session_id: str | None = None) -> str:
        self.client.emit("session_request", {"session_id": session_id})
        event, confirmed = self.next()
        assert event == "session_confirm"
        return confirmed

    def say(self, text: str, session_id: str | None, **extra: Any) -> None:
        self.client.emit("user_uttered", {"message": text, "session_id": session_id, **extra})

    def next(self) -> tuple[str, Any]:
        return self.received.get(timeout=WAIT_SECONDS)

    def bot(self, count: int) -> list[Any]:
        """The next ``count`` bot messages."""
        messages = [self.next() for _ in range(count)]
        assert {event for event, _ in messages} == {"bot_uttered"}, messages
        return [data for _, data in messages]

    def nothing_more(self, seconds: float = 1.5) -> bool:
        try:
            extra = self.received.get(timeout=seconds)
        except queue.Empty:
            return True
        raise AssertionError(f"unexpected: {extra}")

    def close(self) -> None:
        if self.client.transport() == "polling":
            # Sends the close packet without waiting ~30 s for the pending long poll.
            self.client.eio.disconnect(abort=True)
        else:
            self.client.disconnect()


def serving_pid(chat: Chat) -> int:
    """The process holding the server's end of ``chat``'s websocket (from Linux's /proc)."""
    client_end = chat.client.eio.ws.sock
    client_port, server_port = client_end.getsockname()[1], client_end.getpeername()[1]
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            local, remote = (int(end.rsplit(":", 1)[1], 16) for end in fields[1:3])
            if (local, remote) == (server_port, client_port):
                inodes.add(f"socket:[{fields[9]}]")
    for fds in Path("/proc").glob("[0-9]*/fd"):
        try:
            if any(os.readlink(fd) in inodes for fd in fds.iterdir()):
                return int(fds.parent.name)
        except OSError:
            continue  # a process that ended meanwhile
    raise AssertionError(f"no process holds the server end of port {client_port}")


def sockets_on_each_worker(
    make: Callable[..., Chat], base_url: str, *, workers: int, each: int
) -> list[Chat]:
    """Connect until ``each`` sockets sit on every one of the ``workers`` workers.

    The kernel hands a connection to whichever worker accepts first, so which worker a
    socket lands on is looked up, not assumed.
    """
    by_worker: dict[int, list[Chat]] = {}
    for _ in range(20 * workers * each):
        chat = make().connect(base_url)
        by_worker.setdefault(serving_pid(chat), []).append(chat)
        full = [chats[:each] for chats in by_worker.values() if len(chats) >= each]
        if len(full) == workers:
            return [chat for chats in full for chat in chats]
    raise AssertionError(f"sockets did not spread over {workers} workers: {by_worker}")


@pytest.fixture
def chats() -> Iterator[Callable[..., Chat]]:
    """Make socket.io clients; all are disconnected after the test."""
    made: list[Chat] = []

    def make(**options: Any) -> Chat:
        made.append(Chat(**options))
        return made[-1]

    yield make
    for chat in made:
        chat.close()
