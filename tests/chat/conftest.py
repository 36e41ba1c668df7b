"""Browser tests of the socket.io channel: a real server with the ASGI worker serving
moodbot (buttons and an image), headless Chromium, and a second origin for the widget."""

from __future__ import annotations

import functools
import http.server
import socket
import struct
import threading
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from django.db import connections

from tests.admin.browser import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS
from tests.api.conftest import gunicorn_on_test_db  # noqa: F401 - the shared server fixture
from tests.conftest import BOTS, ROOT

# The image moodbot's utter_cheer_up shows; the browser gets a local picture for it (no
# internet here), so the screenshots show it and nothing leaves the machine.
CHEER_UP_IMAGE = "https://i.imgur.com/iPa8HCj.jpeg"


def png(width: int, height: int, rgb: tuple[int, int, int]) -> bytes:
    """A plain PNG of one colour."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    rows = b"".join(b"\x00" + bytes(rgb) * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows))
            + chunk(b"IEND", b""))  # fmt: skip


@pytest.fixture(scope="session")
def moodbot_archive(tmp_path_factory) -> Path:
    from engine.project import load_project
    from engine.training import train

    models = tmp_path_factory.mktemp("moodbot")
    return train(load_project(BOTS / "moodbot"), output_dir=models).path


@pytest.fixture
def socketio_server(
    gunicorn_on_test_db,  # noqa: F811 - the fixture imported above
    moodbot_archive,
    collected_static,
) -> Callable[..., str]:
    """Start gunicorn with the ASGI worker (socket.io + Django) serving moodbot on the test
    database, the project's credentials.yml (rest + socketio with session persistence)."""

    def start(*, workers: int = 1, env: dict[str, str] | None = None) -> str:
        return gunicorn_on_test_db(
            workers=workers,
            env={
                "GUNICORN_WORKER_CLASS": "asgi",
                "CONVAPI_MODEL": str(moodbot_archive),
                "CONVAPI_STATIC_ROOT": str(collected_static),
                "CONVAPI_CREDENTIALS": str(ROOT / "credentials.yml"),
                "CONVAPI_CHAT_PAGE": "staff",
                **(env or {}),
            },
        )

    return start


@pytest.fixture
def browser_context(monkeypatch) -> Iterator:
    """A headless Chromium context; the bot's image URL answers with a local picture."""
    sync_api = pytest.importorskip("playwright.sync_api", reason="Playwright is not installed")
    if not CHROMIUM.exists():
        pytest.skip("Chromium is missing: apt-get install chromium")
    # Playwright's sync API runs an event loop in this thread; the ORM calls the test
    # makes between browser steps are still plain synchronous code.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    picture = png(240, 160, (65, 118, 144))
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1000, "height": 800})
        context.route(
            CHEER_UP_IMAGE, lambda route: route.fulfill(body=picture, content_type="image/png")
        )
        yield context
        browser.close()
        # ORM calls made while Playwright runs get a connection of their own context;
        # left open, it stops PostgreSQL from dropping the test database at the end.
        connections.close_all()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args) -> None:
        pass


@pytest.fixture
def other_origin(tmp_path) -> Iterator[tuple[Path, str]]:
    """A plain static web server on another port (another origin, as a customer's website
    is): the folder it serves and its base URL."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    site = tmp_path / "site"
    site.mkdir()
    handler = functools.partial(_QuietHandler, directory=str(site))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield site, f"http://127.0.0.1:{port}"
    server.shutdown()
    server.server_close()
